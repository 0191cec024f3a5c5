"""`helpline platform check`: does the configured platform API speak the protocol?

For a platform team implementing docs/platform-openapi.json: the hub asks for an account
that does not exist and for its orders (answers must be signed with the shared secret and
echo the request id), then sends each documented operation (side effects included) a correctly
signed request without its required fields, which the OpenAPI file says is refused with 400
before anything is looked up or done (a missing operation answers 404, whether the platform
checks signatures or routes first), and one signed with a wrong key, which must be refused
with 401. Nothing is changed on the platform: no side effect is carried out.
"""

from __future__ import annotations

import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp

from hub.platform.client import IDEMPOTENCY_KEY, PATHS, REQUEST_ID, PlatformClient, answer_problem, check_section
from hub.platform.models import PlatformError, PlatformRefused
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
                say(f"FAILED  {what}: {exc.__class__.__name__}: {exc}{_expected(what, exc)}")
                passed = False
                continue
            say(f"ok      {what}: {'not found' if answer is None else 'answered'}, signed, for this request")
        # Every operation, side effects included, twice, neither carrying anything out: a
        # correctly signed request without its required fields (refused 400 before anything is
        # looked up or done: a path the platform lacks answers 404), and one signed with a
        # wrong key (refused 401).
        for operation, path in PATHS.items():
            outcome = await _probe(section, path, section.secret, check_answer=True)
            if not _served(operation, path, outcome, section, say):
                passed = False
                continue
            status = (await _probe(section, path, "not-the-shared-secret-" + secrets.token_hex(8))).status
            if status == 401:
                say(f"ok      {operation} ({path}) refuses a request signed with a wrong key (401)")
            else:
                say(
                    f"FAILED  {operation} ({path}) answered {status} to a request signed with a wrong key:"
                    " it must check signatures first and answer 401"
                )
                passed = False
    finally:
        await client.close()
    say(
        "Side effects (reset, lock, unlock, refund, dispute decision, sending a one-time code) are not carried"
        " out: test their Idempotency-Key handling yourself."
    )
    return passed


def _expected(what: str, exc: PlatformError) -> str:
    """What the platform should have answered, where its refusal is a common misreading."""
    if "orders" in what and isinstance(exc, PlatformRefused) and exc.status == 404:
        return " (a user with no orders, unknown ones too, gets 200 with an empty list of orders)"
    return ""


@dataclass(frozen=True)
class Probe:
    status: int | None  # None: no answer
    problem: str = ""  # why the answer does not count (no answer, unsigned, for another request)


def _served(operation: str, path: str, probe: Probe, section: PlatformSection, say: Callable[[str], None]) -> bool:
    """Whether the correctly signed probe shows the operation implemented; says why not."""
    where = f"{operation} ({path})"
    if probe.status is None:
        say(f"FAILED  {where}: {probe.problem}: is the platform running at {section.base_url}?")
    elif probe.status == 404:
        say(
            f"FAILED  {where} answered 404: the operation is not implemented (or it looks a request up"
            " before checking its fields: one without its required fields must be answered 400 invalid_request)"
        )
    elif probe.status == 401:
        say(f"FAILED  {where} refused a correctly signed request (401): does it use the same shared secret?")
    elif probe.status < 300:
        say(
            f"FAILED  {where} accepted a request without its required fields ({probe.status}):"
            " it must refuse it with 400 before carrying anything out"
        )
    elif probe.status not in (400, 422):
        say(f"FAILED  {where} answered {probe.status} to a request without its required fields (400 expected)")
    elif probe.problem:
        say(f"FAILED  {where} answered {probe.status}, but {probe.problem}")
    else:
        say(f"ok      {where} is there: refuses a request without its required fields ({probe.status})")
        return True
    return False


async def _probe(section: PlatformSection, path: str, secret: str, *, check_answer: bool = False) -> Probe:
    """POST `{}` (no operation's required fields) signed with `secret`, with a request id and an
    Idempotency-Key of its own: what the platform answered, and whether that answer is signed
    and for this request (when `check_answer`)."""
    body = b"{}"
    request_id = secrets.token_hex(12)
    headers = signed_headers(secret, body)
    headers.update({REQUEST_ID: request_id, IDEMPOTENCY_KEY: "helpline-check-" + secrets.token_hex(8)})
    url = section.base_url.rstrip("/") + path
    timeout = aiohttp.ClientTimeout(total=section.timeout_seconds)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as resp,
        ):
            status, answer, answer_headers = resp.status, await resp.read(), resp.headers
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Probe(None, f"no answer ({exc.__class__.__name__})")
    if not check_answer:
        return Probe(status)
    return Probe(status, answer_problem(section, answer_headers, answer, request_id))
