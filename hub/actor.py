"""Who is acting now: set once where a request is authenticated (or a CLI command starts),
read by the services when they write the audit log. A context variable, so each request
(its own task) has its own, and work the hub does by itself has none."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    id: str  # the agent's id; "" for the command line
    name: str  # their name or email, as the audit log shows it
    via: str  # "session", "token" or "cli"


ACTOR: ContextVar[Actor | None] = ContextVar("helpline_actor", default=None)


def current_actor() -> Actor | None:
    return ACTOR.get()


def set_actor(actor: Actor | None) -> None:
    """For the rest of this request (its task's context)."""
    ACTOR.set(actor)


@contextlib.contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = ACTOR.set(actor)
    try:
        yield
    finally:
        ACTOR.reset(token)
