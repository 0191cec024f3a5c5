"""What a Telegram message says, as the agents should read it: one pure function.

Every kind of message the Bot API can send becomes either stored content (its text or
caption, a readable placeholder such as ``[location 31.23, 121.47]``, the files to
keep, and the raw payload of the kind) or a service message that is acknowledged and
counted as ignored (someone joined the group, a title changed). An unknown, future kind
is stored as ``[kind]`` with its payload, so nothing a customer sends is lost or blocks
the updates behind it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.sdk import Texts, hub_texts

# Keys that describe a message rather than being its content.
META = frozenset(
    {
        "message_id",
        "message_thread_id",
        "from",
        "sender_chat",
        "sender_boost_count",
        "sender_business_bot",
        "sender_tag",
        "date",
        "business_connection_id",
        "chat",
        "forward_origin",
        "is_topic_message",
        "is_automatic_forward",
        "reply_to_message",
        "external_reply",
        "quote",
        "reply_to_story",
        "reply_to_checklist_task_id",
        "reply_to_poll_option_id",
        "via_bot",
        "edit_date",
        "has_protected_content",
        "is_from_offline",
        "is_paid_post",
        "paid_star_count",
        "media_group_id",
        "author_signature",
        "text",
        "entities",
        "caption",
        "caption_entities",
        "show_caption_above_media",
        "has_media_spoiler",
        "link_preview_options",
        "effect_id",
        "reply_markup",
        "suggested_post_info",
        "direct_messages_topic",
        "guest_query_id",
        "guest_bot_caller_user",
        "guest_bot_caller_chat",
    }
)

# Service messages: something happened in the chat, nobody wrote to support.
SERVICE = frozenset(
    {
        "new_chat_members",
        "left_chat_member",
        "new_chat_title",
        "new_chat_photo",
        "delete_chat_photo",
        "group_chat_created",
        "supergroup_chat_created",
        "channel_chat_created",
        "message_auto_delete_timer_changed",
        "migrate_to_chat_id",
        "migrate_from_chat_id",
        "pinned_message",
        "connected_website",
        "write_access_allowed",
        "proximity_alert_triggered",
        "boost_added",
        "chat_background_set",
        "checklist_tasks_added",
        "checklist_tasks_done",
        "gift",
        "unique_gift",
        "gift_upgrade_sent",
        "refunded_payment",
        "managed_bot_created",
        "poll_option_added",
        "poll_option_deleted",
        "paid_message_price_changed",
        "direct_message_price_changed",
    }
)
SERVICE_PREFIXES = (
    "forum_topic_",
    "general_forum_topic_",
    "video_chat_",
    "suggested_post_",
    "chat_owner_",
    "giveaway_",
)


@dataclass(frozen=True)
class FileWanted:
    file_id: str
    size: int  # as Telegram announced it; 0 when unknown
    name: str
    content_type: str


@dataclass(frozen=True)
class Content:
    text: str = ""
    files: list[FileWanted] = field(default_factory=list)
    kind: str = "text"
    payload: dict[str, Any] | None = None  # the kind's own data, kept on the stored message
    ignored: str = ""  # set: a service message, acknowledged and not stored


def _number(value: Any) -> str:
    return f"{round(float(value), 6):g}" if isinstance(value, int | float) else "?"


def _join(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p)


def _location(loc: dict[str, Any]) -> str:
    return f"{_number(loc.get('latitude'))}, {_number(loc.get('longitude'))}"


def _poll(poll: dict[str, Any], said: Texts) -> str:
    options = " / ".join(str(o.get("text", "")) for o in poll.get("options") or [])
    question = str(poll.get("question", ""))
    if options:
        return said.get("placeholder.poll_options", question=question, options=options)
    return said.get("placeholder.poll", question=question)


def _audio(audio: dict[str, Any], said: Texts) -> str:
    title = " – ".join(str(p) for p in (audio.get("performer"), audio.get("title")) if p)
    return said.get("placeholder.audio", title=title)


def _payment(payment: dict[str, Any], said: Texts) -> str:
    return said.get("placeholder.payment", amount=payment.get("total_amount", ""), currency=payment.get("currency", ""))


def tidy(placeholder: str) -> str:
    """A placeholder whose empty parameters leave no gaps ("[sticker ]" -> "[sticker]")."""
    return re.sub(r"\s+(?=[\])）])", "", re.sub(r" {2,}", " ", placeholder))


def _said(key: str, **fields: str) -> Callable[[dict[str, Any], Texts], str]:
    """A placeholder from the catalog key `placeholder.<key>`, each parameter read from the
    value's field of that name."""
    return lambda v, said: said.get(f"placeholder.{key}", **{p: v.get(f, "") or "" for p, f in fields.items()})


# kind -> placeholder shown to agents when the message has no text or caption of its own, in
# the hub's language (hub.po, "placeholder.*"); an empty parameter leaves no gap ("[sticker]").
PLACEHOLDERS: dict[str, Callable[[dict[str, Any], Texts], str]] = {
    "location": lambda v, said: said.get("placeholder.location", place=_location(v)),
    "venue": lambda v, said: said.get(
        "placeholder.venue", name=_join(v.get("title"), v.get("address")), place=_location(v.get("location") or {})
    ),
    "contact": lambda v, said: said.get(
        "placeholder.contact", name=_join(v.get("first_name"), v.get("last_name"), v.get("phone_number"))
    ),
    "poll": _poll,
    "dice": _said("dice", emoji="emoji", value="value"),
    "sticker": _said("sticker", emoji="emoji"),
    "video": _said("video"),
    "video_note": _said("video_note"),
    "animation": _said("animation"),
    "audio": _audio,
    "voice": _said("voice"),
    "live_photo": _said("live_photo"),
    "story": _said("story"),
    "game": _said("game", title="title"),
    "invoice": _said("invoice", title="title"),
    "successful_payment": _payment,
    "giveaway": _said("giveaway"),
    "giveaway_winners": _said("giveaway_winners"),
    "paid_media": _said("paid_media"),
    "checklist": _said("checklist", title="title"),
    "web_app_data": _said("web_app_data", button="button_text"),
    "users_shared": _said("users_shared"),
    "chat_shared": _said("chat_shared"),
    "passport_data": _said("passport_data"),
}

# kind -> (default file name, default content type) for the files kept from it
FILES: dict[str, tuple[str, str]] = {
    "document": ("document", "application/octet-stream"),
    "voice": ("voice.ogg", "audio/ogg"),
    "video": ("video.mp4", "video/mp4"),
    "video_note": ("video-message.mp4", "video/mp4"),
    "audio": ("audio.mp3", "audio/mpeg"),
    "animation": ("animation.mp4", "video/mp4"),
}


# Which kind names a message when it carries several (a venue also has a location, an
# animation also has a document, a sticker or video may come with a thumbnail).
KNOWN_ORDER = ("venue", "animation", "video_note", *PLACEHOLDERS, *FILES, "photo")


def _files(message: dict[str, Any]) -> list[FileWanted]:
    wanted: list[FileWanted] = []
    photos = [p for p in message.get("photo") or [] if isinstance(p, dict) and p.get("file_id")]
    if photos:
        best = max(photos, key=lambda p: int(p.get("width", 0)) * int(p.get("height", 0)))
        wanted.append(FileWanted(str(best["file_id"]), int(best.get("file_size") or 0), "photo.jpg", "image/jpeg"))
    for kind, (name, content_type) in FILES.items():
        item = message.get(kind)
        if kind == "document" and message.get("animation"):
            continue  # Telegram repeats an animation as a document: keep it once
        if isinstance(item, dict) and item.get("file_id"):
            wanted.append(
                FileWanted(
                    str(item["file_id"]),
                    int(item.get("file_size") or 0),
                    str(item.get("file_name") or name),
                    str(item.get("mime_type") or content_type),
                )
            )
    return wanted


def _is_service(kind: str) -> bool:
    return kind in SERVICE or kind.startswith(SERVICE_PREFIXES)


def describe(message: dict[str, Any], *, files: bool = True, said: Texts | None = None) -> Content:
    """The stored form of one message (a Bot API `Message` as a dict); placeholders in the
    language of `said` (the hub's; English when not given)."""
    own = str(message.get("text") or message.get("caption") or "")
    # PTB writes service flags it did not receive as False: only what is there counts
    kinds = [k for k, v in message.items() if k not in META and v not in (None, False, "", [], {})]
    kind = next((k for k in KNOWN_ORDER if k in kinds), "")
    if not kind:
        kind = next(iter(kinds), "")
        if not own and (not kind or _is_service(kind)):
            return Content(kind=kind or "empty", ignored=f"service/{kind or 'empty'}")
    wanted = _files(message) if files else []
    value = message.get(kind)
    if own:
        text = own
    elif kind in PLACEHOLDERS:
        text = tidy(PLACEHOLDERS[kind](value if isinstance(value, dict) else {}, said or hub_texts("en")))
    elif kind in ("photo", "document"):
        text = ""  # the attachment speaks for itself
    elif kind:
        text = f"[{kind}]"  # a kind this version does not know yet: say what it is, keep its data
    else:
        text = ""
    payload = {kind: value} if kind and kind not in FILES and kind != "photo" else None
    return Content(text=text.strip(), files=wanted, kind=kind or "text", payload=payload)
