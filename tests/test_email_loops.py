"""The loop budget's rounds (adapters/email/loops.py): replies to a person's mail share one
slot; replies after automatic mail (an auto-responder) pay one each, so a loop still stops."""

from __future__ import annotations

from datetime import timedelta

from adapters.email.loops import budget_round
from conversation.model import AuthorType, Direction, Message, MessageKind, utcnow

START = utcnow()


def mail(mid: str, minute: int, *, inbound: bool, automatic: bool = False) -> Message:
    return Message(
        id=mid,
        conversation_id="c",
        channel="email",
        direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
        kind=MessageKind.MESSAGE,
        author_type=AuthorType.CONTACT if inbound else AuthorType.BOT,
        created_at=START + timedelta(minutes=minute),
        automatic=automatic,
    )


def test_bot_replies_to_one_customer_mail_are_one_round() -> None:
    thread = [mail("in1", 0, inbound=True), mail("warn", 1, inbound=False), mail("ask", 2, inbound=False)]
    thread += [mail("in2", 3, inbound=True), mail("locked", 4, inbound=False)]
    rounds = [budget_round(thread, m) for m in thread if m.direction is Direction.OUTBOUND]
    assert rounds == ["in1", "in1", "in2"]


def test_bot_replies_to_an_auto_responder_pay_one_each() -> None:
    thread = [mail("in1", 0, inbound=True), mail("r1", 1, inbound=False)]
    thread += [mail("ooo1", 2, inbound=True, automatic=True), mail("r2", 3, inbound=False)]
    thread += [mail("r3", 4, inbound=False)]
    rounds = [budget_round(thread, m) for m in thread if m.direction is Direction.OUTBOUND]
    assert rounds == ["in1", "r2", "r3"]


def test_a_bot_mail_nothing_prompted_pays_its_own_slot() -> None:
    notice = mail("notice", 1, inbound=False)
    assert budget_round([notice], notice) == "notice"
