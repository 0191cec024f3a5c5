"""Hostile bodies and headers at every entry point: the answer is a 4xx, never a 5xx, and
nothing is stored (a 5xx makes a sender retry the same poison forever)."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from adapters.webhook import TIMESTAMP, sign, signed_headers
from conversation.kb_learning import proposal_id
from conversation.model import Agent, ConversationQuery, Role, new_id
from hub.agents import DEFAULT_ADMIN_EMAIL
from hub.api.framework import Route
from hub.api.routes import api
from hub.app import Hub, build_app
from hub.jsonbody import MAX_DEPTH, InvalidJson, parse_json
from hub.schema import AnyObject, Arr, Bool, Int, Map, Nullable, Obj, Scalar, Schema, Str
from hub.signing import SIGNATURE
from hub.signing import sign as telephony_signature
from tests.helpers import customer_message, eventually, make_config

# The platform's endpoint for replies (nothing listens: a reply is queued, as the tests need;
# without a callback_url the channel only receives and refuses replies).
REPLIES_URL = "http://127.0.0.1:9/replies"

SECRET = "webhook-secret-for-input-tests"
PBX_SECRET = "telephony-secret-for-input-tests"
MARK = "\x00poison\x00"  # stands for the value that replaces a string in the JSON text

# JSON texts for a value that json.loads takes but the hub cannot keep, or that breaks it.
POISONS: dict[str, bytes] = {
    "lone-surrogate": b'"\\ud800"',
    "lone-low-surrogate": b'"a\\udfffb"',
    "deep-array": b"[" * 30_000 + b"]" * 30_000,  # deep enough for a RecursionError in json.loads
    "deeper-than-allowed": b'{"a":' * (MAX_DEPTH + 5) + b"1" + b"}" * (MAX_DEPTH + 5),
    "5000-digit-int": b"9" * 5000,
    "int-beyond-64-bit": str(2**70).encode(),
    "nan": b"NaN",
    "invalid-utf8": b'"\xff\xfe"',
}
POISON_IDS = list(POISONS)


def poisoned(shape: Any, poison: bytes) -> Iterator[bytes]:
    """The valid body `shape` with each string in it, in turn, replaced by `poison`."""
    paths = list(_string_paths(shape, ()))
    for path in paths or [()]:
        body = json.loads(json.dumps(shape))
        if path:
            _set(body, path, MARK)
        else:
            body = {"x": MARK}
        text = json.dumps(body, ensure_ascii=True).encode()
        yield text.replace(json.dumps(MARK).encode(), poison)


def _string_paths(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _string_paths(inner, (*path, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _string_paths(inner, (*path, i))


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for key in path[:-1]:
        value = value[key]
    value[path[-1]] = new


@dataclass
class Site:
    client: TestClient
    hub: Hub
    bearer: dict[str, str]
    ids: dict[str, str]
    database: Path

    def snapshot(self) -> dict[str, int]:
        """Row counts of every table, and stored files: what 'nothing stored' compares."""
        with sqlite3.connect(self.database) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            counts = {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        blobs = self.hub.config.data_dir / "blobs"
        counts["blob files"] = sum(1 for p in blobs.rglob("*") if p.is_file()) if blobs.exists() else 0
        return counts


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    config = make_config(
        tmp_path,
        {
            "channels": {
                "api": {"type": "webhook", "secret": SECRET, "callback_url": REPLIES_URL},
                # long messages: a socket frame may then be big enough to carry the deep poison
                "web": {
                    "type": "webchat",
                    "secret": "webchat-secret-for-input-tests",
                    "max_message_chars": 30_000,
                    "sites": {"default": {"identity_secret": "identity-secret-for-input-tests"}},
                },
            },
            # their record kinds: the /v1/records and /v1/complaints routes reach real code
            "plugins": {"enabled": ["disputes", "complaints"]},
            "hotline": {"webhook_secret": PBX_SECRET},
        },
    )
    hub = Hub(config)
    client = TestClient(TestServer(build_app(hub)))
    await client.start_server()
    admin = await hub.store.accounts.get_agent_by_email(DEFAULT_ADMIN_EMAIL)  # created at start: no second hashing
    assert admin is not None
    _token, secret = await hub.services.accounts.issue_token(admin.id, "fuzz")
    record = await hub.ingest(customer_message("m-1", channel="api"))
    await eventually(lambda: not hub.pipeline._tasks)  # its plugin run (and ticket lease) is over before the snapshots
    await hub.store.inbox.list_conversations(ConversationQuery(search="log"))  # indexes the backlog now, not mid-test
    ids = {
        "conversation_id": record.conversation.id,
        "message_id": record.message.id,
        "contact_id": record.conversation.contact_id,
        "agent_id": admin.id,
        "number": str(record.conversation.number),
        "canned_id": "nope",
        "token_id": "nope",
        "ref": "nope",
        "team_id": "finance",
        "category_id": "faq",
        "plugin": "disputes",
        "kind": "dispute",
        "record_id": "nope",
        "callback_id": "nope",
        "key": "order_no",
        "webhook_id": "nope",
        "delivery_id": "nope",
        "entry_id": "nope",
        "article_id": "nope",
        "version": "1",
        "case_id": "nope",
        "proposal_id": "nope",
        "complaint_id": "nope",
        "follow_up_id": "nope",
        "scorecard_id": "nope",
    }
    yield Site(client, hub, {"Authorization": f"Bearer {secret}"}, ids, config.data_dir / "helpline.sqlite3")
    await client.close()


# -- the signed webhook ---------------------------------------------------------------------
WEBHOOK_BODY = {
    "id": "p-1",
    "sender": {"id": "user-9", "name": "陈静", "email": "chen@example.com"},
    "thread": "order-5531",
    "text": "我的订单还没到",
    "subject": "order",
    "sent_at": "2026-01-02T03:04:05+00:00",
}


async def test_webhook_bodies_get_400_and_store_nothing(site: Site) -> None:
    before = site.snapshot()
    for poison in POISON_IDS:
        for body in poisoned(WEBHOOK_BODY, POISONS[poison]):
            resp = await site.client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
            answer = await resp.json()
            assert resp.status == 400, (poison, body[:120], answer)
            assert answer["error"] == "invalid_message"
    assert site.snapshot() == before


async def test_a_key_written_twice_in_one_object_gets_400_and_stores_nothing(site: Site) -> None:
    """Which one counts depends on the parser: a platform whose signer keeps the first "sender"
    checked u1 while the hub filed the message under u2, the last (a trial)."""
    before = site.snapshot()
    body = b'{"id": "m9", "sender": {"id": "u1"}, "sender": {"id": "u2"}, "thread": "t1", "text": "hi"}'
    resp = await site.client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    answer = await resp.json()
    assert resp.status == 400 and "'sender' appears twice" in answer["message"], answer
    note = b'{"text": "a", "kind": "note", "text": "b"}'
    path = f"/api/v1/conversations/{site.ids['conversation_id']}/messages"
    resp = await site.client.post(path, data=note, headers={**site.bearer, "Content-Type": "application/json"})
    assert resp.status == 400, await resp.text()
    assert site.snapshot() == before


async def test_refused_webhook_requests_and_invalid_messages_are_counted(site: Site) -> None:
    def count(name: str, **labels: str) -> float:
        return site.hub.metrics.registry.get_sample_value(name, {"channel": "api", **labels}) or 0

    for body in (b"{nope", b"[1, 2", POISONS["lone-surrogate"]):  # not JSON the hub can read
        resp = await site.client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
        assert resp.status == 400
    invalid = json.dumps({"id": "p-9", "text": "no sender"}).encode()  # signed JSON, but not a message
    resp = await site.client.post("/channels/api/messages", data=invalid, headers=signed_headers(SECRET, invalid))
    assert resp.status == 400
    unsigned = json.dumps(WEBHOOK_BODY).encode()
    resp = await site.client.post("/channels/api/messages", data=unsigned, headers=signed_headers("another", unsigned))
    assert resp.status == 401
    assert count("helpline_requests_refused_total", reason="malformed") == 3
    assert count("helpline_requests_refused_total", reason="bad_signature") == 1
    assert count("helpline_messages_rejected_total") == 1


@pytest.mark.parametrize(
    "timestamp",
    ["9" * 5000, "1" * 13, "²", "١٢٣", "1e9", "-5", "0x10"],
    ids=["5000-digits", "13-digits", "superscript", "arabic-digits", "exponent", "negative", "hex"],
)
async def test_a_malformed_timestamp_header_gets_400(site: Site, timestamp: str) -> None:
    body = json.dumps(WEBHOOK_BODY).encode()
    headers = {TIMESTAMP: timestamp, "X-Helpline-Signature": sign(SECRET, "1", body)}
    before = site.snapshot()
    resp = await site.client.post("/channels/api/messages", data=body, headers=headers)
    assert resp.status == 400 and (await resp.json())["error"] == "bad_header"
    assert site.snapshot() == before


async def test_a_non_ascii_signature_header_gets_401(site: Site) -> None:
    body = json.dumps(WEBHOOK_BODY).encode()
    headers = {**signed_headers(SECRET, body), "X-Helpline-Signature": "v1=ü"}
    before = site.snapshot()
    resp = await site.client.post("/channels/api/messages", data=body, headers=headers)
    assert resp.status == 401 and (await resp.json())["error"] == "bad_signature"
    assert site.snapshot() == before


@pytest.mark.parametrize("sent_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_times_at_the_edge_of_the_calendar_are_refused_or_kept_never_500(site: Site, sent_at: str) -> None:
    body = json.dumps({**WEBHOOK_BODY, "sent_at": sent_at}).encode()
    resp = await site.client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    assert resp.status in (200, 400), await resp.text()


# -- the web-chat widget ----------------------------------------------------------------------
SESSION_BODIES = [
    {"site": "default"},
    {"site": "default", "user": {"id": "u-1", "email": "li@example.com", "name": "Li", "hash": "00"}},
]


async def test_widget_session_bodies_get_400_and_store_nothing(site: Site) -> None:
    before = site.snapshot()
    for poison in POISON_IDS:
        for shape in SESSION_BODIES:
            for body in poisoned(shape, POISONS[poison]):
                resp = await site.client.post("/channels/web/session", data=body)
                answer = await resp.json()
                assert resp.status == 400, (poison, body[:120], answer)
    assert site.snapshot() == before


@pytest.mark.parametrize(
    "user",
    [
        {"id": "u-1", "email": 5, "hash": "00"},
        {"id": "u-1", "email": ["a@b.c"], "hash": "00"},
        {"id": "u-1", "name": {"first": "Li"}, "hash": "00"},
        {"id": "u-1", "hash": 7},
    ],
    ids=["email-number", "email-list", "name-object", "hash-number"],
)
async def test_a_widget_user_field_of_the_wrong_type_gets_400(site: Site, user: dict[str, Any]) -> None:
    resp = await site.client.post("/channels/web/session", json={"site": "default", "user": user})
    assert resp.status == 400, await resp.text()


@pytest.mark.parametrize("body", [{"site": 5}, {"site": ["default"]}], ids=["number", "list"])
async def test_a_widget_site_that_is_not_a_string_gets_400(site: Site, body: dict[str, Any]) -> None:
    resp = await site.client.post("/channels/web/session", json=body)
    assert resp.status == 400, await resp.text()


async def test_a_non_ascii_identity_hash_is_refused_not_a_crash(site: Site) -> None:
    user = {"id": "u-1", "hash": "é" * 64}
    resp = await site.client.post("/channels/web/session", json={"site": "default", "user": user})
    assert resp.status == 403, await resp.text()


async def visitor_token(site: Site) -> str:
    resp = await site.client.post("/channels/web/session", json={"site": "default"})
    assert resp.status == 200
    return str((await resp.json())["token"])


async def test_widget_email_bodies_get_400_and_store_nothing(site: Site) -> None:
    token = await visitor_token(site)
    before = site.snapshot()
    for poison in POISON_IDS:
        for body in poisoned({"token": token, "email": "li@example.com"}, POISONS[poison]):
            resp = await site.client.post("/channels/web/email", data=body)
            assert resp.status == 400, (poison, body[:120], await resp.text())
    assert site.snapshot() == before


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"hello", "text/plain"),
        (b"--x\r\nfoo", "multipart/form-data; boundary=y"),
        (b"--x\r\nfoo", "multipart/form-data"),
        (b'{"file": "x"}', "application/json"),
    ],
    ids=["not-multipart", "wrong-boundary", "no-boundary", "json"],
)
async def test_widget_uploads_that_are_not_multipart_get_400_and_store_nothing(
    site: Site, body: bytes, content_type: str
) -> None:
    token = await visitor_token(site)
    before = site.snapshot()
    resp = await site.client.post(
        f"/channels/web/upload?token={token}", data=body, headers={"Content-Type": content_type}
    )
    assert resp.status == 400, await resp.text()
    assert site.snapshot() == before


async def test_widget_attachment_fields_of_the_wrong_type_are_refused_and_the_socket_keeps_working(
    site: Site,
) -> None:
    token = await visitor_token(site)
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 hello", filename="a.pdf", content_type="application/pdf")
    resp = await site.client.post(f"/channels/web/upload?token={token}", data=form)
    assert resp.status == 200, await resp.text()
    upload = await resp.json()
    async with site.client.ws_connect(f"/channels/web/ws?token={token}") as ws:
        before = site.snapshot()
        for size in ("abc", 10**30, -1, 1.5, None, [1]):  # 10**30: refused by the JSON reader already
            attachment = {**upload, "size": size}
            await ws.send_json(
                {"type": "message", "client_id": f"c-{size!r}", "text": "x", "attachments": [attachment]}
            )
            reply = await ws.receive_json(timeout=5)
            assert reply["type"] == "error" and reply["code"] in ("invalid", "bad_frame"), reply
        assert site.snapshot() == before
        await ws.send_json({"type": "message", "client_id": "c-ok", "text": "fine", "attachments": [upload]})
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "ack", reply


async def test_widget_frames_that_cannot_be_kept_are_refused_and_the_socket_keeps_working(site: Site) -> None:
    token = await visitor_token(site)
    shape = {"type": "message", "client_id": "c-1", "text": "hello"}
    async with site.client.ws_connect(f"/channels/web/ws?token={token}") as ws:
        before = site.snapshot()
        sent = 0
        for poison in POISON_IDS:
            for frame in poisoned(shape, POISONS[poison]):
                try:
                    text = frame.decode()
                except UnicodeDecodeError:
                    continue  # a text frame is UTF-8 by definition: the client cannot send it
                await ws.send_str(text)
                sent += 1
        for _ in range(sent):
            reply = await ws.receive(timeout=5)
            assert reply.type == WSMsgType.TEXT, reply
            assert json.loads(reply.data)["code"] in ("bad_frame", "invalid_text"), reply.data
        assert site.snapshot() == before
        await ws.send_json({"type": "message", "client_id": "c-ok", "text": "still here"})
        reply = await ws.receive_json(timeout=5)
        assert reply["type"] == "ack" and reply["message"]["text"] == "still here"


# -- the REST API -------------------------------------------------------------------------------
def sample(schema: Schema) -> Any:
    """A value the schema accepts, with a string wherever one fits (to be poisoned)."""
    if isinstance(schema, Str):
        return schema.choices[0] if schema.choices else "x" * max(1, schema.min_length)
    if isinstance(schema, Int):
        return schema.minimum if schema.minimum is not None else 1
    if isinstance(schema, Bool):
        return True
    if isinstance(schema, Arr):
        return [sample(schema.items)]
    if isinstance(schema, Nullable):
        return sample(schema.inner)
    if isinstance(schema, Obj):
        return {name: sample(field) for name, field in schema.fields.items()}
    if isinstance(schema, AnyObject):  # a plugin record's data: the kind's JSON Schema judges it
        return {"order": "x"}
    if isinstance(schema, Map):
        return {"2027-01-01": sample(schema.values)}
    if isinstance(schema, Scalar):
        return "x"
    raise AssertionError(f"no sample for {schema!r}")


BODY_ROUTES = [route for route in api.routes if route.body is not None]


def route_path(site: Site, route: Route) -> str:
    return "/api" + re.sub(r"{(\w+)}", lambda m: site.ids[m.group(1)], route.path)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=[f"{r.method} {r.path}" for r in BODY_ROUTES])
async def test_every_api_body_route_answers_400_to_poison_and_stores_nothing(site: Site, route: Route) -> None:
    assert route.body is not None
    shape = sample(route.body)
    before = site.snapshot()
    for poison in POISON_IDS:
        for body in poisoned(shape, POISONS[poison]):
            resp = await site.client.request(
                route.method,
                route_path(site, route),
                data=body,
                headers={**site.bearer, "Content-Type": "application/json"},
            )
            answer = await resp.json()
            assert resp.status == 400 and answer["error"] == "bad_json", (poison, body[:120], answer)
    assert site.snapshot() == before


PARAM_ROUTES = [route for route in api.routes if "{" in route.path]
ODD_PARAMS = ["9" * 5000, "9" * 25, "²", "١٢٣", "%ED%A0%80", "%FF", "x" * 5000, "..%2F..", "%00", "-1"]


async def test_every_api_route_with_odd_path_parameters_never_gets_a_5xx_and_stores_nothing(site: Site) -> None:
    before = site.snapshot()
    for route in PARAM_ROUTES:
        body = json.dumps(sample(route.body)).encode() if route.body is not None else None
        for value in ODD_PARAMS:
            path = "/api" + re.sub(r"{(\w+)}", value, route.path)
            resp = await site.client.request(
                route.method, path, data=body, headers={**site.bearer, "Content-Type": "application/json"}
            )
            assert resp.status < 500, (route.method, path[:120], await resp.text())
    assert site.snapshot() == before


QUERY_ROUTES = [route for route in api.routes if route.query]


async def test_api_query_strings_never_get_a_5xx(site: Site) -> None:
    for route in QUERY_ROUTES:
        for value in ("%ED%A0%80", "%FF", "9" * 5000, "%00", "x" * 5000):
            for name in route.query:
                url = f"{route_path(site, route)}?{name}={value}"
                resp = await site.client.request(route.method, url, headers=site.bearer)
                assert resp.status < 500, (url[:120], await resp.text())


async def test_custom_field_filters_never_get_a_5xx(site: Site) -> None:
    for name in ("order_no", "x" * 5000, "%ED%A0%80", "%00"):
        for value in ("%ED%A0%80", "%FF", "9" * 5000, "%00", "x" * 5000, ""):
            url = f"/api/v1/conversations?field.{name}={value}&q=abcdef"
            resp = await site.client.request("GET", url, headers=site.bearer)
            assert resp.status < 500, (url[:120], await resp.text())


async def test_odd_authorization_headers_get_401(site: Site) -> None:
    for header in ("Bearer \xff\xfe", "Bearer " + "x" * 5000, "Basic ü", "Bearer"):
        resp = await site.client.get("/api/v1/me", headers={"Authorization": header})
        assert resp.status == 401, (header[:20], await resp.text())


def test_the_shared_reader_keeps_what_it_should() -> None:
    text = '{"emoji": "\\ud83d\\ude00", "n": -9223372036854775808, "f": 1.5, "nested": [[[{"a": null}]]]}'
    assert parse_json(text.encode()) == {
        "emoji": "😀",
        "n": -(2**63),
        "f": 1.5,
        "nested": [[[{"a": None}]]],
    }


def test_the_shared_reader_ignores_a_byte_order_mark_and_refuses_long_numbers_in_its_own_words() -> None:
    assert parse_json("\ufeff".encode() + b'{"text": "hi"}') == {"text": "hi"}
    assert parse_json('\ufeff{"text": "hi"}') == {"text": "hi"}
    for digits in ("9" * 5000, "-" + "9" * 5000, "9" * 20):
        with pytest.raises(InvalidJson) as refused:
            parse_json(f'{{"n": {digits}}}')
        assert str(refused.value) == "a number is out of range (64-bit integers only)"
    assert parse_json('{"n": 9223372036854775807}') == {"n": 2**63 - 1}
    with pytest.raises(InvalidJson, match="a number is out of range"):
        parse_json('{"f": 1e400}')  # inf
    assert parse_json('{"f": 1e300}') == {"f": 1e300}


async def test_a_webhook_body_with_a_byte_order_mark_is_kept(site: Site) -> None:
    """Some Windows tools write one before UTF-8; RFC 8259 lets a reader ignore it (a trial's
    400 "Unexpected UTF-8 BOM")."""
    before = site.snapshot()
    body = "\ufeff".encode() + json.dumps(WEBHOOK_BODY).encode()
    resp = await site.client.post("/channels/api/messages", data=body, headers=signed_headers(SECRET, body))
    assert resp.status == 200, await resp.text()
    assert site.snapshot()["messages"] == before["messages"] + 1


# -- the telephony webhook ---------------------------------------------------------------------
CALL_REPORT = {"call_id": "pbx-1", "event": "ended", "number": "+8613812345678", "at": "2026-01-02T03:04:05+00:00"}


def pbx_headers(body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {TIMESTAMP: timestamp, SIGNATURE: telephony_signature(PBX_SECRET, timestamp, body)}


async def test_signed_telephony_reports_with_poison_get_400_and_store_nothing(site: Site) -> None:
    before = site.snapshot()
    for poison in POISON_IDS:
        for body in poisoned(CALL_REPORT, POISONS[poison]):
            resp = await site.client.post("/api/v1/telephony/events", data=body, headers=pbx_headers(body))
            answer = await resp.json()
            assert resp.status == 400 and answer["error"] == "bad_json", (poison, body[:120], answer)
    assert site.snapshot() == before


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_hotline_times_at_the_edge_of_the_calendar_get_a_4xx_never_a_500(site: Site, at: str) -> None:
    before = site.snapshot()
    report = json.dumps({**CALL_REPORT, "at": at}).encode()
    resp = await site.client.post("/api/v1/telephony/events", data=report, headers=pbx_headers(report))
    assert resp.status == 422, await resp.text()
    for body in (
        {"number": "+8613812345678", "direction": "in", "started_at": at},
        {"number": "+8613812345678", "direction": "in", "callback": {"due_at": at}},
    ):
        resp = await site.client.post("/api/v1/calls", json=body, headers=site.bearer)
        assert resp.status == 422, (body, await resp.text())
    assert site.snapshot() == before


# -- schema-valid edge values at real objects (schemathesis-style) --------------------------------
# Each body route gets bodies its own schema accepts, one field at a time at an edge: the longest
# and shortest strings, odd text, each choice, the integer bounds, empty and full lists, null.
# These pass the schema and reach the handlers, the services and the store: any 5xx is a bug.
ODD_TEXTS = (
    *("\x00", "'; DROP TABLE conversations; --", "😀\u200b\u202e", "%ED%A0%80", "../..", "-1", "1e999"),
    *("2026-02-30", "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"),
    *("24:00", "23:59-00:00", "00:00-00:00", "+0", "+99999999999999999999", "mon-sun"),
)


def edge_values(schema: Schema) -> list[Any]:
    """Values `schema` accepts, at its edges."""
    if isinstance(schema, Str):
        if schema.choices:
            return list(schema.choices)
        low, high = max(schema.min_length, 0), min(schema.max_length, 20_000)
        texts = ["x" * max(low, 1), "界" * high, " " * max(low, 1), *ODD_TEXTS]
        return [t for t in texts if low <= len(t) <= high] + ([""] if low == 0 else [])
    if isinstance(schema, Int):
        low = schema.minimum if schema.minimum is not None else -(2**63)
        high = schema.maximum if schema.maximum is not None else 2**63 - 1
        return sorted({low, high, max(low, min(high, 0))})
    if isinstance(schema, Bool):
        return [True, False]
    if isinstance(schema, Arr):
        inner = edge_values(schema.items)
        return [[], inner[:1] * schema.max_items, *[[v] for v in inner[:4]]]
    if isinstance(schema, Nullable):
        return [None, *edge_values(schema.inner)]
    if isinstance(schema, Obj):
        return [sample(schema), {k: sample(v) for k, v in schema.fields.items() if k in schema.required}]
    if isinstance(schema, Map):
        value = sample(schema.values)
        return [{}, {"\x00": value}, {"x" * schema.key_max_length: value}, {"2027-02-30": value, "": value}]
    if isinstance(schema, Scalar):
        return [None, 0, -1, 2**63 - 1, 1e308, True, "", "9" * 999, {"amount": "1e999", "currency": "CNY"}]
    if isinstance(schema, AnyObject):
        return [{}, {"order": None}, {"order": "x" * 5000}, {"order": [1, {"a": None}]}]
    raise AssertionError(f"no edge values for {schema!r}")


SHIFT = {"kind": "pattern", "start": "08:00", "end": "16:00", "weekdays": ["mon-fri"]}
ROSTER_CSV = (
    "kind,label,duty,agents,weekdays,start,end,date,until,pattern,replaces\n"
    "pattern,早班,shift,{agent},mon-fri,08:00,16:00,,,,\n"
)


def valid_bodies(ids: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """A body each route accepts (its fields then vary one at a time): it gets past the first check."""
    return {
        ("POST", "/v1/auth/login"): {"email": DEFAULT_ADMIN_EMAIL, "password": "not-the-password"},
        ("PATCH", "/v1/me"): {"language": "en"},
        ("POST", "/v1/conversations/{conversation_id}/messages"): {"text": "hello", "kind": "note"},
        ("PATCH", "/v1/conversations/{conversation_id}"): {"priority": "high"},
        ("POST", "/v1/conversations/{conversation_id}/merge"): {"into": ids["other_conversation"]},
        ("POST", "/v1/messages/{message_id}/move"): {"conversation_id": ids["other_conversation"]},
        ("POST", "/v1/conversations/{conversation_id}/handoff"): {"team": "finance", "reason": "needs finance"},
        ("PATCH", "/v1/contacts/{contact_id}"): {"name": "Li"},
        ("POST", "/v1/contacts/{contact_id}/merge"): {"into": ids["other_contact"]},
        ("POST", "/v1/canned"): {"shortcut": "hi", "title": "Hi", "text": "Hello"},
        ("POST", "/v1/teams"): {"id": "vip", "names": {"en": "VIP"}},
        ("PATCH", "/v1/teams/{team_id}"): {"visibility": "team"},
        ("POST", "/v1/categories"): {"id": "refund", "names": {"en": "Refund"}},
        ("PATCH", "/v1/categories/{category_id}"): {"default_priority": "low"},
        ("PUT", "/v1/teams/{team_id}/calendar"): {"timezone": "Asia/Shanghai", "hours": {"mon": ["09:00-18:00"]}},
        ("POST", "/v1/teams/{team_id}/calendar/import"): {"ics": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"},
        ("POST", "/v1/categories/{category_id}/fields"): {"key": "amount", "type": "text", "labels": {"en": "A"}},
        ("PATCH", "/v1/categories/{category_id}/fields/{key}"): {"labels": {"en": "Order"}},
        ("POST", "/v1/agents"): {"email": "new@example.com", "role": "agent", "password": "a-long-password-1"},
        ("PATCH", "/v1/agents/{agent_id}"): {"name": "Boss"},
        ("POST", "/v1/tokens"): {"name": "more"},
        ("POST", "/v1/records/{plugin}/{kind}"): {"conversation_id": ids["conversation_id"], "data": {"order": "A"}},
        ("PATCH", "/v1/records/{plugin}/{kind}/{record_id}"): {"status": "waiting"},
        ("POST", "/v1/webhooks"): {"url": "https://hooks.example.com/x", "events": ["ticket.*"]},
        ("PATCH", "/v1/webhooks/{webhook_id}"): {"active": False},
        ("POST", "/v1/calls"): {"number": "+8613812345678", "direction": "in"},
        ("POST", "/v1/conversations/{conversation_id}/callbacks"): {
            "due_at": "2099-01-01T08:00:00Z",  # a callback must be due in the future
            "number": "+8613812345678",
        },
        ("PATCH", "/v1/callbacks/{callback_id}"): {"status": "done"},
        ("POST", "/v1/roster/entries"): {"team": "finance", "agents": [ids["agent_id"]], **SHIFT},
        ("PATCH", "/v1/roster/entries/{entry_id}"): {"end": "17:00"},
        ("PATCH", "/v1/roster/settings/{team_id}"): {"timezone": "Asia/Shanghai"},
        ("POST", "/v1/roster/import"): {"team": "finance", "csv": ROSTER_CSV.format(agent=DEFAULT_ADMIN_EMAIL)},
        ("PATCH", "/v1/agents/{agent_id}/profile"): {"capacity": 3},
        ("PUT", "/v1/me/presence"): {"status": "away"},
        ("POST", "/v1/kb/proposals/{proposal_id}/approve"): {"question": "能开发票吗", "article_id": ""},
        ("POST", "/v1/conversations/{conversation_id}/complaint"): {"kind": "suggestion", "summary": "dark mode"},
        ("POST", "/v1/complaints/{complaint_id}/move"): {"status": "investigating"},
        ("POST", "/v1/complaints/{complaint_id}/outcome"): {"outcome": "refunded"},
        ("POST", "/v1/complaints/{complaint_id}/follow-ups"): {
            "text": "call the seller",
            "owner": ids["agent_id"],
            "due": "2030-01-01T08:00:00Z",
        },
        ("POST", "/v1/qa/scorecards"): SCORECARD,
        ("PUT", "/v1/qa/scorecards/{scorecard_id}"): SCORECARD,
        ("POST", "/v1/conversations/{conversation_id}/qa"): {"scorecard_id": ids["scorecard_id"], "scores": {"fix": 4}},
    }


SCORECARD = {"name": "Chat", "criteria": [{"id": "fix", "label": "Solves it", "kind": "scale", "critical": True}]}


UNIQUE = ("id", "shortcut", "key", "email")  # a create route's new object: each variant names its own


def edge_bodies(body: Obj, base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The valid body `base` with each field, in turn, at each of its edge values."""
    variants = [("", base), ("", {k: v for k, v in sample(body).items() if k in body.required} or sample(body))]
    variants += [(name, {**base, name: value}) for name, field in body.fields.items() for value in edge_values(field)]
    for n, (varied, shape) in enumerate(variants):
        yield {k: f"u{n}_{v}" if k in UNIQUE and k != varied and isinstance(v, str) else v for k, v in shape.items()}


async def real_ids(site: Site) -> dict[str, str]:
    """Path ids of real objects, so that the routes' handlers go past their lookups."""

    async def made(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await site.client.post("/api" + path, json=body, headers=site.bearer)
        assert resp.status == 201, (path, await resp.text())
        return dict(await resp.json())

    conversation = site.ids["conversation_id"]
    other = await site.hub.ingest(customer_message("m-2", "another customer", channel="api", thread="t-2"))
    record = await made("/v1/records/disputes/dispute", {"conversation_id": conversation, "data": {"order": "A1"}})
    webhook = await made("/v1/webhooks", {"url": "https://hooks.example.com/in", "events": ["ticket.*"]})
    callback = await made(
        f"/v1/conversations/{conversation}/callbacks", {"due_at": "2099-01-01T08:00:00Z", "number": "+8613812345678"}
    )
    await made("/v1/categories/faq/fields", {"key": "order_no", "type": "text", "labels": {"en": "Order"}})
    entry = await made("/v1/roster/entries", {"team": "finance", "agents": [site.ids["agent_id"]], **SHIFT})
    article = await made("/v1/kb/articles", {"id": "pw", "title": "忘记密码", "answer": "点 **忘记密码**。"})
    await made(f"/v1/conversations/{other.conversation.id}/messages", {"text": "resolved: try again"})
    resolved = await site.client.patch(
        f"/api/v1/conversations/{other.conversation.id}", json={"status": "resolved"}, headers=site.bearer
    )
    assert resolved.status == 200, await resolved.text()  # an agent's answer and resolve: a proposal to review
    assert await site.hub.services.learning.get(proposal_id(other.conversation.id))
    complaint = await site.client.get("/api/v1/complaints", headers=site.bearer)
    filed = (await complaint.json())["items"] or [
        await made(f"/v1/conversations/{other.conversation.id}/complaint", {"kind": "complaint", "subject": "order"})
    ]
    followed = await site.client.post(
        f"/api/v1/complaints/{filed[0]['id']}/follow-ups",
        json={"text": "call", "owner": site.ids["agent_id"], "due": "2030-01-01T08:00:00Z"},
        headers=site.bearer,
    )
    follow_up = (await followed.json())["data"]["follow_ups"][0]["id"]
    scorecard = await made("/v1/qa/scorecards", SCORECARD)
    ticket = await site.hub.store.tickets.get_conversation(conversation)
    assert ticket is not None  # another agent worked it: the admin's review of it reaches the store
    worker = await site.hub.store.accounts.add_agent(Agent(new_id(), "worker@example.com", Role.AGENT, "-", "Worker"))
    await site.hub.services.conversations.update_by(ticket, {"assignee_id": worker.id}, who="A", names={})
    return {
        **site.ids,
        "record_id": record["id"],
        "webhook_id": webhook["id"],
        "callback_id": callback["id"],
        "entry_id": entry["id"],
        "complaint_id": filed[0]["id"],
        "follow_up_id": follow_up,
        "article_id": article["id"],  # its versions and the FAQ bot's figures for it
        "scorecard_id": scorecard["id"],
        "other_conversation": other.conversation.id,
        "other_contact": other.conversation.contact_id,
        "proposal_id": proposal_id(other.conversation.id),
    }


@pytest.mark.parametrize("route", BODY_ROUTES, ids=[f"{r.method} {r.path}" for r in BODY_ROUTES])
async def test_every_api_body_route_answers_schema_valid_edge_values_without_a_5xx(site: Site, route: Route) -> None:
    assert route.body is not None
    ids = await real_ids(site)
    path = "/api" + re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], route.path)
    # A route not listed yet starts from the schema's sample: walked still, if less deeply.
    base = valid_bodies(ids).get((route.method, route.path)) or sample(route.body)
    for body in edge_bodies(route.body, base):
        resp = await site.client.request(route.method, path, json=body, headers=site.bearer)
        assert resp.status < 500, (route.method, path, json.dumps(body)[:200], await resp.text())


def query_text(value: Any) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


async def test_every_api_route_without_a_body_answers_real_ids_and_edge_queries_without_a_5xx(site: Site) -> None:
    ids = await real_ids(site)
    reads = [r for r in api.routes if r.body is None and r.path != "/v1/live"]  # the socket: test_api
    for route in sorted(reads, key=lambda r: r.method == "DELETE"):  # deletions last: the rest reach real objects
        path = "/api" + re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], route.path)
        base = {"team": "finance"} if route.path.startswith("/v1/roster") else {}  # the week of a team
        if route.path.startswith("/v1/reports"):  # a valid period, so each edge value reaches the figures
            base = {"from": "2027-03-01", "to": "2027-03-31"}  # unknown parameters are refused (422)
            base |= {"table": "agents", "format": "xlsx"} if route.path.endswith("/export") else {}
        queries = [base] + [
            {**base, name: query_text(v)} for name, schema in route.query.items() for v in edge_values(schema)
        ]
        for query in queries:
            resp = await site.client.request(route.method, path, params=query, headers=site.bearer)
            assert resp.status < 500, (route.method, path, query, (await resp.text())[:300])


async def test_a_signature_in_capital_hex_is_accepted(site: Site) -> None:
    """An integrator's Java helper wrote the HMAC in capitals and got 401 "does not match"."""
    body = json.dumps({**WEBHOOK_BODY, "id": "capital-hex"}).encode()
    headers = signed_headers(SECRET, body)
    headers["X-Helpline-Signature"] = "v1=" + headers["X-Helpline-Signature"].removeprefix("v1=").upper()
    resp = await site.client.post("/channels/api/messages", data=body, headers=headers)
    assert resp.status == 200, await resp.text()
    wrong = {**headers, "X-Helpline-Signature": "V1=" + headers["X-Helpline-Signature"][3:]}  # the scheme is v1
    assert (await site.client.post("/channels/api/messages", data=body, headers=wrong)).status == 401
