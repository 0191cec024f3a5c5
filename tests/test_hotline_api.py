# ruff: noqa: F811  (the fixtures of tests/test_api.py are imported by name)
"""Hotline calls through the REST API: logging a call, the phone channel, callback tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conversation.calls import CallDirection, NoReplies
from conversation.model import AuthorType, ConversationQuery, utcnow
from conversation.reports import ReportQuery
from hub.app_keys import HUB
from hub.events import Event
from hub.services.hotline import CallForm
from hub.webhooks import webhook_event
from tests.helpers import eventually, make_config, running_hub
from tests.test_api import Agent, admin, agent, new_ticket, server  # noqa: F401  (fixtures)


def soon(minutes: int = 30) -> str:
    return (utcnow() + timedelta(minutes=minutes)).isoformat()


async def thread(agent: Agent, conversation_id: str) -> list[dict[str, Any]]:
    return (await agent.call("GET", f"/api/v1/conversations/{conversation_id}/messages"))["items"]


async def test_a_logged_call_becomes_a_phone_ticket_with_the_caller_as_contact(agent: Agent) -> None:
    logged = await agent.call(
        "POST",
        "/api/v1/calls",
        {
            "number": "138 1234 5678",  # no +: read in the default region, CN
            "direction": "in",
            "duration_seconds": 125,
            "category": "dispute",
            "notes": "客户说付款被扣了两次",
            "outcome": "follow_up",
        },
        status=201,
    )
    call, ticket = logged["call"], logged["conversation"]
    # the caller by number, never an "anonymous" label of its first digits (shared by a whole area)
    assert ticket["contact_anonymous"] is None and "8613812345678" in ticket["contact_name"]
    assert call["number"] == "+8613812345678" and call["state"] == "ended" and call["duration_seconds"] == 125
    assert ticket["channel"] == "phone" and ticket["category"] == "dispute" and ticket["team"] == "finance"
    me = await agent.call("GET", "/api/v1/me")
    assert (
        ticket["assignee_id"] == me["agent"]["id"]
    )  # theirs: routed to finance, still visible to the agent who took it
    messages = await thread(agent, ticket["id"])
    assert messages[0]["kind"] == "event" and messages[0]["event"]["key"] == "call.summary"
    logged_event = next(m for m in messages if (m.get("event") or {}).get("key") == "event.call_logged")
    assert logged_event["event"]["params"] == {
        "who": "Li Na",
        "direction": "in",
        "number": "+8613812345678",
        "duration": "125",
        "outcome": "follow_up",
    }
    assert logged_event["text"] == "Li Na logged a call (incoming) with +8613812345678, 125 s: needs follow-up"

    details = await agent.call("GET", f"/api/v1/conversations/{ticket['id']}")
    identities = details["contact"]["identities"]
    assert [(i["channel"], i["address"]) for i in identities] == [("phone", "+8613812345678")]

    # The same caller, typed another way, joins the open ticket.
    again = await agent.call(
        "POST", "/api/v1/calls", {"number": "+86 138-1234-5678", "direction": "out", "outcome": "resolved"}, status=201
    )
    assert again["conversation"]["id"] == ticket["id"] and again["conversation"]["status"] == "resolved"
    assert again["conversation"]["contact_id"] == ticket["contact_id"]
    # the resolution is the agent's, by id (a trial: it was filed under their name, a row of its own)
    hub = agent.client.server.app[HUB]
    now = hub.actions.clock()
    day = ReportQuery(start=now - timedelta(days=1), end=now + timedelta(days=1))

    async def resolved_by_the_agent() -> bool:  # the figures follow the ticket's events
        rows = (await hub.reports.agents(day))["items"]
        return [(row["agent_id"], row["resolved"]) for row in rows] == [(agent.id, 1)]

    await eventually(resolved_by_the_agent)
    # a later call reopens it, said as what it was: no customer "wrote again" (a trial)
    await agent.call("POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in"}, status=201)
    events = [m["text"] for m in await thread(agent, ticket["id"]) if m["kind"] == "event"]
    assert "Ticket #1000 reopened: a call with the customer was logged" in events
    assert not any("the customer wrote again" in e for e in events)


async def test_a_retried_call_with_its_key_is_logged_once(agent: Agent) -> None:
    body = {"number": "+8613812345678", "direction": "in", "call_id": "form-7", "notes": "hello"}
    first = await agent.call("POST", "/api/v1/calls", body, status=201)
    second = await agent.call("POST", "/api/v1/calls", body, status=201)
    assert second["duplicate"] and second["call"] == first["call"]
    assert first["call"]["outcome"] == "follow_up"  # no outcome given: the form's default, as the event says
    messages = await thread(agent, first["conversation"]["id"])
    assert sum((m.get("event") or {}).get("key") == "call.summary" for m in messages) == 1
    assert sum((m.get("event") or {}).get("key") == "event.call_logged_untimed" for m in messages) == 1
    assert [m["text"] for m in messages if m["kind"] == "note"] == ["hello"]


async def test_a_call_logged_on_a_ticket_joins_it(agent: Agent) -> None:
    ticket = await new_ticket(agent, text="please call me")
    logged = await agent.call(
        "POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "out", "conversation_id": ticket}, status=201
    )
    assert logged["conversation"]["id"] == ticket
    # The phone identity is its own contact: joined to the chat user only through verified data.
    hub = agent.client.server.app[HUB]
    call_message = await hub.store.tickets.get_message(logged["call"]["message_id"])
    assert call_message is not None and call_message.conversation_id == ticket
    assert call_message.author_id != logged["conversation"]["contact_id"]
    caller = await hub.store.contacts.get_contact(call_message.author_id)
    assert caller is not None and [(i.channel, i.address) for i in caller.identities] == [("phone", "+8613812345678")]


async def test_invalid_numbers_and_inputs_get_clear_errors_and_change_nothing(agent: Agent) -> None:
    hub = agent.client.server.app[HUB]
    for body, problem in [
        ({"number": "12345", "direction": "in"}, "not a valid phone number"),
        ({"number": "call me", "direction": "in"}, "not a phone number"),
        ({"number": "+8613812345678", "direction": "sideways"}, "direction"),
        ({"number": "+8613812345678", "direction": "in", "category": "nope"}, "not a category"),
        ({"number": "+8613812345678", "direction": "in", "started_at": "tomorrow"}, "started_at"),
        ({"number": "+8613812345678", "direction": "in", "started_at": soon(60)}, "in the future"),
        ({"number": "+8613812345678", "direction": "in", "callback": {"due_at": soon(-5)}}, "future"),
        ({"number": "+8613812345678", "direction": "in", "callback": {"due_at": soon(), "owner_id": "x"}}, "agent"),
    ]:
        answer = await agent.call("POST", "/api/v1/calls", body, status=422)
        assert problem in answer["message"], (body, answer)
    await agent.call(
        "POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in", "conversation_id": "nope"}, status=404
    )
    items, _ = await hub.store.inbox.list_conversations(ConversationQuery())
    assert items == []
    assert await hub.store.callbacks.list_callbacks(owner_id=None) == []


async def test_a_callback_from_the_call_form_is_listed_closed_once_and_leaves_events(
    agent: Agent, admin: Agent
) -> None:
    due = soon(45)
    logged = await agent.call(
        "POST",
        "/api/v1/calls",
        {
            "number": "13812345678",
            "direction": "in",
            "outcome": "callback",
            "callback": {"due_at": due, "owner_id": agent.id, "note": "check the refund"},
        },
        status=201,
    )
    task = logged["callback"]
    assert task["owner_id"] == agent.id and task["status"] == "open"
    assert datetime.fromisoformat(task["due_at"]) == datetime.fromisoformat(due).astimezone(UTC)
    mine = (await agent.call("GET", "/api/v1/callbacks"))["items"]
    assert [t["id"] for t in mine] == [task["id"]] and mine[0]["conversation_number"] == logged["conversation"][
        "number"
    ]
    assert (await admin.call("GET", "/api/v1/callbacks"))["items"] == []  # not the admin's
    assert len((await admin.call("GET", "/api/v1/callbacks?owner=all"))["items"]) == 1

    # From a ticket: the number defaults to the phone caller's.
    ticket = logged["conversation"]["id"]
    second = await admin.call("POST", f"/api/v1/conversations/{ticket}/callbacks", {"due_at": soon(90)}, status=201)
    assert second["number"] == "+8613812345678" and second["owner_id"] == admin.id  # who scheduled it
    chat = await new_ticket(agent, text="call me")
    refused = await agent.call("POST", f"/api/v1/conversations/{chat}/callbacks", {"due_at": soon()}, status=422)
    assert "number" in refused["message"]

    done = await agent.call("PATCH", f"/api/v1/callbacks/{task['id']}", {"status": "done"})
    assert done["status"] == "done"
    await agent.call("PATCH", f"/api/v1/callbacks/{task['id']}", {"status": "cancelled"}, status=422)
    await agent.call("PATCH", "/api/v1/callbacks/nope", {"status": "done"}, status=404)
    assert (await agent.call("GET", "/api/v1/callbacks"))["items"] == []
    assert [t["id"] for t in (await agent.call("GET", "/api/v1/callbacks?status=done"))["items"]] == [task["id"]]
    keys = [(m.get("event") or {}).get("key") for m in await thread(agent, ticket)]
    assert keys.count("event.callback_created") == 2 and "event.callback_done" in keys


async def test_a_ticket_a_call_opens_gets_routings_team_else_the_agents(tmp_path: Path) -> None:
    """A trial: a call an agent logged opened a ticket with no team, although `[routing]
    default_team` was set (routing skips a ticket someone owns): out of its team's reports and
    SLA calendar."""
    from conversation.model import Role
    from hub.agents import add_agent

    config = make_config(tmp_path, {"routing": {"default_team": "customer-service"}})
    async with running_hub(config) as hub:
        li = await add_agent(hub.store, "li@example.com", Role.AGENT, "a-long-password-1", name="Li")
        await hub.services.desk.set_agent_teams(li.id, ["technical-support"])
        form = CallForm(number="+8613812345678", direction=CallDirection.IN)
        logged = await hub.services.hotline.log_call(form, who="Li", agent_id=li.id)
        assert (logged.conversation.team, logged.conversation.assignee_id) == ("customer-service", li.id)
        # a category without a team of its own: routing's default too (a review); with one: its team
        from conversation.desk import Category

        await hub.store.desk.save_category(Category("billing", {"en": "Billing"}))
        for number, category, team in (
            ("+8613812345679", "billing", "customer-service"),
            ("+8613812345670", "dispute", "finance"),
        ):
            form = CallForm(number=number, direction=CallDirection.IN, category=category)
            logged = await hub.services.hotline.log_call(form, who="Li", agent_id=li.id)
            assert (logged.conversation.category, logged.conversation.team) == (category, team)
    other = tmp_path / "no-default"
    other.mkdir()
    async with running_hub(make_config(other)) as hub:
        li = await add_agent(hub.store, "li@example.com", Role.AGENT, "a-long-password-1", name="Li")
        await hub.services.desk.set_agent_teams(li.id, ["technical-support"])
        form = CallForm(number="+8613812345678", direction=CallDirection.IN)
        logged = await hub.services.hotline.log_call(form, who="Li", agent_id=li.id)
        assert logged.conversation.team == "technical-support"  # the team of the agent who took it


async def test_no_bot_answers_a_logged_call(tmp_path: Path) -> None:
    async with running_hub(make_config(tmp_path, {"plugins": {"enabled": ["echo"]}})) as hub:
        logged = await hub.services.hotline.log_call(
            CallForm(number="+8613812345678", direction=CallDirection.IN, notes="asked about the parcel"),
            who="Li Na",
            agent_id="",
        )
        await hub.pipeline.drain(1)
        messages = await hub.store.tickets.list_messages(logged.conversation.id)
        assert [m.kind.value for m in messages] == ["event", "event", "note"]
        assert all(m.plugins_done for m in messages)  # nothing left for plugin recovery either


async def test_a_reply_on_a_phone_ticket_is_refused_at_once_in_the_agents_language(agent: Agent) -> None:
    logged = await agent.call("POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in"}, status=201)
    ticket = logged["conversation"]["id"]
    card = await agent.call("GET", f"/api/v1/conversations/{ticket}")
    assert card["takes_replies"] is False  # the inbox shows notes only
    before = await thread(agent, ticket)
    resp = await agent.client.post(
        f"/api/v1/conversations/{ticket}/messages",
        json={"text": "您好，我们已处理"},
        headers={"X-CSRF-Token": agent.csrf, "Accept-Language": "zh-CN"},
    )
    refused = await resp.json()
    assert resp.status == 422 and refused["error"] == "phone_reply"
    assert refused["message"] == "电话工单只能添加备注和回电任务；请通过客户的其他渠道回复。"
    english = await agent.call("POST", f"/api/v1/conversations/{ticket}/messages", {"text": "hello"}, status=422)
    assert "reply on another channel of the customer" in english["message"]
    assert await thread(agent, ticket) == before  # nothing stored, nothing queued to fail later
    note = await agent.call(
        "POST", f"/api/v1/conversations/{ticket}/messages", {"text": "回电时说明", "kind": "note"}, status=201
    )
    assert note["kind"] == "note"
    other = await new_ticket(agent)
    assert (await agent.call("GET", f"/api/v1/conversations/{other}"))["takes_replies"] is True


async def test_a_bots_words_on_a_phone_ticket_are_kept_as_a_note_not_queued_to_fail(agent: Agent) -> None:
    logged = await agent.call("POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in"}, status=201)
    hub = agent.client.server.app[HUB]
    ticket = await hub.store.tickets.get_conversation(logged["conversation"]["id"])
    told = await hub.services.conversations.post_bot_message(ticket, "您的工单已解决。", plugin="progress")
    assert told.kind.value == "note" and told.delivery is None and told.author_id == "progress"
    with pytest.raises(NoReplies):  # every other way of writing to the customer is refused the same way
        await hub.services.conversations.send(ticket, "hello", author_type=AuthorType.AGENT, author_id="a1")
    queued = [m for m in await hub.store.tickets.list_messages(ticket.id) if m.delivery is not None]
    assert queued == []


async def test_call_notes_are_the_agents_private_note_never_the_customers_message(agent: Agent) -> None:
    hub = agent.client.server.app[HUB]
    published: list[Event] = []
    publish = hub.bus.publish
    hub.bus.publish = lambda event: (published.append(event), publish(event))[1]  # type: ignore[method-assign]
    logged = await agent.call(
        "POST",
        "/api/v1/calls",
        {"number": "+8613812345678", "direction": "in", "notes": "客户说付款被扣了两次", "call_id": "c-1"},
        status=201,
    )
    ticket = logged["conversation"]
    assert ticket["channel"] == "phone"
    messages = await thread(agent, ticket["id"])
    assert not [m for m in messages if m["author_type"] == "contact"]  # nothing said in the customer's name
    (note,) = [m for m in messages if m["text"] == "客户说付款被扣了两次"]
    assert note["kind"] == "note" and note["author_type"] == "agent" and note["author_id"] == agent.id
    record = next(m for m in messages if m["id"] == logged["call"]["message_id"])
    assert record["kind"] == "event" and record["author_type"] == "system"
    assert record["event"] == {"key": "call.summary", "params": {"direction": "in", "number": "+8613812345678"}}
    # The caller is still the ticket's contact, on the phone channel.
    details = await agent.call("GET", f"/api/v1/conversations/{ticket['id']}")
    assert [(i["channel"], i["address"]) for i in details["contact"]["identities"]] == [("phone", "+8613812345678")]
    # Outbound webhooks: no public message.created for the call or its notes.
    public = [webhook_event(e) for e in published if e.type == "message.created"]
    assert public and all(private for _, private in public if _)
    # The inbox list does not preview the notes as the customer's words.
    listed = (await agent.call("GET", "/api/v1/conversations"))["items"]
    preview = next(c for c in listed if c["id"] == ticket["id"])["preview"]
    assert preview["kind"] == "note" and preview["author_type"] == "agent"
    # A retry writes nothing twice.
    again = await agent.call(
        "POST",
        "/api/v1/calls",
        {"number": "+8613812345678", "direction": "in", "notes": "客户说付款被扣了两次", "call_id": "c-1"},
        status=201,
    )
    assert again["duplicate"] and len(await thread(agent, ticket["id"])) == len(messages)


async def test_a_callback_outcome_needs_its_task_and_a_task_has_an_owner(agent: Agent, admin: Agent) -> None:
    hub = agent.client.server.app[HUB]
    refused = await agent.call(
        "POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in", "outcome": "callback"}, status=422
    )
    assert "callback" in refused["message"]
    items, _ = await hub.store.inbox.list_conversations(ConversationQuery())
    assert items == []  # refused whole: no ticket, no call

    logged = await agent.call(
        "POST",
        "/api/v1/calls",
        {"number": "+8613812345678", "direction": "in", "outcome": "callback", "callback": {"due_at": soon()}},
        status=201,
    )
    assert logged["callback"]["owner_id"] == agent.id  # no owner_id: the agent who logged it
    ticket = logged["conversation"]["id"]
    mine = await agent.call("POST", f"/api/v1/conversations/{ticket}/callbacks", {"due_at": soon(60)}, status=201)
    assert mine["owner_id"] == agent.id
    nobodys = await agent.call(
        "POST", f"/api/v1/conversations/{ticket}/callbacks", {"due_at": soon(90), "owner_id": ""}, status=201
    )
    assert nobodys["owner_id"] == ""  # left to nobody on purpose
    listed = (await agent.call("GET", "/api/v1/callbacks?owner=me"))["items"]
    assert {t["id"] for t in listed} == {logged["callback"]["id"], mine["id"]}

    answer = await agent.call("GET", "/api/v1/callbacks?owner=bogus", status=422)
    assert "owner" in answer["message"]
    assert len((await agent.call("GET", f"/api/v1/callbacks?owner={agent.id}"))["items"]) == 2
    assert len((await agent.call("GET", "/api/v1/callbacks?owner=unassigned"))["items"]) == 1


async def test_a_call_the_agent_took_is_the_tickets_first_response(agent: Agent) -> None:
    """Talking to the caller answers them: the SLA's first response is met by the call, as a
    reply would meet it on a chat; a missed call answers nobody."""
    logged = await agent.call("POST", "/api/v1/calls", {"number": "+8613812345001", "direction": "in"}, status=201)
    assert logged["conversation"]["first_response_at"] is not None
    missed = await agent.call(
        "POST", "/api/v1/calls", {"number": "+8613812345002", "direction": "in", "outcome": "missed"}, status=201
    )
    assert missed["conversation"]["first_response_at"] is None


async def test_a_call_named_on_a_ticket_merged_into_another_callers_is_refused(agent: Agent) -> None:
    """A trial: a call logged on a ticket merged into another caller's landed on that caller's
    ticket. It follows a merge only into the same customer's ticket."""
    first = await agent.call("POST", "/api/v1/calls", {"number": "+8613812345678", "direction": "in"}, status=201)
    other = await agent.call("POST", "/api/v1/calls", {"number": "+8613812345670", "direction": "in"}, status=201)
    source, target = first["conversation"]["id"], other["conversation"]["id"]
    await agent.call("POST", f"/api/v1/conversations/{source}/merge", {"into": target, "confirm": True})
    before = len(await thread(agent, target))
    body = {"number": "+8613812345678", "direction": "in", "conversation_id": source}
    refused = await agent.call("POST", "/api/v1/calls", body, status=409)
    assert refused["error"] == "merged"
    assert len(await thread(agent, target)) == before
