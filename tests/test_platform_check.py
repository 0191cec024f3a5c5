"""`helpline platform check` against the fake platform: a conforming platform passes, a wrong
secret or a platform that answers unsigned requests fails, a missing [platform] is exit 2."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from hub.cli import main
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
    assert out.count("ok ") == 2 + len(PATHS)  # two signed lookups; every operation refuses a wrong key
    assert "ok      dispute_decision (/v1/disputes/decisions) refuses" in out
    assert fake.refused == len(PATHS)  # the wrongly signed probes, and no side effect carried out
    assert fake.resets == fake.locks == fake.refunds == fake.decisions == []


async def test_a_platform_without_the_decision_operation_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A platform team that implemented everything but the dispute decision learns it here."""
    clear_proxies(monkeypatch)
    fake = FakePlatform(SECRET)
    app = web.Application()
    for path in PATHS:
        if path != "/v1/disputes/decisions":
            app.router.add_post(path, fake.handle)
    runner, url = await serve(app)
    try:
        monkeypatch.setenv("HELPLINE_PLATFORM_SECRET", SECRET)
        code, out = await check(hub_toml(tmp_path, url), capsys)
    finally:
        await runner.cleanup()
    assert code == 1 and "FAILED  dispute_decision (/v1/disputes/decisions) answered 404" in out


async def test_a_wrong_secret_or_a_platform_that_answers_anyone_fails(
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


async def test_without_a_platform_section_it_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hub.toml"
    path.write_text("[hub]\nport = 8080\n")
    code, out = await check(path, capsys)
    assert code == 2 and "platform.base_url" in out
