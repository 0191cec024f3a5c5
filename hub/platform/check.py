"""`helpline platform check`: does the configured platform API speak the protocol?

For a platform team implementing docs/platform-openapi.json: the hub asks for an account
that does not exist and for its orders (answers must be signed with the shared secret and
echo the request id), then sends each documented operation (side effects included) a request
signed with a wrong key, which must be refused with 401: a missing operation answers 404.
Nothing is changed on the platform: no side effect is carried out.
"""

from __future__ import annotations

import json
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import aiohttp

from hub.platform.client import PATHS, PlatformClient, check_section
from hub.platform.models import PlatformError
from hub.platform.settings import PlatformSection
from hub.settings import ConfigError, fields_of, section_of, validate_table
from hub.signing import signed_headers


def platform_section(path: Path) -> PlatformSection:
    """Only hub.toml's [platform] table (its secret read as usual), so the check needs no
    other secret to be set. ConfigError when it is missing or wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    table = raw.get("platform")
    if not isinstance(table, dict) or not table.get("base_url"):
        raise ConfigError("platform.base_url: set it to check the platform API")
    section = section_of(PlatformSection, validate_table("platform", table, fields_of(PlatformSection)))
    check_section("platform", section)
    return section


async def check_platform(section: PlatformSection, say: Callable[[str], None]) -> bool:
    """Run the checks, telling each outcome; True when all passed."""
    client = PlatformClient(replace(section, max_attempts=1))
    nobody = f"helpline-check-{secrets.token_hex(6)}"
    passed = True
    try:
        for what, call in (
            ("signed lookup of an unknown user", lambda: client.find_user(user_id=nobody)),
            ("signed list of that user's orders", lambda: client.list_orders(nobody, limit=1)),
        ):
            try:
                answer = await call()
            except PlatformError as exc:
                say(f"FAILED  {what}: {exc.__class__.__name__}: {exc}")
                passed = False
                continue
            say(f"ok      {what}: {'not found' if answer is None else 'answered'}, signed, for this request")
        # Every operation, side effects included: a wrong key is refused before anything is
        # done, so this calls no effect, and a path the platform lacks shows up (404).
        for operation, path in PATHS.items():
            status = await _wrongly_signed(section, nobody, path)
            if status == 401:
                say(f"ok      {operation} ({path}) refuses a request signed with a wrong key (401)")
            elif status == 404:
                say(f"FAILED  {operation} ({path}) answered 404: the operation is not implemented")
                passed = False
            else:
                say(f"FAILED  {operation} ({path}) answered {status} to a wrong key: it must check signatures")
                passed = False
    finally:
        await client.close()
    say(
        "Side effects (reset, lock, unlock, refund, dispute decision) are not carried out:"
        " test their Idempotency-Key handling yourself."
    )
    return passed


async def _wrongly_signed(section: PlatformSection, nobody: str, path: str) -> int | str:
    body = json.dumps({"user_id": nobody}).encode()
    headers = signed_headers("not-the-shared-secret-" + secrets.token_hex(8), body)
    headers["X-Request-Id"] = secrets.token_hex(12)
    url = section.base_url.rstrip("/") + path
    timeout = aiohttp.ClientTimeout(total=section.timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as resp,
        ):
            return resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"no answer ({exc.__class__.__name__})"
