"""The `helpline` command, run as a real process the way an operator would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port

HELPLINE = [sys.executable, "-m", "hub.cli"]


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HELPLINE, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def start_server(cwd: Path, port: int) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [*HELPLINE, "serve", "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "listening on" in line:
            return process, lines
    process.kill()
    raise AssertionError("server did not start:\n" + "".join(lines))


def stop_server(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out
    return out


def test_serve_on_a_fresh_checkout_creates_the_first_admin_once(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    port = free_port()

    process, lines = start_server(tmp_path, port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
        assert resp.status == 200
    assert f":{port}/inbox/" in lines[-1]  # the start line says where agents work
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
        assert resp.url.endswith("/inbox/")  # and the hub's own address leads there
    output = "".join(lines) + stop_server(process)
    # no terminal reads this output (a service's log keeps it): the password is in a private file
    secret = tmp_path / "data" / "initial-admin-password"
    assert "Created the first admin agent admin@helpline.local" in output and str(secret) in output
    email, password = secret.read_text(encoding="utf-8").splitlines()  # README: the email, then the password
    assert email == "admin@helpline.local" and len(password) >= 16 and password not in output
    assert (tmp_path / "data" / "helpline.sqlite3").exists()

    process, lines = start_server(tmp_path, port)
    output = "".join(lines) + stop_server(process)
    assert "password" not in output and password not in output  # shown once, never again


def test_the_first_admin_is_named_in_the_hubs_language(tmp_path: Path) -> None:
    """Customers read an agent's name beside a reply: a zh-CN desk's first admin answered as
    "Administrator" (a trial)."""
    import sqlite3

    sample = (ROOT / "hub.toml").read_text(encoding="utf-8")
    (tmp_path / "hub.toml").write_text(sample.replace('language = "en"', 'language = "zh-CN"', 1), encoding="utf-8")
    process, _lines = start_server(tmp_path, free_port())
    stop_server(process)
    with sqlite3.connect(tmp_path / "data" / "helpline.sqlite3") as db:
        assert db.execute("SELECT name FROM agents").fetchall() == [("管理员",)]


def test_an_unreachable_store_exits_non_zero_with_one_masked_line(tmp_path: Path) -> None:
    dead = free_port()
    (tmp_path / "hub.toml").write_text(
        f'[storage]\nurl = "mongodb://support:hunter2@127.0.0.1:{dead}/helpline"\ntimeout_seconds = 0.5\n'
    )
    result = run("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert f"mongodb://support:***@127.0.0.1:{dead}/helpline" in line and "hunter2" not in result.stderr


def test_an_invalid_configuration_exits_2_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text('[channels.webhook]\ncallback_url = "https://example.org/r"\n')
    result = run("serve", cwd=tmp_path)
    assert result.returncode == 2 and "channels.webhook.secret: missing" in result.stderr


def test_check_says_what_serve_would_start_and_writes_nothing(tmp_path: Path) -> None:
    """A developer's trial checked a config by serving it, which made the data folder, the
    store and the first admin's password file."""
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    with (tmp_path / "hub.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[channels.platform]\ntype = "webhook"\nsecret = "env:PLATFORM_SECRET"\n')
    missing = run("check", cwd=tmp_path)
    assert missing.returncode == 2 and "channels.platform.secret" in missing.stderr
    assert "PLATFORM_SECRET" in missing.stderr
    os.environ["PLATFORM_SECRET"] = "s" * 32
    try:
        result = run("check", cwd=tmp_path)
    finally:
        del os.environ["PLATFORM_SECRET"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "hub.toml: valid"
    assert "  channels: platform (webhook)" in result.stdout and "store: embedded" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub.toml"]  # no data folder, no store, no admin
    (tmp_path / "hub.toml").write_text('[channels.webhook]\ncallback_url = "https://example.org/r"\n')
    bad = run("check", cwd=tmp_path)
    assert bad.returncode == 2 and "channels.webhook.secret: missing" in bad.stderr


def test_a_file_that_is_not_toml_is_named_once(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text("[hub\nport = 1\n")
    result = run("serve", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("helpline: hub.toml: not valid TOML")
    assert result.stderr.count("hub.toml") == 1


def test_init_writes_the_starter_file_and_will_not_overwrite(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "hub.toml").read_text() == (ROOT / "hub.toml").read_text()
    again = run("init", cwd=tmp_path)
    assert again.returncode == 1 and "exists" in again.stderr


def test_agent_add_with_a_given_or_generated_password(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    given = run("agent", "add", "li.na@example.com", "--role", "admin", cwd=tmp_path, stdin="correct horse battery\n")
    assert given.returncode == 0 and "added admin li.na@example.com" in given.stdout
    assert "correct horse" not in given.stdout

    generated = run("agent", "add", "wei@example.com", cwd=tmp_path, stdin="\n")
    assert generated.returncode == 0 and "password: " in generated.stdout

    duplicate = run("agent", "add", "LI.NA@example.com", cwd=tmp_path, stdin="another password\n")
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    short = run("agent", "add", "x@example.com", cwd=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "at least 10" in short.stderr

    import asyncio

    from conversation.sqlite import SQLiteStore
    from hub.agents import verify_password

    async def check() -> None:
        store = SQLiteStore(tmp_path / "data" / "helpline.sqlite3")
        await store.open()
        agent = await store.accounts.get_agent_by_email("li.na@example.com")
        await store.close()
        assert agent is not None and agent.password_hash.startswith("$argon2id$")
        assert verify_password(agent.password_hash, "correct horse battery")
        assert not verify_password(agent.password_hash, "wrong")

    asyncio.run(check())


@pytest.mark.parametrize("role", ["owner"])
def test_agent_add_rejects_an_unknown_role(tmp_path: Path, role: str) -> None:
    result = run("agent", "add", "a@example.com", "--role", role, cwd=tmp_path)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_token_create_prints_a_working_token_once(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    assert run("agent", "add", "ops@example.com", cwd=tmp_path, stdin="ops password 123\n").returncode == 0
    missing = run("token", "create", "nobody@example.com", cwd=tmp_path)
    assert missing.returncode == 1 and "no agent" in missing.stderr
    created = run("token", "create", "ops@example.com", "--name", "deploy", cwd=tmp_path)
    assert created.returncode == 0
    token = created.stdout.strip()
    assert token.startswith("hl_")
    wider = run("token", "create", "ops@example.com", "--role", "admin", cwd=tmp_path)
    assert wider.returncode == 1 and "cannot do more" in wider.stderr
    unknown = run("token", "create", "ops@example.com", "--team", "nope", cwd=tmp_path)
    assert unknown.returncode == 1 and "no team with id nope" in unknown.stderr
    narrow = run("token", "create", "ops@example.com", "--role", "read-only", cwd=tmp_path)
    assert narrow.returncode == 0 and narrow.stdout.strip().startswith("hl_")
    endless = run("token", "create", "ops@example.com", "--expires-in-days", "0", cwd=tmp_path)
    assert endless.returncode == 1 and "expires_in_days: from 1 to 3650" in endless.stderr
    ending = run("token", "create", "ops@example.com", "--expires-in-days", "30", cwd=tmp_path)
    assert ending.returncode == 0 and ending.stdout.strip().startswith("hl_")

    port = free_port()
    process, _ = start_server(tmp_path, port)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert b"ops@example.com" in resp.read()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {narrow.stdout.strip()}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.loads(resp.read())["agent"]["role"] == "read-only"
    finally:
        stop_server(process)
    stored = b"".join(f.read_bytes() for f in (tmp_path / "data").glob("helpline.sqlite3*"))
    assert token.encode() not in stored and len(stored) > 0  # only its hash is kept
    with sqlite3.connect(tmp_path / "data" / "helpline.sqlite3") as db:
        ends = [row[0] for row in db.execute("SELECT expires_at FROM api_tokens")]
    assert ends.count(None) == 2 and len(ends) == 3  # the one given 30 days has its end


def test_a_channel_whose_provider_is_down_starts_degraded_and_the_hub_serves(tmp_path: Path) -> None:
    dead = free_port()  # nothing listens: the Bot API is unreachable
    (tmp_path / "hub.toml").write_text(
        f'[channels.telegram]\ntoken = "123:abc-secret-token"\napi_base_url = "http://127.0.0.1:{dead}"\n'
        '[channels.webhook]\nsecret = "webhook-secret-0123456789"\n'
    )
    port = free_port()
    process, lines = start_server(tmp_path, port)  # helpline serve no longer exits 1
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            health = json.loads(resp.read())
        assert health["status"] == "ok"
        assert health["channels"]["telegram"]["state"] == "degraded"
        assert health["channels"]["webhook"]["state"] == "up"
        assert "abc-secret-token" not in json.dumps(health)
    finally:
        out = stop_server(process)
    assert "channel telegram is degraded" in "".join(lines) + out and "abc-secret-token" not in "".join(lines) + out


def test_web_chat_email_replies_need_an_enabled_email_channel(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text(
        '[channels.webchat]\nsecret = "webchat-secret-0123456789"\nemail_channel = "email"\n'
        '[channels.email]\nenabled = false\naddress = "help@example.com"\n'
    )
    result = run("serve", "--port", str(free_port()), cwd=tmp_path)
    assert result.returncode == 2 and "channels.webchat.email_channel" in result.stderr
    assert "'email'" in result.stderr


def test_agent_and_token_commands_need_only_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPLINE_TELEGRAM_TOKEN", raising=False)
    (tmp_path / "hub.toml").write_text('[channels.telegram]\ntoken = "env:HELPLINE_TELEGRAM_TOKEN"\n')
    added = run("agent", "add", "ops@example.com", cwd=tmp_path, stdin="ops password 123\n")
    assert added.returncode == 0, added.stderr
    created = run("token", "create", "ops@example.com", cwd=tmp_path)
    assert created.returncode == 0 and created.stdout.strip().startswith("hl_")
    served = run("serve", "--port", str(free_port()), cwd=tmp_path)  # serving still needs every secret
    assert served.returncode == 2 and "channels.telegram.token" in served.stderr


def test_the_access_log_never_holds_a_visitor_token(tmp_path: Path) -> None:
    import json

    (tmp_path / "hub.toml").write_text('[channels.webchat]\nsecret = "log-test-secret-0123456789"\n')
    port = free_port()
    process, lines = start_server(tmp_path, port)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/channels/webchat/session",
            data=b"{}",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            token = json.loads(resp.read())["token"]
        try:
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/channels/webchat/attachments/{'0' * 64}?token={token}", timeout=5
            )
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    finally:
        output = "".join(lines) + stop_server(process)
    assert f"/channels/webchat/attachments/{'0' * 64}" in output  # the request is logged ...
    assert token not in output  # ... without its query string


def test_store_commands_need_no_hub_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPLINE_METRICS_TOKEN_UNSET_HERE", raising=False)
    (tmp_path / "hub.toml").write_text('[hub]\nmetrics_token = "env:HELPLINE_METRICS_TOKEN_UNSET_HERE"\n')
    added = run("agent", "add", "ops@example.com", cwd=tmp_path, stdin="ops password 123\n")
    assert added.returncode == 0, added.stderr
    created = run("token", "create", "ops@example.com", cwd=tmp_path)
    assert created.returncode == 0 and created.stdout.strip().startswith("hl_"), created.stderr
    served = run("serve", "--port", str(free_port()), cwd=tmp_path)  # serving still reads it
    assert served.returncode == 2 and "hub.metrics_token" in served.stderr


def test_kb_import_names_a_bad_line_then_imports_once_and_exports(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    articles = ROOT.parent / "shared" / "data" / "faq-zh" / "articles.jsonl"
    broken = tmp_path / "broken.jsonl"
    broken.write_text(articles.read_text(encoding="utf-8") + '{"id": "x", "title": "t"}\n', encoding="utf-8")
    refused = run("kb", "import", str(broken), cwd=tmp_path)
    assert refused.returncode == 1 and "line 31: answer is required" in refused.stderr
    first = run("kb", "import", str(articles), cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.strip() == "30 created, 0 updated, 0 unchanged"
    again = run("kb", "import", str(articles), cwd=tmp_path)
    assert again.stdout.strip() == "0 created, 0 updated, 30 unchanged"
    exported = run("kb", "export", "--format", "jsonl", cwd=tmp_path)
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(lines) == 30 and {"id", "title", "answer", "examples", "status"} <= set(lines[0])
    assert run("kb", "export", str(tmp_path / "kb.csv"), cwd=tmp_path).returncode == 0
    reimported = run("kb", "import", str(tmp_path / "kb.csv"), cwd=tmp_path)
    assert reimported.stdout.strip() == "0 created, 0 updated, 30 unchanged"


def test_the_readme_names_every_role_agent_add_takes_and_tokens_narrow_by_team(tmp_path: Path) -> None:
    import re

    from conversation.model import Role

    row = re.search(r"`helpline agent add EMAIL \[--role ([a-z|\\-]+)\]", (ROOT / "README.md").read_text())
    assert row is not None and row.group(1).split("\\|") == [r.value for r in Role]
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    for email, role in (("lead@example.com", "supervisor"), ("audit@example.com", "read-only")):
        added = run("agent", "add", email, "--role", role, cwd=tmp_path, stdin="a long password\n")
        assert added.returncode == 0 and f"added {role} {email}" in added.stdout
    # before the hub ever started: the built-in teams are made by the command too
    kept = run("token", "create", "lead@example.com", "--role", "agent", "--team", "finance", cwd=tmp_path)
    assert kept.returncode == 0 and kept.stdout.strip().startswith("hl_")
    wider = run("token", "create", "audit@example.com", "--role", "agent", cwd=tmp_path)
    assert wider.returncode == 1 and "a token cannot do more than its agent (read-only)" in wider.stderr


def test_serve_on_a_port_in_use_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"helpline: cannot listen on 127.0.0.1:{port}: ") and "in use" in last, result.stderr
    assert "Traceback" not in result.stderr


def test_debug_logging_leaves_out_markdown_its_rule_by_rule_lines() -> None:
    """`log_level = "debug"` is for the hub's own lines: markdown-it logged each block rule
    it tried on every article rendered, hundreds of lines a help-centre page."""
    script = (
        "import logging\n"
        "from hub.cli import configure_logging\n"
        "configure_logging('debug')\n"
        "from conversation.markdown_html import render_markdown\n"
        "render_markdown('# 退款\\n\\n- one\\n- two\\n\\n> quoted')\n"
        "logging.getLogger('hub.knowledge_model').debug('hub line')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hub line" in done.stderr  # the hub's own debug lines are kept
    assert "markdown_it" not in done.stderr


@pytest.mark.parametrize(("level", "shown"), [("info", False), ("debug", True)])
def test_each_http_request_of_a_library_is_logged_only_at_debug(level: str, shown: bool) -> None:
    """A trial: httpx's "HTTP Request: POST …/getUpdates" line at info, every few seconds of
    Telegram's long polling, was half the log."""
    script = (
        "import logging\n"
        "from hub.cli import configure_logging\n"
        f"configure_logging({level!r})\n"
        "logging.getLogger('httpx').info('HTTP Request: POST /getUpdates')\n"
        "logging.getLogger('httpx').warning('a warning of httpx')\n"
        "logging.getLogger('hub.app').info('hub line')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "hub line" in done.stderr and "a warning of httpx" in done.stderr
    assert ("getUpdates" in done.stderr) is shown


def test_the_first_admins_password_goes_to_a_private_file_when_no_terminal_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a service manager the output is kept for good (journald, nohup.out): the password
    printed "once" stayed in the log (an operator's trial). It goes to a 0600 file instead."""
    import stat
    import sys

    from hub.cli import INITIAL_PASSWORD_FILE, admin_announcer

    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / INITIAL_PASSWORD_FILE).write_text("left from before\n")  # world-readable, 0644
    admin_announcer(tmp_path / "data")("admin@helpline.local", "s3cret-Generated-1")
    said = capsys.readouterr().out
    path = tmp_path / "data" / INITIAL_PASSWORD_FILE
    assert "s3cret-Generated-1" not in said and str(path) in said
    assert path.read_text(encoding="utf-8") == "admin@helpline.local\ns3cret-Generated-1\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)  # `make run` in a terminal: shown there
    admin_announcer(tmp_path / "other")("admin@helpline.local", "s3cret-Generated-2")
    assert "password: s3cret-Generated-2" in capsys.readouterr().out
    assert not (tmp_path / "other").exists()


def test_backup_copies_the_store_and_says_where_or_why_not(tmp_path: Path) -> None:
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    assert run("agent", "add", "li.na@example.com", cwd=tmp_path, stdin="correct horse battery\n").returncode == 0
    done = run("backup", "saved", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("backed up the store to saved/helpline.sqlite3")
    again = run("backup", "saved", cwd=tmp_path)
    assert again.returncode == 1 and again.stderr.strip() == "helpline: saved is not empty: back up into a new folder"
    (tmp_path / "a-file").write_text("not a folder")
    unusable = run("backup", "a-file/inside", cwd=tmp_path)  # its parent is a file
    assert unusable.returncode == 1 and unusable.stderr.startswith("helpline: the backup failed: ")
    assert len(unusable.stderr.strip().splitlines()) == 1  # one line, no traceback


def test_agent_password_sets_a_forgotten_one_and_ends_the_sessions(tmp_path: Path) -> None:
    """The first admin's generated password was to be changed, and nothing could (a trial)."""
    shutil.copy(ROOT / "hub.toml", tmp_path / "hub.toml")
    assert run("agent", "add", "li.na@example.com", cwd=tmp_path, stdin="correct horse battery\n").returncode == 0
    done = run("agent", "password", "LI.NA@example.com", cwd=tmp_path, stdin="a new long password\n")
    assert done.returncode == 0 and "set the password of li.na@example.com" in done.stdout, done.stderr
    assert "a new long password" not in done.stdout
    short = run("agent", "password", "li.na@example.com", cwd=tmp_path, stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    unknown = run("agent", "password", "nobody@example.com", cwd=tmp_path, stdin="\n")
    assert unknown.returncode == 1 and "no agent with email nobody@example.com" in unknown.stderr
