"""The platform integration: one signed API of the platform's own backend (README "The
platform integration", docs/platform-openapi.json). Plugins reach it as `ctx.platform`
(hub.sdk re-exports the types); the hub holds one PlatformClient."""

from hub.platform.client import PlatformClient, check_section
from hub.platform.models import (
    DecisionNotice,
    Done,
    NotVerified,
    Order,
    PlatformBadAnswer,
    PlatformError,
    PlatformNotConfigured,
    PlatformRefused,
    PlatformUnavailable,
    PlatformUser,
)
from hub.platform.settings import PlatformSection
from hub.platform.tools import PLATFORM_TIMER, PlatformTools, idempotency_key

__all__ = [
    "PLATFORM_TIMER",
    "DecisionNotice",
    "Done",
    "NotVerified",
    "Order",
    "PlatformBadAnswer",
    "PlatformClient",
    "PlatformError",
    "PlatformNotConfigured",
    "PlatformRefused",
    "PlatformSection",
    "PlatformTools",
    "PlatformUnavailable",
    "PlatformUser",
    "check_section",
    "idempotency_key",
]
