"""Routing decisions, presence and backup paging as pure functions, rule by rule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conversation.assignment import Candidate, Need, Weights, choose_agent, load, qualifies, reassign_due
from conversation.paging import Queue, page_reason, release_backup
from conversation.presence import PresenceRecord, PresenceRules, offline_since, presence_of

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
CHAT = Need(channel="web", channel_type="webchat", language="zh-CN")
MAIL = Need(channel="mail", channel_type="email", language="en")
W = Weights(chat=1.0, mail=0.25)


def agent(agent_id: str, **kw: object) -> Candidate:
    return Candidate(agent_id, **{"on_shift": True, "presence": "online", "capacity": 3.0, **kw})  # type: ignore[arg-type]


def test_least_loaded_by_share_of_capacity_then_id() -> None:
    team = [agent("a", load=2.0), agent("b", load=1.0), agent("c", load=1.0, capacity=6.0)]
    assert choose_agent(CHAT, team, W).agent_id == "c"  # 1/6 < 1/3
    assert choose_agent(CHAT, [agent("b", load=1.0), agent("a", load=1.0)], W).agent_id == "a"


def test_round_robin_goes_to_the_next_agent_after_the_last_one_and_wraps() -> None:
    team = [agent("a"), agent("b"), agent("c", presence="away")]
    picks = []
    last = ""
    for _ in range(4):
        last = choose_agent(CHAT, team, W, strategy="round-robin", after=last).agent_id
        picks.append(last)
    assert picks == ["a", "b", "a", "b"]  # c is away: skipped


def test_stickiness_to_the_previous_agent_only_when_they_qualify() -> None:
    team = [agent("a"), agent("b", load=2.5)]
    assert choose_agent(Need("mail", "email", previous_agent="b"), team, W).agent_id == "b"  # 2.5 + 0.25 <= 3
    assert choose_agent(Need("web", "webchat", previous_agent="b"), team, W).agent_id == "a"  # a chat would exceed
    assert choose_agent(Need("web", "webchat", previous_agent="gone"), team, W).reason == "least-loaded"


@pytest.mark.parametrize(
    ("on_shift", "backup_called", "presence", "load_now", "qualified"),
    [
        (shift, backup, presence, used, (shift or backup) and presence == "online" and used + 1.0 <= 3.0)
        for shift, backup, presence, used in itertools.product(
            (True, False), (True, False), ("online", "away", "offline"), (0.0, 2.0, 2.5, 3.0)
        )
    ],
)
def test_every_combination_of_shift_presence_and_capacity(
    on_shift: bool, backup_called: bool, presence: str, load_now: float, qualified: bool
) -> None:
    candidate = agent("a", on_shift=on_shift, backup_called=backup_called, presence=presence, load=load_now)
    assert qualifies(candidate, CHAT, W) is qualified
    assert (choose_agent(CHAT, [candidate], W).agent_id == "a") is qualified


def test_never_someone_off_shift_and_the_reason_says_why_nobody() -> None:
    assert choose_agent(CHAT, [agent("a", on_shift=False)], W).reason == "nobody on shift"
    assert choose_agent(CHAT, [agent("a", presence="away")], W).reason == "nobody on shift is online"
    assert choose_agent(CHAT, [agent("a", load=3.0)], W).reason.startswith("everyone on shift is at capacity")
    assert choose_agent(CHAT, [], W).agent_id == ""


def test_skills_filter_by_language_and_channel() -> None:
    team = [agent("en", languages=("en",)), agent("zh", languages=("zh",), channels=("web",))]
    assert choose_agent(CHAT, team, W).agent_id == "zh"  # zh-CN matches "zh"
    assert choose_agent(MAIL, team, W).agent_id == "en"  # zh only takes the web channel
    assert choose_agent(Need("web", "webchat", language="fr"), team, W).agent_id == ""
    assert choose_agent(Need("web", "webchat"), team, W).agent_id == "en"  # unknown language: anyone


def test_chats_weigh_more_than_emails() -> None:
    assert load(["webchat", "email", "email", "telegram", "webhook"], W) == 2.75
    full_of_mail = agent("a", load=load(["email"] * 11, W))  # 2.75
    assert qualifies(full_of_mail, MAIL, W) and not qualifies(full_of_mail, CHAT, W)


def test_presence_from_choice_sockets_and_idleness() -> None:
    rules = PresenceRules(idle_away=timedelta(minutes=10))
    live = {"hub-1": NOW + timedelta(seconds=30)}
    assert presence_of(None, NOW, rules) == "offline"
    assert presence_of(PresenceRecord("a", sockets=live, last_action_at=NOW), NOW, rules) == "online"
    assert presence_of(PresenceRecord("a", sockets={"hub-1": NOW - timedelta(seconds=1)}), NOW, rules) == "offline"
    assert presence_of(PresenceRecord("a", status="away", sockets=live), NOW, rules) == "away"
    assert presence_of(PresenceRecord("a", status="offline", sockets=live), NOW, rules) == "offline"
    idle = PresenceRecord("a", sockets=live, last_action_at=NOW - timedelta(minutes=10))
    assert presence_of(idle, NOW, rules) == "away"
    # an open inbox in another hub process counts: presence is shared
    assert (
        presence_of(PresenceRecord("a", sockets={"hub-1": NOW, "hub-2": NOW + timedelta(seconds=5)}), NOW, rules)
        == "online"
    )


def test_offline_since_and_the_grace_period() -> None:
    gone = PresenceRecord("a", sockets={"hub-1": NOW - timedelta(minutes=3)})
    assert offline_since(gone, NOW) == NOW - timedelta(minutes=3)
    assert offline_since(PresenceRecord("a", sockets={"hub-1": NOW + timedelta(seconds=1)}), NOW) is None
    chose = PresenceRecord("a", status="offline", status_at=NOW - timedelta(seconds=30))
    assert offline_since(chose, NOW) == NOW - timedelta(seconds=30)
    grace = timedelta(minutes=2)
    assert reassign_due(offline_since(gone, NOW), NOW, grace)
    assert not reassign_due(offline_since(chose, NOW), NOW, grace)
    assert not reassign_due(None, NOW, grace)


def test_backup_is_paged_for_a_long_queue_or_a_long_wait_and_released_when_it_drains() -> None:
    limit = timedelta(minutes=15)
    assert page_reason(Queue(11, NOW), NOW, threshold=10, max_wait=limit).code == "queue"  # type: ignore[union-attr]
    assert page_reason(Queue(10, NOW), NOW, threshold=10, max_wait=limit) is None
    waited = page_reason(Queue(1, NOW - timedelta(minutes=16)), NOW, threshold=10, max_wait=limit)
    assert waited is not None and (waited.code, dict(waited.params)) == ("wait", {"minutes": "16", "limit": "15"})
    assert page_reason(Queue(0, None), NOW, threshold=10, max_wait=limit) is None
    assert release_backup(Queue(0, None)) and not release_backup(Queue(1, NOW))


# -- properties: whatever the team looks like, the choice keeps the rules --------------------------

candidates = st.lists(
    st.builds(
        Candidate,
        agent_id=st.sampled_from(["a", "b", "c", "d", "e"]),
        on_shift=st.booleans(),
        backup_called=st.booleans(),
        presence=st.sampled_from(["online", "away", "offline"]),
        load=st.sampled_from([0.0, 0.25, 1.0, 2.0, 2.75, 3.0, 4.0]),
        capacity=st.sampled_from([0.0, 1.0, 3.0, 4.0]),
        languages=st.sampled_from([(), ("zh",), ("en",)]),
        channels=st.sampled_from([(), ("web",), ("mail",)]),
    ),
    max_size=6,
    unique_by=lambda c: c.agent_id,
)
needs = st.builds(
    Need,
    channel=st.sampled_from(["web", "mail"]),
    channel_type=st.sampled_from(["webchat", "email"]),
    language=st.sampled_from(["", "zh-CN", "en", "fr"]),
    previous_agent=st.sampled_from(["", "a", "c"]),
)


@given(
    need=needs,
    team=candidates,
    strategy=st.sampled_from(["least-loaded", "round-robin"]),
    after=st.sampled_from(["", "b", "e"]),
)
def test_the_chosen_agent_always_qualifies_and_nobody_is_chosen_only_when_nobody_does(
    need: Need, team: list[Candidate], strategy: str, after: str
) -> None:
    choice = choose_agent(need, team, W, strategy=strategy, after=after)
    able = [c for c in team if qualifies(c, need, W)]
    if not able:
        assert choice.agent_id == ""
        return
    chosen = next(c for c in team if c.agent_id == choice.agent_id)
    assert chosen in able and (chosen.on_shift or chosen.backup_called) and chosen.presence == "online"
    assert chosen.load + W.of(need.channel_type) <= chosen.capacity
    if any(c.agent_id == need.previous_agent for c in able):
        assert choice.agent_id == need.previous_agent
    elif strategy == "least-loaded":
        assert chosen.load / chosen.capacity == min(c.load / c.capacity for c in able)


def test_a_paged_backup_is_said_to_be_chosen_as_backup_not_as_least_loaded() -> None:
    """The thread's "routed to X (how)" names a paged backup agent as such (event.how.backup)."""
    backup = agent("b", on_shift=False, backup_called=True)
    assert choose_agent(CHAT, [backup], W).reason == "backup"
    assert choose_agent(CHAT, [backup], W, strategy="round-robin").reason == "backup"
    assert choose_agent(CHAT, [agent("a", load=1.0), backup], W).reason == "backup"  # b: less loaded
    assert choose_agent(CHAT, [agent("a")], W).reason == "least-loaded"
