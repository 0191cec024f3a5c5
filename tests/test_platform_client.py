"""The signed platform client against the fake platform on loopback (tests/fake_platform.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from hub.config import ConfigError
from hub.platform import (
    PlatformBadAnswer,
    PlatformClient,
    PlatformRefused,
    PlatformSection,
    PlatformUnavailable,
    check_section,
)
from hub.settings import fields_of, section_of, validate_table
from tests.fake_platform import FakePlatform
from tests.helpers import clear_proxies, serve

SECRET = "platform-secret-0123456789abcdef"


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakePlatform, str]]:
    clear_proxies(monkeypatch)
    fake = FakePlatform(SECRET, timeout_seconds=1.0)
    fake.add_user("u-1", "li.na@example.com", phone="13800138000")
    fake.add_order("o-1", buyer="u-1", seller="s-9", amount="120.00")
    fake.add_order("o-2", buyer="u-2", seller="s-9")
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


def section(url: str, **overrides: Any) -> PlatformSection:
    raw = {
        "base_url": url,
        "secret": SECRET,
        "allow_http": True,
        "max_attempts": 3,
        "timeout_seconds": 0.3,
        **overrides,
    }
    return section_of(PlatformSection, validate_table("platform", raw, fields_of(PlatformSection)))


@pytest.fixture
async def client(platform: tuple[FakePlatform, str]) -> AsyncIterator[PlatformClient]:
    made = PlatformClient(section(platform[1]), sleep=no_sleep)
    yield made
    await made.close()


async def test_lookups_by_verified_identity(client: PlatformClient, platform: tuple[FakePlatform, str]) -> None:
    by_id = await client.find_user(user_id="u-1")
    by_email = await client.find_user(email="LI.NA@example.com")
    assert by_id is not None and by_email == by_id
    assert by_id.email_hint == "l***@example.com" and by_id.status == "active"
    assert await client.find_user(user_id="nobody") is None
    order = await client.get_order("o-1", user_id="u-1")
    assert order is not None and order.amount == Decimal("120.00") and order.currency == "CNY"
    assert await client.get_order("o-2", user_id="u-1") is None  # not theirs: as if unknown
    assert [o.id for o in await client.list_orders("u-1")] == ["o-1"]


async def test_requests_are_signed_and_parameters_stay_out_of_urls(
    platform: tuple[FakePlatform, str], client: PlatformClient
) -> None:
    fake, url = platform
    await client.find_user(email="li.na@example.com")
    assert fake.refused == 0 and fake.called("find_user") == [{"email": "li.na@example.com"}]
    wrong = PlatformClient(section(url, secret="another-secret-0123456789"), sleep=no_sleep)
    try:
        with pytest.raises(PlatformBadAnswer):  # refused 401, and that answer is not signed with our key either
            await wrong.find_user(user_id="u-1")
    finally:
        await wrong.close()
    assert fake.refused == 3  # every attempt refused: nothing looked up with a wrong key


@pytest.mark.parametrize("trouble", ["unsigned", "wrong_request"])
async def test_an_answer_not_signed_for_this_request_is_refused(
    client: PlatformClient, platform: tuple[FakePlatform, str], trouble: str
) -> None:
    fake, _ = platform
    fake.fail_next["find_user"] = [trouble] * 3
    with pytest.raises(PlatformBadAnswer):
        await client.find_user(user_id="u-1")
    fake.fail_next["find_user"] = [trouble]
    assert await client.find_user(user_id="u-1") is not None  # the retry got a genuine answer


@pytest.mark.parametrize(
    "odd",
    [
        {"user": {"id": 5, "status": "active"}},
        {"user": {"id": "u-1", "status": "superuser"}},
        {"user": "u-1"},
        {},
    ],
)
async def test_odd_payloads_are_refused_not_half_used(
    client: PlatformClient, platform: tuple[FakePlatform, str], odd: dict[str, Any]
) -> None:
    platform[0].fail_next["find_user"] = [odd]
    with pytest.raises(PlatformBadAnswer):
        await client.find_user(user_id="u-1")


async def test_odd_orders_are_refused(client: PlatformClient, platform: tuple[FakePlatform, str]) -> None:
    platform[0].fail_next["list_orders"] = [{"orders": [{"id": "o-1", "amount": "lots"}]}, {"orders": "o-1"}]
    for _ in range(2):
        with pytest.raises(PlatformBadAnswer):
            await client.list_orders("u-1")


async def test_5xx_and_429_are_retried_4xx_is_a_refusal(
    client: PlatformClient, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    fake.fail_next["find_user"] = [503, 429]
    assert await client.find_user(user_id="u-1") is not None
    assert len(fake.called("find_user")) == 3
    fake.fail_next["lock_account"] = [409]  # the key's first request is still being carried out
    assert (await client.lock_account("u-1", reason="theft", key="lock-1")).status == "locked"
    assert fake.locks == ["u-1"] and len(fake.called("lock_account")) == 2
    fake.fail_next["find_user"] = [502, 502, 502]
    with pytest.raises(PlatformUnavailable):
        await client.find_user(user_id="u-1")
    fake.fail_next["find_user"] = [400]
    with pytest.raises(PlatformRefused) as refused:
        await client.find_user(user_id="u-1")
    assert refused.value.status == 400 and len(fake.called("find_user")) == 7  # a 4xx is not retried


async def test_a_timed_out_refund_retried_refunds_once(
    client: PlatformClient, platform: tuple[FakePlatform, str]
) -> None:
    fake, _ = platform
    fake.fail_next["refund"] = ["timeout"]
    done = await client.execute_refund(
        "o-1", amount=Decimal("20.00"), currency="cny", decision="ticket 1042", key="k-1"
    )
    assert done.status == "refunded" and done.replayed  # the first attempt did it; its answer came too late
    again = await client.execute_refund(
        "o-1", amount=Decimal("20.00"), currency="CNY", decision="ticket 1042", key="k-1"
    )
    assert again.reference == done.reference and again.replayed
    assert len(fake.refunds) == 1 and len(fake.called("refund")) == 3
    with pytest.raises(PlatformRefused) as conflict:  # the same key for another refund
        await client.execute_refund("o-1", amount=Decimal("30.00"), currency="CNY", decision="ticket 1042", key="k-1")
    assert conflict.value.error == "idempotency_conflict" and len(fake.refunds) == 1


async def test_effects_need_a_key_and_never_log_bodies(
    client: PlatformClient, platform: tuple[FakePlatform, str], caplog: pytest.LogCaptureFixture
) -> None:
    fake, _ = platform
    with pytest.raises(ValueError):
        await client.lock_account("u-1", reason="theft", key="")
    caplog.set_level(logging.DEBUG)
    fake.fail_next["password_reset"] = [503]
    done = await client.send_password_reset("u-1", key="reset-1")
    assert done.sent_to_hint == "l***@example.com" and fake.resets == ["u-1"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "password_reset" in logged and "u-1" not in logged and "li.na" not in logged and SECRET not in logged


def test_configuration_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_SECRET", SECRET)
    read = validate_table(
        "platform", {"base_url": "https://p.example", "secret": "env:PLATFORM_SECRET"}, fields_of(PlatformSection)
    )
    assert section_of(PlatformSection, read).secret == SECRET
    check_section("platform", section_of(PlatformSection, read))
    with pytest.raises(ConfigError, match="platform.base_url"):
        check_section("platform", section_of(PlatformSection, {**read, "base_url": "http://p.example"}))
    with pytest.raises(ConfigError, match="platform.secret"):
        check_section("platform", section_of(PlatformSection, {**read, "secret": ""}))
    with pytest.raises(ConfigError, match="platform.secret"):
        validate_table("platform", {"base_url": "https://p.example", "secret": "short"}, fields_of(PlatformSection))


async def test_an_unavailable_platform_says_whether_an_effect_may_have_been_carried_out(
    client: PlatformClient, platform: tuple[FakePlatform, str]
) -> None:
    """A one-time code the platform may have texted is kept out of the store (hub/platform/
    verification.py); one that never reached it is no send to count against the hour's three."""
    from tests.conftest import free_port

    fake, _ = platform
    fake.timeout_seconds = 1.0
    fake.fail_next["send_code"] = ["timeout", 429, 429]  # the first attempt was carried out, late
    with pytest.raises(PlatformUnavailable) as late:
        await client.send_code("li.na@example.com", key="k-late")
    assert late.value.maybe_done
    fake.fail_next["send_code"] = [429, 429, 429]
    with pytest.raises(PlatformUnavailable) as busy:
        await client.send_code("li.na@example.com", key="k-busy")
    assert not busy.value.maybe_done
    closed = PlatformClient(section(f"http://127.0.0.1:{free_port()}"), sleep=no_sleep)
    try:
        with pytest.raises(PlatformUnavailable) as refused:
            await closed.send_code("li.na@example.com", key="k-refused")
        assert not refused.value.maybe_done
    finally:
        await closed.close()
