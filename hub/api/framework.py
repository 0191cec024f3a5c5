"""A small route table for the JSON API: each route declares who may call it and what it
takes, so one declaration checks the request and writes the OpenAPI document."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from conversation.errors import InvalidInput
from conversation.model import Agent, Role
from conversation.store import AlreadyExists, NotFound, StoreUnavailable
from hub.access import VIEWER, Viewer, changes_allowed
from hub.accesslog import loggable_path
from hub.actor import Actor, set_actor
from hub.app_keys import HUB
from hub.i18n_web import CHOSEN_LANGUAGE, HUB_LANGUAGE, LANG_PARAM
from hub.jsonbody import InvalidJson, read_json
from hub.schema import Obj, Ref, Schema

log = logging.getLogger(__name__)

PUBLIC, AGENT, ADMIN = "public", "agent", "admin"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        details: dict[str, Any] | None = None,  # more fields of the body, for a client to act on
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.details = details or {}


def admin_needed(request: web.Request) -> ApiError:
    """The refusal of an admin route; an admin's narrowed token is told that the token is why."""
    viewer = request.get(VIEWER)
    if viewer is not None and viewer.token_limits:
        return ApiError(
            403,
            "token_limited",
            f"this token is limited to {viewer.token_limits}; admin routes need an unrestricted admin token",
        )
    return ApiError(403, "forbidden", "this needs an admin")


def not_found(what: str = "object") -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


@dataclass
class Call:
    """One authorised, validated API request."""

    request: web.Request
    agent: Agent | None
    body: dict[str, Any]
    query: dict[str, Any]
    path: dict[str, str]
    via_session: bool = False

    @property
    def me(self) -> Agent:
        assert self.agent is not None
        return self.agent

    @property
    def viewer(self) -> Viewer:
        """The caller as the access policy sees it (hub/access.py)."""
        return self.request[VIEWER]

    @property
    def who(self) -> str:
        """How the calling agent is named in system events."""
        return self.me.name or self.me.email


Handler = Callable[[Call], Awaitable[Any]]


@dataclass
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: str
    body: Obj | None
    query: dict[str, Schema]
    response: Schema | None
    status: int
    tag: str
    personal: bool = False  # changes only the caller's own state: open to read-only accounts
    # The roles that may call it, and what the others are told (403): checked before the
    # query and body are read, so a caller without the role learns nothing of their rules.
    roles: tuple[Role, ...] = ()
    refusal: str = ""
    # query parameters beyond `query` it reads itself: those starting so ("field."), or any
    open_query: tuple[str, ...] | bool = ()

    def known_query(self) -> list[str]:
        """The parameters it reads, as a refusal names them (`field.*` for a prefix)."""
        prefixes = self.open_query if isinstance(self.open_query, tuple) else ()
        return sorted({*self.query, LANG_PARAM, *(f"{p}*" for p in prefixes)})

    def unknown_query(self, names: Iterable[str]) -> list[str]:
        """The parameters this route does not read: refused, not ignored (a trial's misspelt
        `statuss=closed` listed every ticket with 200)."""
        if self.open_query is True:
            return []
        prefixes = self.open_query if isinstance(self.open_query, tuple) else ()
        known = {*self.query, LANG_PARAM}
        return sorted(n for n in set(names) if n not in known and not (prefixes and n.startswith(prefixes)))


@dataclass
class Api:
    """Routes plus the authentication hook the hub plugs in."""

    title: str
    version: str
    routes: list[Route] = field(default_factory=list)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        auth: str = AGENT,
        body: Obj | None = None,
        query: dict[str, Schema] | None = None,
        response: Schema | None = None,
        status: int = 200,
        personal: bool = False,
        roles: tuple[Role, ...] = (),
        refusal: str = "",
        open_query: tuple[str, ...] | bool = (),
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method,
                    path,
                    handler,
                    summary,
                    auth,
                    body,
                    query or {},
                    response,
                    status,
                    tag,
                    personal=personal,
                    roles=roles,
                    refusal=refusal,
                    open_query=open_query,
                )
            )
            return handler

        return register

    def schema(self, name: str, shape: dict[str, Any]) -> Ref:
        self.schemas[name] = shape
        return Ref(name, shape)

    def mount(
        self, app: web.Application, authenticate: Callable[[web.Request, str], Awaitable[tuple[Agent | None, bool]]]
    ) -> None:
        for route in self.routes:
            app.router.add_route(route.method, route.path, self._wrap(route, authenticate))

    def _wrap(self, route: Route, authenticate: Any) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                agent, via_session = await authenticate(request, route.auth)
                if agent is not None:  # who the audit log names for what this request changes
                    set_actor(Actor(agent.id, agent.name or agent.email, "session" if via_session else "token"))
                    request[CHOSEN_LANGUAGE] = agent.language  # their errors in it (hub/i18n_web.py)
                    request[HUB_LANGUAGE] = request.config_dict[HUB].language
                if route.auth == ADMIN and (agent is None or agent.role is not Role.ADMIN):
                    raise admin_needed(request)
                if route.roles and (agent is None or agent.role not in route.roles):
                    raise ApiError(403, "forbidden", route.refusal or "your role may not do this")
                changes = request.method not in SAFE and not route.personal
                if agent is not None and changes and not changes_allowed(agent):  # read-only: whatever the route
                    raise ApiError(403, "read_only", "this account may read but not change anything")
                unknown = route.unknown_query(request.query)
                if unknown:
                    known = ", ".join(route.known_query())
                    raise ApiError(
                        422, "invalid", f"unknown query parameter(s): {', '.join(unknown)} (known: {known or 'none'})"
                    )
                query = {}
                for name, schema in route.query.items():
                    if name in request.query:
                        query[name] = schema.parse_text(request.query[name], name)
                body: dict[str, Any] = {}
                if route.body is not None:
                    body = route.body.parse(await read_json(request))
                result = await route.handler(Call(request, agent, body, query, dict(request.match_info), via_session))
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.headers, details=exc.details)
            except InvalidJson as exc:
                return error_response(400, "bad_json", str(exc))
            except InvalidInput as exc:  # a schema's ValidationError, or a domain rule the input breaks
                # A rule may name its own code and details (the fields a resolve still needs).
                details = exc.details() if hasattr(exc, "details") else {}
                return error_response(422, getattr(exc, "code", "invalid"), str(exc), details=details)
            except NotFound as exc:
                return error_response(404, "not_found", f"no such {str(exc).split(' ')[0]}")
            except AlreadyExists as exc:
                return error_response(409, "conflict", str(exc))
            except StoreUnavailable:
                return error_response(503, "unavailable", "the database is unavailable; retry", {"Retry-After": "5"})
            except web.HTTPException:
                raise
            except Exception as exc:  # a bug or a broken row: never the caller's fault, so never a 4xx
                return internal_error(request, exc)
            if isinstance(result, web.StreamResponse):
                return result
            return web.json_response(result, status=route.status, dumps=_dumps)

        return handle

    def openapi(self, prefix: str = "") -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for route in self.routes:
            operation: dict[str, Any] = {
                "summary": route.summary,
                "tags": [route.tag],
                "operationId": route.handler.__name__,
                "responses": {
                    str(route.status): {
                        "description": "OK",
                        **(
                            {"content": {"application/json": {"schema": route.response.json_schema()}}}
                            if route.response is not None
                            else {}
                        ),
                    },
                    "default": {
                        "description": "An error",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                },
            }
            if route.auth == PUBLIC:
                operation["security"] = []
            parameters = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.path)
            ]
            parameters += [
                {"name": name, "in": "query", "required": False, "schema": schema.json_schema()}
                for name, schema in route.query.items()
            ]
            if parameters:
                operation["parameters"] = parameters
            if route.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": route.body.json_schema()}},
                }
            paths.setdefault(prefix + route.path, {})[route.method.lower()] = operation
        return {
            "openapi": "3.0.3",
            "info": {"title": self.title, "version": self.version},
            "paths": paths,
            "components": {
                "schemas": {
                    "Error": {
                        "type": "object",
                        "properties": {
                            "error": {"type": "string"},
                            "message": {"type": "string"},
                            "id": {"type": "string", "description": "an internal error's id, as logged"},
                        },
                        "required": ["error", "message"],
                    },
                    **self.schemas,
                },
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "description": "a personal API token"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "helpline_session"},
                },
            },
            "security": [{"bearer": []}, {"session": []}],
        }


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    details: dict[str, Any] | None = None,
) -> web.Response:
    body = {**(details or {}), "error": code, "message": message}
    return web.json_response(body, status=status, headers=headers)


def internal_error(request: web.BaseRequest, exc: BaseException) -> web.Response:
    """Log the exception under a fresh id and answer 500 with that id only.

    The id lets an operator find the traceback from what a user reports; the body says
    nothing else, so no internal detail reaches the caller.
    """
    error_id = secrets.token_hex(6)
    # The path as the access log writes it: a status page's signed token never reaches the log.
    log.error("internal error %s on %s %s", error_id, request.method, loggable_path(request), exc_info=exc)
    return web.json_response(
        {"error": "internal", "id": error_id, "message": f"an internal error occurred (id {error_id})"}, status=500
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
