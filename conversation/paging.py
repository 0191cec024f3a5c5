"""Backup paging (备班): when a team's queue calls for backup, the page log, and how a page
reaches the agent (never the customer). Pure decisions shared by every hub process."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from conversation.codec import from_iso_text, to_iso_text
from conversation.model import Contact, Conversation, Message, MessageKind

PAGE_CHANNEL_KINDS = ("email", "slack", "telegram")  # the channel types a page may go out on


@dataclass(frozen=True)
class Queue:
    """A team's waiting tickets: open, unassigned."""

    depth: int
    oldest_since: datetime | None


@dataclass(frozen=True)
class PageReason:
    """Why backup was paged: a code (queue, wait, sla, ...) and its figures, for the catalogs."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)


def page_reason(queue: Queue, now: datetime, *, threshold: int, max_wait: timedelta) -> PageReason | None:
    """Why backup should be called in now (None when not): a long queue or a long wait."""
    if queue.depth > threshold:
        return PageReason("queue", {"depth": str(queue.depth), "threshold": str(threshold)})
    if queue.oldest_since is not None and now - queue.oldest_since > max_wait:
        waited = int((now - queue.oldest_since).total_seconds() // 60)
        return PageReason("wait", {"minutes": str(waited), "limit": f"{max_wait.total_seconds() / 60:g}"})
    return None


def backups_to_page(on_duty: Sequence[str], paged: Collection[str], owner: str = "") -> tuple[list[str], bool]:
    """Who of the backup staff on duty to page now: those not paged yet, except the agent
    who already has the ticket (paging someone about their own ticket calls in nobody new);
    and whether that agent was left out for it (the thread says so)."""
    fresh = [agent for agent in on_duty if agent not in paged]
    return [agent for agent in fresh if agent != owner], bool(owner) and owner in fresh


def page_id(key: str) -> str:
    """The id of a page made as an effect a retry may repeat: the same key, the same page
    (logged once); 24 hex digits like other ids."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def release_backup(queue: Queue) -> bool:
    """Paged-in backup staff go back to standby once nothing waits."""
    return queue.depth == 0


# -- coalescing pages to one person ----------------------------------------------------------------
def page_held(last_sent: datetime | None, now: datetime, window: timedelta) -> bool:
    """Whether a page to a person is held for their digest: they were sent one less than
    `window` ago (a zero window never holds)."""
    return last_sent is not None and window > timedelta(0) and now - last_sent < window


@dataclass(frozen=True)
class PageDigest:
    """A person's pages held since their last page mail, sent together when the window ends."""

    last_sent: datetime | None = None
    held: tuple[Mapping[str, Any], ...] = ()  # each: key, conversation_id, text, texts (by language)
    where: tuple[str, str] = ("", "")  # the page channel and address
    language: str = ""
    # Taken for a digest mail that may not be queued yet (its hub may have died between):
    # whoever reads it queues it again under the same key (once), then lets it go.
    sending: tuple[Mapping[str, Any], ...] = ()

    def hold(
        self, key: str, conversation_id: str, texts: Mapping[str, str], where: tuple[str, str], language: str
    ) -> PageDigest:
        """With one more page held (a page a retry repeats, by its key, is held once); `texts`:
        the page by language, the paged person's `language` among them."""
        if any(item["key"] == key for item in self.held):
            return self
        item = {"key": key, "conversation_id": conversation_id, "text": texts[language], "texts": dict(texts)}
        return replace(self, held=(*self.held, item), where=where, language=language)

    def lines(self, locale: str) -> list[str]:
        """The pages being sent, each in `locale` when it was kept in it (pages held before
        texts by language were kept have the paged person's only)."""
        return [str((item.get("texts") or {}).get(locale) or item["text"]) for item in self.sending]

    def take(self, now: datetime) -> PageDigest:
        """The held pages taken for one digest mail, sent `now`."""
        return replace(self, held=(), sending=self.held, last_sent=now)

    def to_json(self) -> dict[str, Any]:
        return {
            "last_sent": to_iso_text(self.last_sent),
            "held": [dict(item) for item in self.held],
            "where": list(self.where),
            "language": self.language,
            "sending": [dict(item) for item in self.sending],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any] | None) -> PageDigest:
        if not doc:
            return cls()
        where = doc.get("where") or ("", "")
        return cls(
            last_sent=from_iso_text(doc.get("last_sent")),
            held=tuple(dict(item) for item in doc.get("held") or ()),
            where=(str(where[0]), str(where[1])),
            language=str(doc.get("language") or ""),
            sending=tuple(dict(item) for item in doc.get("sending") or ()),
        )


# -- the page log ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    """One backup agent called in: why, how they were reached, and when they were released."""

    id: str
    team: str
    agent_id: str
    reason: str  # PageReason.code
    params: Mapping[str, str]
    at: datetime
    channel: str = ""  # where the page went ("" the agent has no page channel: logged only)
    conversation_id: str = ""  # the ticket the page names (the oldest waiting, or the one at risk)
    released_at: datetime | None = None


def page_to_doc(page: Page) -> dict[str, Any]:
    """Times as ISO text in UTC: the same sortable form in both backends."""
    return {
        "id": page.id,
        "team": page.team,
        "agent_id": page.agent_id,
        "reason": page.reason,
        "params": dict(page.params),
        "at": page.at.isoformat(),
        "channel": page.channel,
        "conversation_id": page.conversation_id,
        "released_at": to_iso_text(page.released_at),
    }


def page_from_doc(doc: Mapping[str, Any]) -> Page:
    return Page(
        id=str(doc["id"]),
        team=str(doc["team"]),
        agent_id=str(doc["agent_id"]),
        reason=str(doc["reason"]),
        params=dict(doc.get("params") or {}),
        at=datetime.fromisoformat(doc["at"]),
        channel=doc.get("channel", ""),
        conversation_id=doc.get("conversation_id", ""),
        released_at=from_iso_text(doc.get("released_at")),
    )


def page_recipient(conversation: Conversation, message: Message) -> tuple[Conversation, Contact] | None:
    """For a backup page (a note on a ticket, addressed to an agent): the ticket and person
    the channel sees, so it goes to the agent's own chat or mailbox and never to the
    customer, their thread or the people on it. None for any other message."""
    page = (message.raw or {}).get("page")
    if not isinstance(page, dict) or message.kind is not MessageKind.NOTE or not message.customer_address:
        return None
    address = message.customer_address
    view = replace(
        conversation,
        channel=message.channel,
        thread_key=f"chat:{address}",  # Telegram's chat, Slack's DM channel (its second part), mail ignores it
        participants=[],
        customer_address=address,
    )
    return view, Contact(id=str(page.get("agent_id", "")), email=address if "@" in address else "")
