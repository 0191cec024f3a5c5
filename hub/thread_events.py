"""System events in a thread ("Li Na set the status to resolved"), stored by key.

An event keeps a stable catalog key and its parameters in the message's `raw`
(`raw["event"] = {"key": "event.status_changed", "params": {...}}`), so each agent's
inbox says it in that agent's language; `text` holds it in the hub's language for
API clients and search. A parameter that names a value with its own catalog entry
(`event.status.resolved`) is shown through that entry, here and in the browser alike;
one that names a record with names of its own (a team) carries them in `names`
(parameter -> language -> name), so each reader sees the name in their language, not an id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.i18n import hub_texts


@dataclass(frozen=True, slots=True)
class ThreadEvent:
    key: str
    params: dict[str, str] = field(default_factory=dict)
    names: dict[str, dict[str, str]] = field(default_factory=dict)  # parameter -> language -> name

    def text(self, locale: str) -> str:
        said = hub_texts(locale)
        shown = {}
        for name, value in self.params.items():
            value_key = f"event.{name}.{value}"
            if name in self.names:
                shown[name] = name_in(self.names[name], locale) or value
            else:
                shown[name] = said.get(value_key) if said.has(value_key) else value
        return said.get(self.key, **shown)

    def as_raw(self) -> dict[str, Any]:
        event: dict[str, Any] = {"key": self.key, "params": dict(self.params)}
        if self.names:
            event["names"] = {name: dict(labels) for name, labels in self.names.items()}
        return {"event": event}


def name_in(names: Mapping[str, str], locale: str, *, any_language: bool = True) -> str:
    """A record's name in `locale`: the same tag, else the same language, else (with
    `any_language`) English, else any; "" when none fits."""
    language = locale.replace("_", "-").split("-")[0].lower()
    near = [tag for tag in names if tag.split("-")[0].lower() == language]
    for tag in (locale.replace("_", "-"), *near, *(("en",) if any_language else ())):
        if names.get(tag):
            return names[tag]
    return next((n for n in names.values() if n), "") if any_language else ""


def event_of(raw: dict[str, Any] | None) -> ThreadEvent | None:
    """The keyed event a message's `raw` holds, or None (events stored before keys)."""
    found = (raw or {}).get("event")
    if not isinstance(found, dict) or not isinstance(found.get("key"), str):
        return None
    params = found.get("params")
    if not isinstance(params, dict):
        params = {}
    names = found.get("names")
    kept = {
        str(k): {str(lang): str(n) for lang, n in v.items()}
        for k, v in (names.items() if isinstance(names, dict) else ())
        if isinstance(v, dict)
    }
    return ThreadEvent(found["key"], {str(k): str(v) for k, v in params.items()}, kept)
