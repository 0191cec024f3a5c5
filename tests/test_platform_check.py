"""`helpline platform check` against the fake platform: a conforming platform passes, a wrong
secret or a platform that answers unsigned requests fails, a missing [platform] is exit 2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hub.cli import main
from hub.signing import BadSignature, check_signature
from tests.conftest import free_port
from tests.fake_platform import PATHS, FakePlatform
from tests.helpers import clear_proxies, serve

SECRET = "platform-secret-0123456789abcdef"


@pytest.fixture
async def platform(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakePlatform, str]]:
    clear_proxies(monkeypatch)
    fake = FakePlatform(SECRET)
    runner, url = await serve(fake.app())
    yield fake, url
    await runner.cleanup()


def hub_toml(tmp_path: Path, url: str, secret_env: str = "HELPLINE_PLATFORM_SECRET") -> Path:
    path = tmp_path / "hub.toml"
    # Another section's secret that is not set: the check reads [platform] only.
    path.write_text(
        f'[channels.webhook]\nsecret = "env:HELPLINE_UNSET_FOR_THE_CHECK"\n\n'
        f'[platform]\nbase_url = "{url}"\nsecret = "env:{secret_env}"\nallow_http = true\ntimeout_seconds = 2\n'
    )
    return path


async def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await asyncio.to_thread(main, ["platform", "check", "--config", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def check_partial(
    fake: FakePlatform,
    app: web.Application,
    lacking: set[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """The check against `app` serving every operation of `fake` but those at `lacking` paths."""
    for path in PATHS:
        if path not in lacking:
            app.router.add_post(path, fake.handle)
    runner, url = await serve(app)
    try:
        monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", SECRET)
        return await check(hub_toml(tmp_path, url), capsys)
    finally:
        await runner.cleanup()


async def test_a_conforming_platform_passes(
    platform: tuple[FakePlatform, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url = platform
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", SECRET)
    code, out = await check(hub_toml(tmp_path, url), capsys)
    assert code == 0, out
    assert "FAILED" not in out and SECRET not in out
    # two signed lookups; every operation is there (refuses a request without its fields) and refuses a wrong key
    assert out.count("ok ") == 2 + 2 * len(PATHS)
    assert "ok      dispute_decision (/v1/disputes/decisions) refuses" in out
    assert fake.refused == fake.invalid == len(PATHS)  # the probes, and no side effect carried out
    assert [operation for operation, _ in fake.calls] == ["find_user", "list_orders"]
    assert fake.resets == fake.locks == fake.refunds == fake.decisions == []


async def test_a_platform_without_the_decision_operation_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A platform team that implemented everything but the dispute decision learns it here."""
    clear_proxies(monkeypatch)
    code, out = await check_partial(
        FakePlatform(SECRET), web.Application(), {"/v1/disputes/decisions"}, tmp_path, monkeypatch, capsys
    )
    assert code == 1 and "FAILED  dispute_decision (/v1/disputes/decisions) answered 404" in out


async def test_a_wrong_secret_a_careless_or_unsigned_platform_or_none_fails_and_says_why(
    platform: tuple[FakePlatform, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake, url = platform
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", "another-secret-0123456789abcdef")
    code, out = await check(hub_toml(tmp_path, url), capsys)
    assert code == 1 and "FAILED  signed lookup" in out
    monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", SECRET)
    fake.checks_signatures = False
    code, out = await check(hub_toml(tmp_path, url), capsys)
    assert code == 1 and "must check signatures" in out
    fake.checks_signatures = True
    # an unsigned answer: the answer is not signed (not "sign the request")
    fake.fail_next["find_user"] = ["unsigned"]
    # a 404 for the orders of an unknown user: 200 with an empty list is expected
    fake.fail_next["list_orders"] = [404]
    code, out = await check(hub_toml(tmp_path, url), capsys)
    assert code == 1
    assert "FAILED  signed lookup of an unknown user: PlatformBadAnswer: the answer is not signed" in out
    assert "sign the request" not in out
    assert "200 with an empty list" in out
    # the platform down: not a word about signatures
    down = hub_toml(tmp_path, f"http://127.0.0.1:{free_port()}")
    code, out = await check(down, capsys)
    assert code == 1 and "signature" not in out
    assert "FAILED  refund (/v1/refunds): no answer (ClientConnectorError): is the platform running at" in out


async def test_without_a_platform_section_it_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nport = 8080\n")
    code, out = await check(path, capsys)
    assert code == 2 and "platform.base_url" in out


async def test_a_platform_that_checks_signatures_before_routing_shows_what_it_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the OpenAPI file says: every request's signature checked first (401 for any path,
    served or not), and only some operations implemented: the missing ones are named."""
    clear_proxies(monkeypatch)
    fake = FakePlatform(SECRET)
    lacking = {"/v1/users/lock", "/v1/users/unlock", "/v1/refunds", "/v1/orders/get"}

    @web.middleware
    async def signatures_first(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            check_signature(SECRET, request.headers, await request.read(), now=time.time(), max_skew=300)
        except BadSignature:
            return web.json_response({"error": "bad_signature"}, status=401)
        return await handler(request)

    app = web.Application(middlewares=[signatures_first])
    code, out = await check_partial(fake, app, lacking, tmp_path, monkeypatch, capsys)
    assert code == 1
    for path in PATHS:
        operation = PATHS[path]
        missing = f"FAILED  {operation} ({path}) answered 404: the operation is not implemented"
        assert (missing in out) is (path in lacking), out
        assert (f"ok      {operation} ({path}) refuses a request signed with a wrong key" in out) is (
            path not in lacking
        )
    assert fake.resets == fake.locks == fake.refunds == fake.decisions == []
    assert "sending a one-time code" in out.splitlines()[-1]
