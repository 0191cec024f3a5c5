"""The Store contract for reports (both backends): each figure on a small known data set,
compared with values worked out by hand (percentiles by the nearest-rank rule)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conversation.areas.reports import QualityFigures
from conversation.model import MessageKind, Status, new_id
from conversation.quality import Review, Survey
from conversation.records import Record
from conversation.reports import ReportFilters, ReportQuery, TicketFact, fold_volume
from conversation.store import Store
from tests.store_contract.common import POLICY, inbound, outbound

T0 = datetime(2027, 3, 1, tzinfo=UTC)
DAY = ReportQuery(T0, T0 + timedelta(days=1))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


async def ticket(store: Store, name: str, created: datetime, *, team: str = "", channel: str = "telegram") -> str:
    record = await store.tickets.record_inbound(
        inbound(f"m-{name}", thread=f"t-{name}", channel=channel), now=created, policy=POLICY
    )
    if team:
        await store.tickets.update_conversation(record.conversation.id, {"team": team}, now=created)
    return record.conversation.id


async def reply(
    store: Store, conversation_id: str, agent: str, when: datetime, kind: MessageKind = MessageKind.MESSAGE
) -> None:
    message = outbound(conversation_id)
    message.id, message.author_id, message.created_at, message.kind = new_id(), agent, when, kind
    if kind is not MessageKind.MESSAGE:
        message.delivery = None
    await store.tickets.add_message(message)


async def tickets_and_replies(store: Store) -> list[str]:
    """Three tickets created in the day (two of team sales at 01:00 and 01:10, one at 09:30,
    resolved at 10:00), one the day before (open), one the day after."""
    ids = [
        await ticket(store, "a", at(1), team="sales"),
        await ticket(store, "b", at(1 + 10 / 60), team="sales", channel="email"),
        await ticket(store, "c", at(9.5), channel="email"),
        await ticket(store, "d", at(-48)),
        await ticket(store, "e", at(25)),
    ]
    await store.tickets.update_conversation(ids[2], {"status": Status.RESOLVED}, now=at(10))
    await reply(store, ids[0], "agent-1", at(2))
    await reply(store, ids[0], "agent-1", at(3))
    await reply(store, ids[0], "agent-1", at(3.5), MessageKind.NOTE)  # a note is no reply
    await reply(store, ids[1], "agent-2", at(2))
    await reply(store, ids[3], "agent-1", at(-40))  # before the period
    return ids


async def test_volume_is_counted_per_bucket_and_folded_into_local_hours_and_days(store: Store) -> None:
    await tickets_and_replies(store)
    buckets = await store.reports.volume_buckets(DAY)
    assert buckets == [(at(1), 2), (at(9.5), 1)]
    by_hour, by_day = fold_volume(buckets, "Asia/Shanghai")  # UTC+8
    assert (by_hour[9], by_hour[17], sum(by_hour)) == (2, 1, 3)
    assert by_day == {"2027-03-01": 3}
    sales = ReportQuery(DAY.start, DAY.end, filters=ReportFilters(team="sales"))
    assert sum(n for _, n in await store.reports.volume_buckets(sales)) == 2
    email = ReportQuery(DAY.start, DAY.end, filters=ReportFilters(channel="email"))
    assert sum(n for _, n in await store.reports.volume_buckets(email)) == 2
    supervisor = ReportQuery(DAY.start, DAY.end, filters=ReportFilters(teams=("support",)))
    assert await store.reports.volume_buckets(supervisor) == []


async def test_backlog_is_the_tickets_open_at_the_end_by_age(store: Store) -> None:
    await tickets_and_replies(store)
    backlog = await store.reports.backlog(DAY)
    # a and b are 23 h and 22 h 50 old at the end, d exactly three days; c was resolved before the end, e came after
    assert backlog.total == 3
    assert backlog.by_age == {"lt_1h": 0, "1h_4h": 0, "4h_1d": 2, "1d_3d": 0, "3d_7d": 1, "ge_7d": 0}
    # at 09:45 c was still open (resolved at 10:00): 15 minutes old
    early = await store.reports.backlog(ReportQuery(T0, at(9.75)))
    assert early.total == 4 and early.by_age["lt_1h"] == 1
    sales = await store.reports.backlog(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(team="sales")))
    assert sales.total == 2


async def test_a_ticket_done_at_the_end_and_reopened_later_is_not_in_that_backlog(store: Store) -> None:
    """Review 18 #4: c, resolved at 10:00, is reopened the next day (30:00) and resolved again at 40:00."""
    ids = await tickets_and_replies(store)
    c = ids[2]
    await store.tickets.update_conversation(c, {"status": Status.OPEN}, now=at(30))
    await store.reports.save_fact(TicketFact(c, at(9.5), resolved_at=at(10), reopens=1, done_spans=((at(10), at(30)),)))
    assert (await store.reports.backlog(DAY)).total == 3  # a, b, d: c was done at the day's end
    assert (await store.reports.backlog(ReportQuery(T0, at(9.75)))).total == 4  # c not yet resolved
    assert (await store.reports.backlog(ReportQuery(T0, at(31)))).total == 5  # c open again; e created at 25:00
    await store.tickets.update_conversation(c, {"status": Status.RESOLVED}, now=at(40))
    assert (await store.reports.backlog(DAY)).total == 3  # resolved again since: still done at the end
    sales = await store.reports.backlog(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(team="sales")))
    assert sales.total == 2
    assert (await store.reports.get_fact(c)).done_spans == ((at(10), at(30)),)  # type: ignore[union-attr]


def fact(number: int, **kw: object) -> TicketFact:
    values: dict[str, object] = {"team": "sales", "channel": "telegram", "created_at": at(0)}
    values.update(kw)
    return TicketFact(f"fact-{number}", **values)  # type: ignore[arg-type]


FACTS = [
    # first responses in the day: 60, 120, 180, 240, 600 s (agent-1: 60, 180, 600; agent-2: 120, 240)
    fact(1, first_response_at=at(1), first_response_s=60.0, first_responder_id="agent-1"),
    fact(2, first_response_at=at(2), first_response_s=120.0, first_responder_id="agent-2"),
    fact(3, first_response_at=at(3), first_response_s=180.0, first_responder_id="agent-1", team="support"),
    fact(4, first_response_at=at(4), first_response_s=240.0, first_responder_id="agent-2"),
    fact(5, first_response_at=at(5), first_response_s=600.0, first_responder_id="agent-1"),
    fact(6, first_response_at=at(-5), first_response_s=5.0, first_responder_id="agent-1"),  # before the period
    # resolutions in the day: 1000 (met), 2000 (missed) by agent-1; 3000 (no policy) by agent-2
    fact(
        7,
        agent_id="agent-1",
        resolved=True,
        resolved_at=at(6),
        first_resolved_at=at(6),
        resolution_s=1000.0,
        sla_met=True,
    ),
    fact(
        8,
        agent_id="agent-1",
        resolved=True,
        resolved_at=at(7),
        first_resolved_at=at(5),
        resolution_s=2000.0,
        sla_met=False,
        reopens=1,
    ),
    fact(9, agent_id="agent-2", resolved=True, resolved_at=at(8), first_resolved_at=at(8), resolution_s=3000.0),
    # resolved in the day, reopened since: counts for the reopen rate, not for resolution times
    fact(
        10,
        agent_id="agent-2",
        resolved=False,
        resolved_at=at(9),
        first_resolved_at=at(9),
        resolution_s=9999.0,
        reopens=1,
    ),
]


async def test_facts_are_saved_and_read_back(store: Store) -> None:
    assert await store.reports.get_fact("fact-8") is None
    for f in FACTS:
        await store.reports.save_fact(f)
    assert await store.reports.get_fact("fact-8") == FACTS[7]
    assert await store.reports.get_fact("fact-10") == FACTS[9]
    changed = TicketFact("fact-8", at(0), reopens=2)
    await store.reports.save_fact(changed)
    assert await store.reports.get_fact("fact-8") == changed


async def test_time_figures_are_nearest_rank_percentiles_and_rates(store: Store) -> None:
    for f in FACTS:
        await store.reports.save_fact(f)
    figures = await store.reports.time_figures(DAY)
    # five first responses: p50 = rank ceil(2.5) = 3rd = 180, p90 = rank ceil(4.5) = 5th = 600
    assert (figures.first_response_p50_s, figures.first_response_p90_s, figures.first_responses) == (180, 600, 5)
    # three current resolutions: p50 = 2nd = 2000, p90 = 3rd = 3000
    assert (figures.resolution_p50_s, figures.resolution_p90_s, figures.resolved) == (2000, 3000, 3)
    assert (figures.sla_counted, figures.sla_met) == (2, 1)
    assert (figures.first_resolved, figures.reopened) == (4, 2)

    support = await store.reports.time_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(team="support")))
    assert (support.first_response_p50_s, support.first_responses, support.resolved) == (180, 1, 0)
    agent = await store.reports.time_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(agent="agent-2")))
    assert (agent.first_response_p50_s, agent.first_response_p90_s, agent.resolution_p50_s) == (120, 240, 3000)
    empty = await store.reports.time_figures(ReportQuery(at(48), at(72)))
    assert (empty.first_response_p50_s, empty.resolution_p50_s, empty.first_responses, empty.sla_counted) == (
        None,
        None,
        0,
        0,
    )


async def test_agent_figures_join_replies_and_percentiles_per_agent(store: Store) -> None:
    await tickets_and_replies(store)
    for f in FACTS:
        await store.reports.save_fact(f)
    rows = {row.agent_id: row for row in await store.reports.agent_figures(DAY)}
    assert set(rows) == {"agent-1", "agent-2"}
    one, two = rows["agent-1"], rows["agent-2"]
    assert (one.replies, one.tickets_handled, two.replies, two.tickets_handled) == (2, 1, 1, 1)
    # agent-1's first responses 60, 180, 600: p50 = 2nd = 180; agent-2's 120, 240: p50 = 1st = 120
    assert (one.first_response_p50_s, two.first_response_p50_s) == (180, 120)
    # agent-1 resolved 1000 and 2000: p50 = 1st = 1000; agent-2 3000 (the reopened one left out)
    assert (one.resolution_p50_s, one.resolved, two.resolution_p50_s, two.resolved) == (1000, 2, 3000, 1)

    email = await store.reports.agent_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(channel="email")))
    assert [(r.agent_id, r.replies) for r in email] == [("agent-2", 1)]
    only = await store.reports.agent_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(agent="agent-2")))
    assert [(r.agent_id, r.replies, r.first_response_p50_s) for r in only] == [("agent-2", 1, 120)]


async def test_resolutions_are_counted_for_the_agent_who_resolved(store: Store) -> None:
    """Review 18 #3: a ticket resolved by agent-3 while agent-1 (or nobody) was assigned is agent-3's."""
    await store.reports.save_fact(
        TicketFact(
            "r1", at(0), agent_id="agent-1", resolved_at=at(5), resolution_s=100.0, resolved=True, resolver_id="agent-3"
        )
    )
    await store.reports.save_fact(
        TicketFact("r2", at(0), resolved_at=at(6), resolution_s=300.0, resolved=True, resolver_id="agent-3")
    )
    await store.reports.save_fact(  # written before the resolver was kept: the assignee's
        TicketFact("r3", at(0), agent_id="agent-1", resolved_at=at(6), resolution_s=50.0, resolved=True)
    )
    rows = {r.agent_id: (r.resolved, r.resolution_p50_s) for r in await store.reports.agent_figures(DAY)}
    assert rows == {"agent-3": (2, 100), "agent-1": (1, 50)}
    times = await store.reports.time_figures(DAY)
    assert times.resolved == sum(n for n, _ in rows.values()) == 3
    three = await store.reports.time_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(agent="agent-3")))
    assert (three.resolved, three.resolution_p50_s) == (2, 100)
    assert (await store.reports.get_fact("r1")).resolver_id == "agent-3"  # type: ignore[union-attr]


async def test_quality_figures_count_the_tickets_the_bot_deflected(store: Store) -> None:
    ids = await tickets_and_replies(store)  # a, b of sales; c, d, e of no team
    answers = [  # (ticket, outcome, when): a deflected after a first "not helpful"; b not helpful; c still asked
        (ids[0], "not_helpful", at(1.5)),
        (ids[0], "deflected", at(2)),
        (ids[1], "not_helpful", at(3)),
        (ids[2], "asked", at(10)),
        (ids[3], "deflected", at(-30)),  # before the period
    ]
    for number, (ticket_id, outcome, when) in enumerate(answers):
        await store.records.create_record(
            Record(f"answer-{number}", "faq", "answer", ticket_id, "", outcome, {"article_id": "a1"}, created_at=when)
        )
    await store.records.create_record(Record("other", "csat", "answer", ids[1], "", "deflected", {}, created_at=at(4)))
    figures = await store.reports.quality_figures(DAY)
    # three tickets answered in the day, one of them deflected; no ratings or reviews yet
    assert figures == QualityFigures(csat_average=None, csat_responses=0, qa_average=None, deflection_rate=0.3333)
    sales = await store.reports.quality_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(team="sales")))
    assert sales.deflection_rate == 0.5
    assert (await store.reports.quality_figures(ReportQuery(at(48), at(72)))).deflection_rate is None


async def test_quality_figures_average_the_ratings_and_reviews_of_the_period(store: Store) -> None:
    ratings = [  # (ticket, agent, team, channel, score, rated): 5 and 2 by agent-1 of sales, 4 by agent-2
        ("r1", "agent-1", "sales", "email", 5, at(2)),
        ("r2", "agent-1", "sales", "telegram", 2, at(3)),
        ("r3", "agent-2", "support", "email", 4, at(4)),
        ("r4", "agent-2", "support", "email", None, None),  # asked, not answered
        ("r5", "agent-2", "support", "email", 1, at(30)),  # rated the day after
    ]
    for number, (ticket_id, agent, team, channel, score, rated) in enumerate(ratings):
        survey = Survey(ticket_id, number, "p", channel, at(1), agent, team, score=score, rated_at=rated)
        assert await store.quality.add_survey(survey)
    for number, (agent, team, score, when) in enumerate(
        [("agent-1", "sales", 80.0, at(5)), ("agent-2", "support", 50.0, at(6)), ("agent-2", "support", 0.0, at(-2))]
    ):
        review = Review(f"q{number}", f"r{number}", number, "card", "boss", agent, {}, when, score, False, team=team)
        assert await store.quality.add_review(review)
    figures = await store.reports.quality_figures(DAY)
    # (5 + 2 + 4) / 3 = 3.67; QA (80 + 50) / 2 = 65
    assert (figures.csat_average, figures.csat_responses, figures.qa_average) == (3.67, 3, 65.0)
    sales = await store.reports.quality_figures(ReportQuery(DAY.start, DAY.end, filters=ReportFilters(team="sales")))
    assert (sales.csat_average, sales.csat_responses, sales.qa_average) == (3.5, 2, 80.0)
    email = ReportQuery(DAY.start, DAY.end, filters=ReportFilters(channel="email", agent="agent-2"))
    assert (await store.reports.quality_figures(email)).csat_average == 4.0
    lead = ReportQuery(DAY.start, DAY.end, filters=ReportFilters(teams=("support",)))
    assert (await store.reports.quality_figures(lead)).csat_responses == 1
    assert await store.reports.csat_by_agent(DAY) == {"agent-1": 3.5, "agent-2": 4.0}
    assert await store.reports.csat_by_agent(ReportQuery(at(24), at(48))) == {"agent-2": 1.0}
