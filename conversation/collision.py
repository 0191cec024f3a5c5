"""Two agents answering one customer at once: the rule of when a reply waits for a yes.

Zendesk and Chatwoot both warn an agent whose ticket someone else answered while they wrote:
the customer would otherwise get two answers, perhaps contradicting each other. The inbox sends
the newest message the agent had seen with a reply; another agent's answer after it makes the
hub ask first (409 `replied_meanwhile`), and the agent sends theirs with `confirm` once read.
"""

from __future__ import annotations

from conversation.model import AuthorType, Direction, Message, MessageKind


def answered_by_another(message: Message, agent_id: str) -> bool:
    """Whether `message` is another agent's answer to the customer (not a note, an event or a
    bot's words, which are no second answer)."""
    return (
        message.direction is Direction.OUTBOUND
        and message.kind is MessageKind.MESSAGE
        and message.author_type is AuthorType.AGENT
        and message.author_id != agent_id
    )
