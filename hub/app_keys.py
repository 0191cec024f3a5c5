"""Typed keys for what the aiohttp application shares (no module-level singletons)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from hub.api.auth import Authenticator
    from hub.app import Hub
    from hub.services import Services

HUB: web.AppKey[Hub] = web.AppKey("hub")
AUTH: web.AppKey[Authenticator] = web.AppKey("auth")
SERVICES: web.AppKey[Services] = web.AppKey("services")
