"""The Store contract for agents, sessions, API tokens, canned responses (both backends)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from conversation.model import (
    Agent,
    ApiToken,
    CannedResponse,
    Role,
    Session,
    new_id,
    utcnow,
)
from conversation.store import (
    AlreadyExists,
    NotFound,
    Store,
)


async def test_agents_are_unique_by_email_whatever_the_case(store: Store) -> None:
    agent = Agent(id=new_id(), email="Li.Na@Example.com", role=Role.ADMIN, password_hash="$argon2id$x")
    await store.accounts.add_agent(agent)
    with pytest.raises(AlreadyExists):
        await store.accounts.add_agent(
            Agent(id=new_id(), email="li.na@example.COM", role=Role.AGENT, password_hash="h")
        )
    found = await store.accounts.get_agent_by_email("LI.NA@example.com")
    assert found == agent and found.created_at.tzinfo == UTC or found.created_at.utcoffset() == timedelta(0)
    assert await store.accounts.count_agents() == 1


async def test_agents_sessions_tokens_and_canned_responses(store: Store) -> None:
    agent = await store.accounts.add_agent(
        Agent(id=new_id(), email="a@example.com", role=Role.AGENT, password_hash="h")
    )
    updated = await store.accounts.update_agent(agent.id, {"role": Role.ADMIN, "name": "Ana", "active": False})
    assert (updated.role, updated.name, updated.active) == (Role.ADMIN, "Ana", False)
    assert [a.id for a in await store.accounts.list_agents()] == [agent.id]
    assert await store.accounts.get_agent(agent.id) == updated
    with pytest.raises(ValueError):
        await store.accounts.update_agent(agent.id, {"email": "x@example.com"})
    with pytest.raises(NotFound):
        await store.accounts.update_agent("nope", {"name": "x"})

    session = Session(token_hash="th", agent_id=agent.id, csrf_token="c", expires_at=utcnow() + timedelta(hours=1))
    await store.accounts.add_session(session)
    assert await store.accounts.get_session("th") == session
    await store.accounts.delete_session("th")
    assert await store.accounts.get_session("th") is None
    other = await store.accounts.add_agent(
        Agent(id=new_id(), email="b@example.com", role=Role.AGENT, password_hash="h")
    )
    for hash_, owner in (("s1", agent.id), ("s2", agent.id), ("s3", other.id)):
        await store.accounts.add_session(Session(hash_, owner, "c", expires_at=utcnow() + timedelta(hours=1)))
    assert await store.accounts.delete_agent_sessions(agent.id) == 2  # everywhere this agent is signed in
    assert [await store.accounts.get_session(h) is None for h in ("s1", "s2", "s3")] == [True, True, False]

    token = await store.accounts.add_api_token(ApiToken(id=new_id(), agent_id=agent.id, name="ci", token_hash="hash1"))
    assert await store.accounts.get_api_token("hash1") == token
    revoked = await store.accounts.revoke_api_token(token.id, now=utcnow())
    assert (
        revoked.revoked_at is not None and (await store.accounts.list_api_tokens())[0].revoked_at == revoked.revoked_at
    )
    with pytest.raises(NotFound):
        await store.accounts.revoke_api_token("nope", now=utcnow())
    ending = ApiToken(
        id=new_id(), agent_id=agent.id, name="ci", token_hash="hash2", expires_at=utcnow() + timedelta(days=7)
    )
    await store.accounts.add_api_token(ending)
    assert await store.accounts.get_api_token("hash2") == ending  # its end kept by both backends

    canned = await store.accounts.add_canned(
        CannedResponse(id=new_id(), shortcut="refund", title="Refund", text="Done!")
    )
    with pytest.raises(AlreadyExists):
        await store.accounts.add_canned(CannedResponse(id=new_id(), shortcut="refund", title="Again", text="x"))
    assert await store.accounts.list_canned() == [canned]
    await store.accounts.delete_canned(canned.id)
    assert await store.accounts.list_canned() == []
    with pytest.raises(NotFound):
        await store.accounts.delete_canned(canned.id)


async def test_an_agents_inbox_language_is_kept_and_changed(store: Store) -> None:
    agent = await store.accounts.add_agent(
        Agent(id=new_id(), email="wang@example.com", role=Role.AGENT, password_hash="h")
    )
    assert (await store.accounts.get_agent(agent.id)).language == ""  # type: ignore[union-attr]
    changed = await store.accounts.update_agent(agent.id, {"language": "zh-CN"})
    assert changed.language == "zh-CN"
    assert (await store.accounts.get_agent_by_email("wang@example.com")).language == "zh-CN"  # type: ignore[union-attr]
