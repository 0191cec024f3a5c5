"""The dispute rules (conversation/disputes.py): states, deadlines, platform rules, decisions, appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from conversation import disputes as d
from conversation.errors import InvalidInput

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def facts(**changes: object) -> d.Facts:
    base = {
        "reason": "not_received",
        "amount": Decimal("199.00"),
        "currency": "CNY",
        "days_since_order": 9,
        "has_tracking": False,
        "seller_answered": False,
    }
    return d.Facts(**{**base, **changes})  # type: ignore[arg-type]


def test_moves_follow_the_table_and_a_refused_one_names_the_allowed() -> None:
    assert d.check_move("opened", "awaiting_seller") is d.Status.AWAITING_SELLER
    assert d.check_move("under_review", "decided") is d.Status.DECIDED
    assert d.check_move("decided", "appealed") is d.Status.APPEALED
    with pytest.raises(InvalidInput, match="allowed: appealed, closed"):
        d.check_move("decided", "awaiting_seller")
    with pytest.raises(InvalidInput, match="the case is closed"):
        d.check_move("closed", "opened")
    with pytest.raises(InvalidInput, match="status must be one of"):
        d.check_move("opened", "won")


def test_every_state_is_reachable_from_opened() -> None:
    seen, todo = {d.Status.OPENED}, [d.Status.OPENED]
    while todo:
        for nxt in d.NEXT[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(d.Status)


def test_deadline_reminders_are_the_ones_still_ahead() -> None:
    deadline = d.respond_by(NOW, 3)
    assert deadline == NOW + timedelta(days=3)
    assert d.reminders(NOW, deadline, (24, 2, 100)) == [deadline - timedelta(hours=24), deadline - timedelta(hours=2)]
    assert d.reminders(deadline - timedelta(hours=3), deadline, (24, 2)) == [deadline - timedelta(hours=2)]
    with pytest.raises(ValueError):
        d.respond_by(NOW.replace(tzinfo=None), 1)


def test_a_missed_deadline_moves_a_waiting_case_to_review_and_nothing_else() -> None:
    assert d.missed(NOW, NOW) and not d.missed(NOW, NOW - timedelta(seconds=1)) and not d.missed(None, NOW)
    assert d.after_missed_deadline("awaiting_seller") is d.Status.UNDER_REVIEW
    assert d.after_missed_deadline("awaiting_buyer") is d.Status.UNDER_REVIEW
    assert d.after_missed_deadline("under_review") is None  # answered in time: the deadline changes nothing
    assert d.after_missed_deadline("decided") is None
    assert d.waited_party("awaiting_seller") == "seller" and d.waited_party("decided") == ""


def test_the_first_matching_rule_proposes_and_is_named() -> None:
    rules = [
        d.Rule.from_table(
            {
                "name": "no tracking after 7 days",
                "reason": "not_received",
                "no_tracking": True,
                "min_days": 7,
                "propose": "refund_buyer",
            },
            "plugins.disputes.rules[0]",
        ),
        d.Rule.from_table({"reason": "not_received", "propose": "favour_seller"}, "plugins.disputes.rules[1]"),
    ]
    assert d.propose(rules, facts()) == d.Proposal(d.Outcome.REFUND_BUYER, "no tracking after 7 days")
    assert d.propose(rules, facts(days_since_order=6)) == d.Proposal(
        d.Outcome.FAVOUR_SELLER, "favour_seller: not_received"
    )
    assert d.propose(rules, facts(has_tracking=True)).rule == "favour_seller: not_received"  # type: ignore[union-attr]
    assert d.propose(rules, facts(reason="other")) is None


def test_rule_conditions_on_silence_and_amount() -> None:
    rule = d.Rule.from_table({"seller_silent": True, "max_amount": "500", "propose": "refund_buyer"}, "r")
    assert rule.matches(facts(reason="not_as_described"))
    assert not rule.matches(facts(seller_answered=True))
    assert not rule.matches(facts(amount=Decimal("500.01")))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"propose": "win"}, r"r\.propose: must be one of"),
        ({"propose": "refund_buyer", "reason": "lost"}, r"r\.reason: must be one of"),
        ({"propose": "refund_buyer", "no_tracking": "yes"}, r"r\.no_tracking: expected true or false"),
        ({"propose": "refund_buyer", "min_days": -1}, r"r\.min_days"),
        ({"propose": "refund_buyer", "max_amount": 12.5}, r"r\.max_amount: amount must be a decimal string"),
        ({"propose": "refund_buyer", "days": 7}, r"r: unknown key 'days'"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        d.Rule.from_table(table, "r")


def test_amounts_are_exact_decimal_strings() -> None:
    assert d.amount("199.00") == Decimal("199.00")
    for bad in (199.0, "1e3", "-5", "", "12.34567"):
        with pytest.raises(InvalidInput):
            d.amount(bad)
    assert d.currency("CNY") == "CNY"
    with pytest.raises(InvalidInput):
        d.currency("cny")


def test_above_the_limit_only_a_supervisor_decides() -> None:
    limits = d.supervisor_limits({"CNY": "1000"}, "plugins.disputes.supervisor_above")
    common = {
        "status": "under_review",
        "outcome": "refund_buyer",
        "grounds": "no tracking",
        "case_currency": "CNY",
        "refund": None,
        "limits": limits,
    }
    assert d.check_decision(case_amount=Decimal("1000"), supervisor=False, **common).refund == Decimal("1000")
    with pytest.raises(PermissionError, match="supervisor"):
        d.check_decision(case_amount=Decimal("1000.01"), supervisor=False, **common)
    assert d.check_decision(case_amount=Decimal("1000.01"), supervisor=True, **common).outcome is d.Outcome.REFUND_BUYER
    assert not d.needs_supervisor(Decimal("99999"), "USD", limits)  # no limit for that currency
    with pytest.raises(ValueError, match=r"supervisor_above\.cny"):
        d.supervisor_limits({"cny": "1"}, "plugins.disputes.supervisor_above")


def test_a_decision_needs_grounds_a_decidable_case_and_a_sane_refund() -> None:
    common = {"case_amount": Decimal("100"), "case_currency": "CNY", "supervisor": False, "limits": {}}
    with pytest.raises(InvalidInput, match="grounds"):
        d.check_decision(status="under_review", outcome="refund_buyer", grounds="  ", refund=None, **common)
    with pytest.raises(InvalidInput, match="cannot be decided"):
        d.check_decision(status="closed", outcome="refund_buyer", grounds="x", refund=None, **common)
    with pytest.raises(InvalidInput, match="partial refund"):
        d.check_decision(status="under_review", outcome="partial_refund", grounds="x", refund="100", **common)
    partial = d.check_decision(status="appealed", outcome="partial_refund", grounds="x", refund="40", **common)
    assert partial.refund == Decimal("40")
    assert (
        d.check_decision(status="under_review", outcome="favour_seller", grounds="x", refund=None, **common).refund == 0
    )


def test_one_appeal_within_the_window() -> None:
    assert d.may_appeal("decided", NOW, NOW + timedelta(days=2), 3, appealed=False)
    assert not d.may_appeal("decided", NOW, NOW + timedelta(days=3), 3, appealed=False)
    assert not d.may_appeal("decided", NOW, NOW, 3, appealed=True)
    assert not d.may_appeal("under_review", NOW, NOW, 3, appealed=False)
    assert d.refund_key("c1", 1) != d.refund_key("c1", 2)


def test_what_the_customer_says_opens_appeals_or_cancels() -> None:
    assert d.asks_for_dispute("我要投诉这个订单纠纷") and d.asks_for_dispute("My parcel never arrived")
    assert not d.asks_for_dispute("where is my ticket")
    assert d.asks_to_appeal("申诉") and d.asks_to_appeal("Appeal!") and d.asks_to_appeal("", "dispute:appeal")
    assert not d.asks_to_appeal("I will not appeal this")
    assert (
        d.typed_reason("2") == "not_as_described" and d.typed_reason("other") == "other" and d.typed_reason("9") == ""
    )
    assert d.picked("dispute:order:A-1", "order") == "A-1" and d.picked("progress:1", "order") == ""
    assert d.asks_to_cancel("取消") and not d.asks_to_cancel("cancel my order A-1")


def test_a_case_awaiting_a_party_is_not_decided_before_their_deadline_unless_they_answered() -> None:
    common = {
        "outcome": "refund_buyer",
        "grounds": "x",
        "refund": None,
        "case_amount": Decimal("100"),
        "case_currency": "CNY",
        "supervisor": True,
        "limits": {},
    }
    early = d.Waiting(NOW + timedelta(days=1), answered=False, now=NOW)
    with pytest.raises(InvalidInput, match="the seller has until their deadline"):
        d.check_decision(status="awaiting_seller", waiting=early, **common)
    answered = d.Waiting(NOW + timedelta(days=1), answered=True, now=NOW)
    assert d.check_decision(status="awaiting_seller", waiting=answered, **common).refund == Decimal("100")
    late = d.Waiting(NOW - timedelta(seconds=1), answered=False, now=NOW)
    assert d.check_decision(status="awaiting_seller", waiting=late, **common).refund == Decimal("100")


def test_an_appeal_is_decided_by_another_supervisor() -> None:
    common = {
        "status": "appealed",
        "outcome": "favour_seller",
        "grounds": "x",
        "refund": None,
        "case_amount": Decimal("100"),
        "case_currency": "CNY",
        "limits": {},
    }
    with pytest.raises(d.OwnDecision, match="another supervisor"):
        d.check_decision(supervisor=True, appealed=d.Appealed("Wang", "Wang"), **common)
    with pytest.raises(d.OwnDecision, match="by a supervisor"):
        d.check_decision(supervisor=False, appealed=d.Appealed("Wang", "Li Na"), **common)
    assert d.check_decision(supervisor=True, appealed=d.Appealed("Wang", "Boss"), **common).refund == 0


def test_a_refund_waits_for_the_decision_to_be_final() -> None:
    held = d.refund_after_decision({}, key="k1", refund=Decimal("500"), appeal_decision=False)
    assert held == {"key": "k1", "amount": "500", "status": "held"}
    assert d.release_held(held) == {**held, "status": "pending"}
    # The appeal reverses it: nothing was paid, nothing is.
    reversed_ = d.refund_after_decision(held, key="k2", refund=Decimal(0), appeal_decision=True)
    assert reversed_["status"] == "cancelled" and d.release_held(reversed_) is None
    upheld = d.refund_after_decision(held, key="k2", refund=Decimal("300"), appeal_decision=True)
    assert upheld == {"key": "k2", "amount": "300", "status": "pending"}
    assert d.refund_after_decision({}, key="k1", refund=Decimal(0), appeal_decision=False) == {}


def test_an_appeal_keeps_the_reasons_written_after_the_word() -> None:
    assert d.appeal_grounds("申诉：屏幕没有坏点，是买家摔坏的") == "屏幕没有坏点，是买家摔坏的"
    assert d.appeal_grounds("Appeal: the parcel was delivered\non time") == "the parcel was delivered\non time"
    assert d.appeal_grounds("我要申诉 物流显示已签收") == "物流显示已签收"
    assert d.appeal_grounds("申诉") == "" and d.appeal_grounds("appeal.") == ""
    assert d.appeal_grounds("I will not appeal this") is None and d.appeal_grounds("申诉期多久？") is None
    assert d.asks_to_appeal("申诉：理由") and d.asks_to_appeal("", "dispute:appeal:c1")
