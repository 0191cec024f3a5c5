"""System events in a thread ("Li Na set the status to resolved"), stored by key.

An event keeps a stable catalog key and its parameters in the message's `raw`
(`raw["event"] = {"key": "event.status_changed", "params": {...}}`), so each agent's
inbox says it in that agent's language; `text` holds it in the hub's language for
API clients and search. A parameter that names a value with its own catalog entry
(`event.status.resolved`) is shown through that entry, here and in the browser alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.i18n import hub_texts


@dataclass(frozen=True, slots=True)
class ThreadEvent:
    key: str
    params: dict[str, str] = field(default_factory=dict)

    def text(self, locale: str) -> str:
        said = hub_texts(locale)
        shown = {}
        for name, value in self.params.items():
            value_key = f"event.{name}.{value}"
            shown[name] = said.get(value_key) if said.has(value_key) else value
        return said.get(self.key, **shown)

    def as_raw(self) -> dict[str, Any]:
        return {"event": {"key": self.key, "params": dict(self.params)}}


def event_of(raw: dict[str, Any] | None) -> ThreadEvent | None:
    """The keyed event a message's `raw` holds, or None (events stored before keys)."""
    found = (raw or {}).get("event")
    if not isinstance(found, dict) or not isinstance(found.get("key"), str):
        return None
    params = found.get("params")
    if not isinstance(params, dict):
        params = {}
    return ThreadEvent(found["key"], {str(k): str(v) for k, v in params.items()})
