"""[platform]: the platform's own backend API that service plugins call (README "The platform integration")."""

from __future__ import annotations

from dataclasses import dataclass

from hub.settings import MIN_GENERATED_SECRET, setting


@dataclass(frozen=True, slots=True)
class PlatformSection:
    """One platform API: where it is, the HMAC key both directions are signed with, and how
    patient the hub is with it. An empty base_url turns the integration off."""

    base_url: str = setting(str, "", "the platform API's base URL (https://...); empty: no platform integration")
    secret: str = setting(
        str, "", "HMAC key signing requests and answers (or env:NAME)", secret=True, min_length=MIN_GENERATED_SECRET
    )
    timeout_seconds: float = setting(float, 10.0, "one attempt's time limit", minimum=0.1)
    max_attempts: int = setting(int, 3, "attempts of one call before it counts as failed now", minimum=1)
    base_delay_seconds: float = setting(float, 0.5, "first retry delay; doubles each attempt", minimum=0)
    max_delay_seconds: float = setting(float, 5.0, "longest delay between attempts of one call", minimum=0)
    max_skew_seconds: float = setting(float, 300.0, "a signed answer's timestamp must be this close to now", minimum=1)
    allow_http: bool = setting(bool, False, "allow an http:// base_url (only for a platform on your own network)")
    code_attempts: int = setting(int, 3, "typed one-time codes one check allows before a new code is needed", minimum=1)
    code_minutes: float = setting(float, 10.0, "minutes a one-time code may be typed after it was sent", minimum=1)
    verified_hours: float = setting(
        float, 24.0, "hours a right one-time code keeps the chat identity verified", minimum=0.1
    )

    @property
    def enabled(self) -> bool:
        return bool(self.base_url)
