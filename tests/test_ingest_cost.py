"""What each message costs on the common path: work skipped when a message cannot need it.

Counted, not timed (the machine may be busy): which scans run, which catalogs load, and
how many SQL statements storing a message takes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType

import pytest

from conversation import redaction, secrets
from conversation.areas.tickets import Ticketing
from conversation.codec import conversation_to_doc, to_epoch_ms
from conversation.inbound import Inbound, InboundLimits, Sender, validate_inbound, with_changes
from conversation.model import Attachment, Priority, Status, utcnow
from conversation.priority_rules import KeywordMatch, KeywordRules, priority_from_keywords
from conversation.routing import inbound_message, new_conversation
from conversation.sqlite import SQLiteStore
from conversation.sqlite.db import (
    CONTACT_OF_IDENTITY,
    CONTACT_WITH_IDENTITIES,
    CONVERSATION_TIMES,
    SCHEMA,
    _columns,
    _conversation,
    _insert_message,
    _row,
    named_rows,
)
from conversation.sqlite.worker import SQLiteWorker
from hub import i18n, privacy
from hub.app import Hub
from hub.config import parse_config
from hub.events import Event, Subscription
from hub.privacy import SecretsGuard


def _refuse(*_args: object, **_kwargs: object) -> object:
    raise AssertionError("not needed for this message")


@pytest.mark.parametrize("text", ["Please refund my payment", "我无法登录我的账户", ""])
def test_a_message_without_digits_or_a_password_word_skips_every_pattern(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    for scan in ("_resident_ids", "_cards", "_cvvs", "_codes", "_passwords"):
        monkeypatch.setattr(secrets, scan, _refuse)
    assert secrets.find_secrets(text) == []


def test_a_number_without_a_word_for_a_code_skips_the_code_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    for scan in ("_cvvs", "_codes", "_passwords"):
        monkeypatch.setattr(secrets, scan, _refuse)
    assert secrets.find_secrets("My order #5531 never arrived (123), 我无法登录我的账户") == []


def test_a_text_with_fewer_digits_than_a_card_skips_the_card_and_id_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    for scan in ("_resident_ids", "_cards"):
        monkeypatch.setattr(secrets, scan, _refuse)
    text = "My order #5531 never arrived (123), code ５５３１"
    assert [(f.kind, text[f.start : f.end]) for f in secrets.find_secrets(text)] == [
        (secrets.SecretKind.ONE_TIME_CODE, "５５３１")
    ]


def test_without_digits_only_the_password_pattern_reads_a_password() -> None:
    text = "my password is Hunter-two please"
    assert [(f.kind, text[f.start : f.end]) for f in secrets.find_secrets(text)] == [
        (secrets.SecretKind.PASSWORD, "Hunter-two")
    ]


def test_a_message_with_no_secret_loads_no_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "hub_texts", _refuse)
    monkeypatch.setattr(privacy, "best_locale", _refuse)
    inbound = Inbound(
        channel="chat",
        external_id="m1",
        sender=Sender("u1", language="de"),
        thread_key="k",
        text="order 5531 is late",
    )
    cleaned, kinds = asyncio.run(SecretsGuard("en").inbound(inbound))
    assert cleaned is inbound and kinds == frozenset()


def test_a_message_with_no_secret_has_no_language_guessed_for_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "detect_language", _refuse)  # the pipeline gave the sender's already
    inbound = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="order 5531 is late")
    cleaned, kinds = asyncio.run(SecretsGuard("en").inbound(inbound))
    assert cleaned is inbound and kinds == frozenset()


def test_an_empty_subject_is_not_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[str] = []
    redact = redaction.redact

    def recorded(text: str, placeholder: secrets.Placeholder) -> tuple[str, frozenset[secrets.SecretKind]]:
        scanned.append(text)
        return redact(text, placeholder)

    monkeypatch.setattr(redaction, "redact", recorded)
    inbound = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="my card 4111")
    assert redaction.redact_inbound(inbound, lambda kind: "[removed]") == (inbound, frozenset())
    assert scanned == ["my card 4111"]


def test_a_message_with_no_secret_is_not_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redaction, "replace", _refuse)
    inbound = Inbound(
        channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="order 5531", subject="late"
    )
    assert redaction.redact_inbound(inbound, lambda kind: "[removed]") == (inbound, frozenset())


async def test_a_known_senders_message_on_an_open_ticket_takes_four_statements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    connect = SQLiteWorker._connect

    def traced(self: SQLiteWorker) -> sqlite3.Connection:
        conn = connect(self)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(SQLiteWorker, "_connect", traced)
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    policy = Ticketing(reopen_window=timedelta(days=3), first_number=1000)
    try:
        for n in (1, 2):
            statements.clear()
            message = Inbound(channel="chat", external_id=f"m{n}", sender=Sender("u1"), thread_key="k", text="hi")
            record = await store.tickets.record_inbound(message, now=utcnow(), policy=policy)
    finally:
        await store.close()
    ingest = statements[: statements.index("COMMIT")]  # the search index is filled by a later job
    work = [s.split()[0] for s in ingest if not s.startswith(("SAVEPOINT", "RELEASE", "BEGIN", "--"))]
    # Who sent it (the contact with its identities, in one read, kept current as the message
    # changes it: not read again at the end); which ticket; the message (a copy of one stored
    # before is found by its unique key here, and undone); the ticket's times.
    assert work == ["SELECT", "SELECT", "INSERT", "UPDATE"]
    assert record.contact.identities[0].address == "u1" and not record.duplicate


def test_a_bot_replys_html_is_cleaned_by_a_sanitiser_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import nh3

    from conversation.markdown_html import clean_html

    monkeypatch.setattr(nh3, "clean", _refuse)  # builds its sanitiser on every call
    assert clean_html('<p onclick="x()">Hi <a href="javascript:y()">there</a></p><script>z()</script>') == (
        '<p>Hi <a rel="noopener noreferrer nofollow">there</a></p>'
    )


async def test_a_customers_message_is_queued_for_no_worker_that_would_drop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Routing, report facts and webhooks each follow the bus; none acts on a customer's
    message (routing takes the new ticket; the facts wait for an agent's reply; no webhook is
    subscribed), so none is handed one to take off its queue and drop."""
    offered: list[str] = []
    offer = Subscription.offer

    def recorded(self: Subscription, event: Event) -> None:
        offered.append(event.type)
        offer(self, event)

    monkeypatch.setattr(Subscription, "offer", recorded)
    hub = Hub(parse_config({"hub": {"data_dir": str(tmp_path)}}))
    await hub.start()
    try:
        assert await hub.webhooks.dispatch(Event("conversation.updated", "c0", {})) == []  # reads: none subscribed
        for n in (1, 2):
            await hub.ingest(
                Inbound(channel="chat", external_id=f"m{n}", sender=Sender("u1"), thread_key="k", text="hi")
            )
    finally:
        await hub.stop()
    assert offered == ["conversation.created"]  # to routing


def calls_during(action: Callable[[], object]) -> Counter[str]:
    """The functions `action` calls, by name: Python ones as they are, built-in ones in
    brackets (a count, not a time)."""
    counted: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_back is not None and frame.f_back.f_code is not calls_during.__code__:
            counted[frame.f_code.co_name] += 1  # not `action` itself
        elif event == "c_call":
            counted[f"[{getattr(arg, '__name__', '?')}]"] += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    del counted["[setprofile]"]
    return counted


def python_calls(counted: Counter[str]) -> int:
    return sum(n for name, n in counted.items() if not name.startswith("["))


def test_checking_a_message_makes_no_call_per_check() -> None:
    inbound = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="hi")
    limits = InboundLimits()
    counted = calls_during(lambda: validate_inbound(inbound, limits))
    assert validate_inbound(inbound, limits) is inbound
    # validate_inbound, its checks, the limit on HTML and the time normalised: not one call per check
    assert python_calls(counted) <= 4, counted


def test_an_ascii_texts_language_is_guessed_in_one_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused:
        def findall(self, _text: str) -> list[str]:
            raise AssertionError("no Han, kana or Hangul to count in ASCII")

    monkeypatch.setattr(i18n, "_SCRIPTS", dict.fromkeys(("han", "kana", "hangul", "latin"), Refused()))
    assert [i18n.detect_language(t) for t in ("Please refund my payment", "#5531 (42)", "")] == ["en", "", ""]


def test_the_senders_language_is_set_reading_each_field_once() -> None:
    inbound = Inbound(
        channel="mail", external_id="m1", sender=Sender("u1", "Ann", tier="gold"), thread_key="k", text="My order"
    )
    counted = calls_during(lambda: i18n.with_language(inbound))
    expected = dataclasses.replace(inbound, sender=dataclasses.replace(inbound.sender, language="en"))
    assert i18n.with_language(inbound) == expected
    assert counted["[getattr]"] == 0 and python_calls(counted) <= 8, counted  # dataclasses.replace: a getattr a field


def test_with_changes_copies_like_dataclasses_replace() -> None:
    sender = Sender("u1", "Ann", "ann@example.com", verified=True, language="de", tier="gold")
    inbound = Inbound(
        channel="mail",
        external_id="m1",
        sender=sender,
        thread_key="k",
        text="t",
        html="<p>t</p>",
        subject="s",
        attachments=(Attachment("a.txt", "text/plain", 1, "ref"),),
        choice_id="c",
        conversation_hint="h",
        participants=("cc@example.com",),
        automatic=True,
        record_only=True,
        own_threads=True,
        raw={"x": 1},
    )
    assert with_changes(inbound, text="u") == dataclasses.replace(inbound, text="u")
    assert with_changes(sender, language="fr") == dataclasses.replace(sender, language="fr")
    assert with_changes(inbound) == inbound and with_changes(inbound) is not inbound


def test_a_customers_message_becomes_its_row_in_a_few_calls() -> None:
    message = inbound_message(
        Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="hi"),
        "c1",
        "p1",
        utcnow(),
        plugins_pending=True,
    )
    written: list[tuple[str, tuple[object, ...]]] = []

    class Connection:
        def execute(self, sql: str, params: tuple[object, ...]) -> None:
            written.append((sql, params))

    conn = Connection()
    _insert_message(conn, message)  # type: ignore[arg-type]  # its INSERT's text is built once, then kept
    written.clear()
    counted = calls_during(lambda: _insert_message(conn, message))  # type: ignore[arg-type]
    sql, params = written[0]
    row = dict(zip(sql[sql.index("(") + 1 : sql.index(")")].split(", "), params, strict=True))
    assert (row["direction"], row["kind"], row["author_type"], row["plugins_done"], row["raw"]) == (
        "inbound",
        "message",
        "contact",
        0,
        None,
    )
    assert not any(name.startswith("d_") for name in row)  # no delivery: a customer's message is not sent
    # The document and its lists, the row (a time; the empty lists written without a call), the
    # statement: no enum property read, no row for a delivery it does not have.
    assert python_calls(counted) <= 10, counted


def test_keywords_are_folded_once_not_on_every_new_tickets_text() -> None:
    folds: list[str] = []

    class Keyword(str):
        def casefold(self) -> str:
            folds.append(self)
            return str.casefold(self)

    rules = KeywordRules(urgent=(Keyword("FRAUD"),), high=(Keyword("Refund"),))
    folds.clear()
    assert [priority_from_keywords(t, rules, Priority.NORMAL) for t in ("a fraud!", "refund", "hello")] == [
        KeywordMatch(Priority.URGENT, "FRAUD"),
        KeywordMatch(Priority.HIGH, "Refund"),
        None,
    ]
    assert folds == []


async def test_a_store_call_waits_on_a_timer_not_a_timeout_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = SQLiteWorker(tmp_path / "w.sqlite3", timeout=5.0)
    await worker.start()
    try:
        monkeypatch.setattr(asyncio, "wait_for", _refuse)
        monkeypatch.setattr(asyncio, "timeout", _refuse)
        assert await worker.call(lambda conn: conn.execute("SELECT 1").fetchone()[0], write=False) == 1
    finally:
        await worker.stop()


async def test_a_channels_count_of_messages_is_labelled_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = Hub(parse_config({"hub": {"data_dir": str(tmp_path)}}))
    labelled: list[str] = []
    labels = hub.metrics.ingested.labels

    def counted(channel: str) -> object:
        labelled.append(channel)
        return labels(channel)

    monkeypatch.setattr(hub.metrics.ingested, "labels", counted)
    await hub.start()
    try:
        for n in (1, 2, 3):
            await hub.ingest(
                Inbound(channel="chat", external_id=f"m{n}", sender=Sender("u1"), thread_key="k", text="hi")
            )
    finally:
        await hub.stop()
    assert labelled == ["chat"]  # prometheus_client's labels() costs more than the count it returns
    assert labels("chat")._value.get() == 3


@pytest.mark.parametrize(
    "text",
    [
        "My order #5531 never arrived",
        "my code is 5531",
        "CODE: 5531",
        "OTP 5531",
        "one time 5531",
        "验证码 5531",
        "驗證碼5531",
        "CVV 123",
        "cvc2 123",
        "安全码 123",
        "卡背面三位 123",
        "coder, clone, Ode to joy 5",
        "安 全 背 面 5",
    ],
)
def test_the_word_scans_find_what_their_words_did(text: str) -> None:
    """The CVV and one-time-code word scans start from a set of first characters; each finds
    the same word at the same place as the alternation of words it replaced."""
    for scan, words in (
        (secrets._CVV_WORD, r"[Cc](?i:v[vcn]|ode)|安全|背面"),
        (secrets._CODE_WORD, r"[Cc](?i:ode)|[Oo](?i:tp|ne)|[码碼]"),
    ):
        found, expected = scan.search(text), re.search(words, text)
        assert (found and found.span()) == (expected and expected.span()), (scan.pattern, text)


def opcodes_in(functions: tuple[Callable[..., object], ...], action: Callable[[], object]) -> int:
    """Bytecode instructions `action` runs in these functions' own frames (a count, not a time)."""
    counted = [0]
    codes = {function.__code__ for function in functions}

    def trace(frame: FrameType, event: str, arg: object) -> Callable[..., object] | None:
        if frame.f_code not in codes:
            return None
        if event == "opcode":
            counted[0] += 1
        frame.f_trace_opcodes = True  # takes effect from the frame's first line event
        return trace

    sys.settrace(trace)
    try:
        action()
    finally:
        sys.settrace(None)
    return counted[0]


def test_a_tickets_row_takes_no_python_step_per_field() -> None:
    """A document's shape (its fields and their types) is worked out once: then only the
    values not stored as they are (times, lists, flags) take a step of their own."""
    inbound = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="hi")
    doc = conversation_to_doc(new_conversation(inbound, "c1", utcnow(), 1000, None))
    row = _row(doc)
    assert len(doc) >= 25 and _row(doc) == row
    assert (row["id"], row["tags"], row["fields"], row["created_at"]) == (
        doc["_id"],
        "[]",
        "{}",
        to_epoch_ms(doc["created_at"]),
    )
    assert opcodes_in((_row, _columns), lambda: _row(doc)) <= 150  # a step a field was over 550


def test_a_rows_values_are_written_by_their_type_whatever_the_shape() -> None:
    moment = utcnow()
    assert _row({"_id": "x", "at": moment, "on": True, "tags": ["a"], "data": {}, "n": None}) == {
        "id": "x",
        "at": to_epoch_ms(moment),
        "on": 1,
        "tags": '["a"]',
        "data": "{}",
        "n": None,
    }
    assert _row({"_id": "x", "at": None, "on": False, "tags": [], "data": {"k": 1}, "n": 2}) == {
        "id": "x",
        "at": None,
        "on": 0,
        "tags": "[]",
        "data": '{"k": 1}',
        "n": 2,
    }
    assert _row({"status": Status.OPEN}) == {"status": Status.OPEN}  # a StrEnum member: a str to SQLite


async def test_a_tickets_row_is_read_without_an_enum_call_or_a_call_per_unset_time(tmp_path: Path) -> None:
    """Every message reads its ticket: its status and priority are looked up by value (an
    enum's own lookup is two Python calls), and only the times it has are converted."""
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    policy = Ticketing(reopen_window=timedelta(days=3), first_number=1000)
    try:
        inbound = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="hi")
        record = await store.tickets.record_inbound(inbound, now=utcnow(), policy=policy)
        rows = await store._worker.call(
            lambda conn: conn.execute("SELECT * FROM conversations").fetchall(), write=False
        )
    finally:
        await store.close()
    counted = calls_during(lambda: _conversation(rows[0]))
    assert _conversation(rows[0]) == record.conversation
    times = sum(getattr(record.conversation, name) is not None for name in CONVERSATION_TIMES)
    assert (counted["from_epoch_ms"], counted["__call__"], counted["__new__"]) == (times, 0, 0), counted


@pytest.mark.parametrize("query", [CONTACT_OF_IDENTITY, CONTACT_WITH_IDENTITIES])
def test_a_contacts_identities_are_read_without_a_temporary_sort(tmp_path: Path, query: str) -> None:
    conn = sqlite3.connect(tmp_path / "plan.sqlite3")
    conn.executescript(SCHEMA)
    plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", ("chat", "u1")[: query.count("?")])]
    assert not [step for step in plan if "TEMP B-TREE" in step], plan


async def test_a_contacts_identities_come_oldest_first_then_as_written(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    try:

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO contacts (id, name, email, created_at) VALUES ('c1', 'Ann', '', 1)")
            for address, at in (("late", 3000), ("early", 1000), ("tie-a", 2000), ("tie-b", 2000)):
                conn.execute("INSERT INTO identities VALUES ('chat', ?, 'c1', '', 0, ?)", (address, at))

        await store._worker.call(write)
        contact = await store.contacts.get_contact("c1")
        policy = Ticketing(reopen_window=timedelta(days=3), first_number=1000)
        inbound = Inbound(channel="chat", external_id="m1", sender=Sender("late"), thread_key="k", text="hi")
        record = await store.tickets.record_inbound(inbound, now=utcnow(), policy=policy)
    finally:
        await store.close()
    assert contact is not None and [i.address for i in contact.identities] == ["early", "tie-a", "tie-b", "late"]
    assert record.contact == contact


async def test_a_reads_column_names_are_kept_per_statement_and_follow_a_new_column(tmp_path: Path) -> None:
    """Every message reads its ticket and contact: their dicts take the names this connection
    kept for the statement (strings whose hashes are known, matched by identity), not new
    ones from the cursor; a column another hub process adds is a new shape, read in full."""
    store = SQLiteStore(tmp_path / "helpline.sqlite3")
    await store.open()
    sql = "SELECT * FROM conversations WHERE channel = ? LIMIT 1"
    try:
        inbound = Inbound(channel="chat", external_id="m1", sender=Sender("u1"), thread_key="k", text="hi")
        await store.tickets.record_inbound(inbound, now=utcnow(), policy=Ticketing(reopen_window=timedelta(days=3)))
        first, second = [await store._worker.call(lambda c: named_rows(c, sql, ("chat",)), write=False) for _ in "12"]
        assert all(a is b for a, b in zip(first[0], second[0], strict=True))
        other = sqlite3.connect(tmp_path / "helpline.sqlite3")
        other.execute("ALTER TABLE conversations ADD COLUMN later TEXT NOT NULL DEFAULT 'x'")
        other.close()
        widened = await store._worker.call(lambda c: named_rows(c, sql, ("chat",)), write=False)
    finally:
        await store.close()
    assert widened[0]["later"] == "x" and widened[0]["id"] == first[0]["id"]


def test_the_cost_harness_counts_a_trees_statements_a_message() -> None:
    """bench/ingest_cost.py (the counted cost of a message) runs against a checkout."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "bench" / "ingest_cost.py"), str(root), "70", "sql"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    first = done.stdout.splitlines()[0]
    assert re.fullmatch(rf"{root.name}: \d+\.\d\d statements/msg", first), done.stdout
    assert 4 <= float(first.split()[1]) <= 12  # a message, its ticket, contact and search index
