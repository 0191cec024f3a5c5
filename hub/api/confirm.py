"""Merging or moving messages between two customers' tickets needs the agent to confirm.

Each customer keeps seeing only the messages written by or to them (see
conversation/identity.py), but agents should know before they mix two people's
conversations, and scripts must say so explicitly: without `confirm: true` the API
answers 409 `confirm_needed` with what will happen, and the inbox asks with that text.
"""

from __future__ import annotations

from conversation.model import Conversation
from conversation.store import Store
from hub.api.framework import ApiError


async def require_confirmation(
    store: Store, source: Conversation, target: Conversation, *, moving_one: bool, confirmed: bool
) -> None:
    """Raise 409 when source and target belong to different contacts and it was not confirmed."""
    if confirmed or source.contact_id == target.contact_id:
        return
    labels = await store.contacts.contact_labels([source.contact_id, target.contact_id])
    raise ApiError(
        409,
        "confirm_needed",
        across_customers(
            source.number,
            labels.get(source.contact_id) or "another customer",
            target.number,
            labels.get(target.contact_id) or "another customer",
            moving_one=moving_one,
        ),
    )


def across_customers(
    source_number: int, source_who: str, target_number: int, target_who: str, *, moving_one: bool
) -> str:
    """What merging or moving across customers does, in the words the agent confirms."""
    if moving_one:
        return (
            f"This message is in #{source_number} of {source_who}; #{target_number} belongs to {target_who}. "
            f"After the move agents see it in #{target_number}; {target_who} will not see it (customers only see "
            f"messages written by or to them), and replies in #{target_number} go to {target_who} only. "
            "Send confirm: true to move it."
        )
    return (
        f"#{source_number} belongs to {source_who}, #{target_number} to {target_who}. After merging, agents see "
        f"both conversations in #{target_number}; each customer still sees only the messages written by or to "
        f"them, and replies in #{target_number} go to {target_who} only. Send confirm: true to merge."
    )
