"""A hub process killed (kill -9) with a visitor's web-chat window open: it never releases
its hold on the window, and until it counted as gone every reply to that visitor was handed
to it, unanswered, and retried with backoff (a minute late, and pushed again after the
visitor's reconnected window had already shown it). Its holds now count only while it beats
(`[storage] hub_lapse_seconds`), so once its beat lapses the reply goes to the window the
visitor reopened through another hub, or waits for the visitor's return, at once."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from conversation.model import AuthorType, utcnow
from conversation.store import StoreUnavailable
from hub.app import Hub
from tests.helpers import eventually
from tests.test_cluster_hubs import WEBCHAT, frames_until, hub, two_hubs, visitor_window

pytestmark = pytest.mark.mongo

REPLY, AGENT = "马上为您查询", AuthorType.AGENT
LAPSE_SECONDS = 6.0  # the default beat lapse; the surviving hub's clock is moved past it


class Killed:
    """The store as a process killed with kill -9 uses it: not at all (each call fails)."""

    def __getattr__(self, name: str) -> Any:
        async def dead(*_args: Any, **_kwargs: Any) -> Any:
            raise StoreUnavailable("this hub process was killed")

        return dead


def kill(killed: Hub) -> None:
    """kill -9, as far as the store and the other hubs can tell: its loops stop where they are
    (no more beats, no hold renewed or released, no event read or written, no answer to a
    hand-over) and it says nothing more to the store, whatever its sockets do next."""
    for state in killed.supervisor.loops.values():
        if state.task is not None:
            state.task.cancel()
    killed.store.cluster = Killed()  # type: ignore[assignment]


async def reconnect(client: TestClient, token: str, after: str) -> tuple[aiohttp.ClientWebSocketResponse, list[str]]:
    """The widget coming back through another hub: a new socket, resumed after the last message shown."""
    ws = await client.ws_connect(f"/channels/webchat/ws?token={token}")
    await ws.send_json({"type": "hello", "after": after})
    hello = await frames_until(ws, "hello")
    return ws, [m["id"] for m in hello["messages"]]


async def pushed_ids(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[str]:
    """The messages pushed to a window within `seconds`."""
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            frame = await ws.receive_json(timeout=left)
        except TimeoutError:
            break
        if frame["type"] == "message":
            ids.append(frame["message"]["id"])
    return ids


@pytest.mark.parametrize("reply", ["before the visitor is back", "after the visitor is back"])
async def test_a_reply_reaches_a_visitor_back_through_another_hub_once_soon_after_their_hub_was_killed(
    tmp_path: Path, mongo_db_uri: str, reply: str
) -> None:
    async with two_hubs(tmp_path, mongo_db_uri, {"channels": WEBCHAT}) as (first, second):
        me, window = await visitor_window(first)  # the first hub holds the visitor's window
        await window.send_json({"type": "message", "client_id": "c1", "text": "我的订单还没到"})
        ack = await frames_until(window, "ack")
        conversation = await hub(second).store.tickets.get_conversation_by_number(ack["conversation"]["number"])
        assert conversation is not None

        kill(hub(first))
        await window.close()  # the visitor's browser saw the connection drop
        # its hold stays in the store; the second hub's clock passes the first one's last beat
        assert hub(second).relay is not None
        hub(second).relay.clock = lambda: utcnow() + timedelta(seconds=LAPSE_SECONDS + 1)

        async def sent() -> bool:
            stored = await hub(second).store.tickets.get_message(reply_id)
            return stored is not None and stored.delivery is not None and stored.delivery.status.value == "sent"

        if reply == "before the visitor is back":
            reply_id = (await hub(second).actions.send(conversation, REPLY, author_type=AGENT, author_id="")).id
            await eventually(sent, timeout=2)  # kept for the visitor's return, not retried against the dead hub
            again, resumed = await reconnect(second, me["token"], after=ack["message"]["id"])
        else:
            again, resumed = await reconnect(second, me["token"], after=ack["message"]["id"])
            reply_id = (await hub(second).actions.send(conversation, REPLY, author_type=AGENT, author_id="")).id
            await eventually(sent, timeout=2)  # pushed here; not held up waiting for the dead hub (3 s)
        seen = resumed + await pushed_ids(again, 1.0)
        assert seen.count(reply_id) == 1, seen
        await again.close()


async def test_a_hub_that_could_not_beat_in_time_makes_its_visitors_windows_catch_up(
    tmp_path: Path, mongo_db_uri: str
) -> None:
    # Cut off from the store longer than the lapse, its windows counted as closed to the
    # others, which kept their replies for the visitors' return: the windows reconnect and
    # resume (the widget's hello after the last message shown), so none stays unseen.
    async with two_hubs(tmp_path, mongo_db_uri, {"channels": WEBCHAT}) as (first, _second):
        _me, window = await visitor_window(first)
        relay = hub(first).relay
        assert relay is not None
        await relay.beat()  # in time: nothing happens
        assert not window.closed
        relay._beaten = time.monotonic() - LAPSE_SECONDS - 1  # the last beat that got through
        await relay.beat()
        closed = await window.receive(timeout=5)
        assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 1012  # "service restart": reconnect
