"""The one way an action reaches the audit log. Services call `record` at the point where
they store a change; the actor is the one the request (or CLI command) set in hub.actor.

Changes the hub makes by itself (plugins, snooze wake-ups, ingest) have no actor and are
not audited: their trace is the ticket's thread. Secrets never reach an entry
(conversation.audit.plain drops them by key); callers also leave them out.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from conversation.audit import AuditEntry, changed_fields
from conversation.model import new_id, utcnow
from conversation.store import Store, StoreUnavailable
from hub.actor import Actor, current_actor

log = logging.getLogger(__name__)


async def record(
    store: Store,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    actor: Actor | None = None,
) -> AuditEntry | None:
    """Append one entry with only the fields that differ; None when nobody is acting."""
    who = actor or current_actor()
    if who is None:
        return None
    old, new = changed_fields(before or {}, after or {})
    if (before or after) and not (old or new):
        return None  # nothing changed (a status set to what it was): not an action worth a line
    entry = AuditEntry(
        id=new_id(),
        at=at or utcnow(),
        actor_id=who.id,
        actor_name=who.name,
        via=who.via,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=old,
        after=new,
    )
    try:
        await store.audit.append(entry)
    except StoreUnavailable as exc:
        # The change itself is stored: failing the request now would invite a retry that
        # repeats it. The operator sees the gap in the log.
        log.error("audit: could not record %s on %s %s by %s (%s)", action, target_type, target_id, who.id, exc)
        return None
    return entry
