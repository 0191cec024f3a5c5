"""A ticket's row in the agents' list: the message previewed and the customer's wait."""

from __future__ import annotations

from datetime import timedelta

from conversation.inbox_rows import AWAITS_ANSWER, previewed, waiting_since
from conversation.model import (
    AuthorType,
    Choice,
    Conversation,
    Direction,
    Message,
    MessageKind,
    Status,
    utcnow,
)

NOW = utcnow()


def said(text: str, author: AuthorType, kind: MessageKind = MessageKind.MESSAGE, minutes: int = 0) -> Message:
    direction = Direction.INBOUND if author is AuthorType.CONTACT else Direction.OUTBOUND
    return Message(
        id=text,
        conversation_id="c",
        channel="webchat",
        direction=direction,
        text=text,
        kind=kind,
        author_type=author,
        created_at=NOW + timedelta(minutes=minutes),
    )


def ticket(**changes: object) -> Conversation:
    values = {"status": Status.OPEN, "last_inbound_at": NOW, **changes}
    return Conversation(id="c", number=1000, channel="webchat", thread_key="t", contact_id="p", **values)  # type: ignore[arg-type]


QUESTION = said("退款三天还没到账", AuthorType.CONTACT)
GUESSES = said("FAQ bot: best guesses ...", AuthorType.BOT, MessageKind.NOTE, 1)
PASSED_ON = said("已为您转接人工客服", AuthorType.BOT, minutes=1)


def test_a_handed_off_ticket_previews_the_customers_question_and_waits() -> None:
    """A trial: the row of every ticket the FAQ bot handed on showed the bot's note."""
    newest = [PASSED_ON, GUESSES, QUESTION]
    assert previewed(newest) is QUESTION
    handed = ticket(handed_off_at=NOW)
    assert waiting_since(handed, newest) == NOW  # "passing you on" answers nothing


def test_a_bots_open_question_or_an_agents_reply_ends_the_wait_and_a_note_does_not() -> None:
    asked = said("Did this answer your question?", AuthorType.BOT, minutes=1)
    asked.choices = [Choice("faq:yes", "Yes"), Choice("faq:no", "No")]
    assert waiting_since(ticket(), [asked, QUESTION]) is None  # the bot waits for the customer
    assert previewed([asked, QUESTION]) is QUESTION
    assert waiting_since(ticket(handed_off_at=NOW), [asked, QUESTION]) == NOW
    # an acknowledgement answers nothing: a complaint or a dispute is a person's work (a trial)
    filed = said("Your complaint C-1016 is with our supervisors", AuthorType.BOT, minutes=1)
    assert waiting_since(ticket(), [filed, QUESTION]) == NOW
    reply = said("已退款", AuthorType.AGENT, minutes=2)
    assert waiting_since(ticket(handed_off_at=NOW), [reply, PASSED_ON, QUESTION]) is None
    assert previewed([reply, PASSED_ON, QUESTION]) is reply
    note = said("internal: check the bank", AuthorType.AGENT, MessageKind.NOTE, 2)
    assert waiting_since(ticket(), [note, QUESTION]) == NOW and previewed([note, QUESTION]) is note
    assert waiting_since(ticket(status=Status.PENDING), [QUESTION]) is None
    assert previewed([PASSED_ON]) is PASSED_ON and previewed([]) is None  # nobody's words: the bot's


def test_a_bots_request_for_words_waits_for_the_customer_as_choices_do() -> None:
    """A dispute's "tell us what happened" showed the buyer's ticket waiting for a person (a trial)."""
    asked = said("Please tell us what happened, in one message.", AuthorType.BOT, minutes=1)
    assert waiting_since(ticket(), [asked, QUESTION]) == NOW  # a bot's words answer nothing...
    asked.raw = {AWAITS_ANSWER: True}
    assert waiting_since(ticket(), [asked, QUESTION]) is None  # ...but a question for the customer waits on them
    assert waiting_since(ticket(handed_off_at=NOW), [asked, QUESTION]) == NOW  # a person was asked for: waits
    answered = said("It never came", AuthorType.CONTACT, minutes=2)
    assert (
        waiting_since(ticket(last_inbound_at=answered.created_at), [answered, asked, QUESTION]) == answered.created_at
    )
