"""Languages: catalogs that agree, tags mapped to the catalog a reader reads best, the
catalogs served as JSON, and API errors in the reader's language."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.email.adapter import mail_language
from adapters.webhook import parse_message
from conversation.model import Role
from hub import i18n
from hub.agents import add_agent
from hub.app import Hub, build_app
from hub.settings import ConfigError
from tests.conftest import ROOT
from tests.helpers import customer_message, make_config


@pytest.mark.parametrize("domain", i18n.domains())
def test_every_language_has_the_same_keys_plurals_and_placeholders(domain: str) -> None:
    assert set(i18n.available_locales()) >= {"en", "zh-CN"}
    assert i18n.catalog_problems(domain) == []


def test_a_key_in_one_catalog_and_not_the_other_is_reported(tmp_path: Path) -> None:
    shutil.copytree(i18n.LOCALES_DIR, tmp_path / "locales")
    zh = tmp_path / "locales" / "zh_CN" / "LC_MESSAGES" / "widget.po"
    zh.write_text(zh.read_text(encoding="utf-8").replace('msgid "send"\nmsgstr "发送"\n', ""), encoding="utf-8")
    en = tmp_path / "locales" / "en" / "LC_MESSAGES" / "hub.po"
    en.write_text(en.read_text(encoding="utf-8").replace("#{number};", "#{numbr};"), encoding="utf-8")
    problems = i18n.catalog_problems("widget", tmp_path / "locales") + i18n.catalog_problems(
        "hub", tmp_path / "locales"
    )
    assert any("send is missing in zh-CN" in p for p in problems), problems
    assert any("bot.greeting differs" in p for p in problems), problems


@pytest.mark.parametrize(
    ("tag", "catalog"),
    [
        ("zh-hans", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("zh-SG", "zh-CN"),
        ("zh-tw", "zh-CN"),  # Traditional readers read Simplified better than English, until there is a zh-TW
        ("zh-hant", "zh-CN"),
        ("zh-Hant-HK", "zh-CN"),
        ("en", "en"),
        ("en-GB", "en"),
        ("fr-FR", "en"),  # no catalog: the default
        ("", "en"),
        ("not a tag", "en"),
    ],
)
def test_language_tags_map_to_the_catalog_their_reader_reads_best(tag: str, catalog: str) -> None:
    assert i18n.best_locale(tag) == catalog
    assert i18n.best_locale("fr", default="zh-CN") == "zh-CN"


def test_a_traditional_catalog_wins_for_traditional_readers_once_it_exists() -> None:
    assert i18n.match_locale("zh-hant", ["zh-CN", "zh-TW"]) == "zh-TW"
    assert i18n.match_locale("zh-HK", ["zh-CN", "zh-TW"]) == "zh-TW"
    assert i18n.match_locale("zh-hans", ["zh-TW", "zh-CN"]) == "zh-CN"
    assert i18n.match_locale("de", ["zh-CN", "en"]) is None


def test_accept_language_is_read_by_quality() -> None:
    assert i18n.accept_language("fr;q=0.9, zh-TW;q=0.95, en;q=0.1, de;q=0") == ["zh-TW", "fr", "en"]
    assert i18n.negotiate("fr-CH, fr;q=0.9, zh-CN;q=0.8, en;q=0.7") == "zh-CN"
    assert i18n.negotiate("de, fr") is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我的订单还没到", "zh-CN"),
        ("订单 ID 12345 还没到", "zh-CN"),
        ("my order has not arrived", "en"),
        ("注文はまだ届きません", "ja"),
        ("주문이 아직 안 왔어요", "ko"),
        ("12345 !!!", ""),
    ],
)
def test_the_writing_system_tells_the_language_when_nothing_else_does(text: str, language: str) -> None:
    assert i18n.detect_language(text) == language


def test_plurals_and_day_names_follow_the_locale() -> None:
    en, zh = i18n.hub_texts("en"), i18n.hub_texts("zh-CN")
    assert en.plural("webchat.too_long", 1) == "Messages are limited to 1 character."
    assert en.plural("webchat.too_long", 500) == "Messages are limited to 500 characters."
    assert zh.plural("webchat.too_long", 500) == "每条消息最多 500 个字符。"
    assert en.day_names([0, 1, 4]) == "Mon, Tue, Fri" and zh.day_names([0, 1, 4]) == "周一、周二、周五"
    # runs of three or more as a range, all seven as every day
    assert en.day_names(range(5)) == "Mon–Fri" and zh.day_names(range(5)) == "周一至周五"
    assert zh.day_names([0, 1, 2, 5]) == "周一至周三、周六" and zh.day_names(range(7)) == "每天"
    assert en.zone_name("Asia/Shanghai") == "Beijing time" and zh.zone_name("Asia/Shanghai") == "北京时间"
    assert zh.zone_name("UTC") == "UTC" and en.zone_name("Europe/Berlin") == "Germany (Berlin) Time"
    assert zh.zone_name("Etc/GMT-8") == "UTC+08:00"  # CLDR said "未知地区（GMT-8）时间", the sign inverted
    assert zh.day_names([5, 6, 0]) == "周六至周一" and en.day_names([4, 5, 6, 0, 1]) == "Fri–Tue"  # over the weekend
    assert zh.day_names([0, 2, 4]) == "周一、周三、周五"
    assert i18n.texts("widget", "en").as_json()["messages"]["limit_chars"] == {
        "one": "At most {count} character.",
        "other": "At most {count} characters.",
    }
    assert i18n.texts("widget", "zh-CN").as_json()["messages"]["limit_chars"] == {"other": "最多 {count} 个字符。"}


def test_a_mail_says_its_language_in_content_language_or_accept_language() -> None:
    head = b"From: a@example.com\r\nTo: help@example.com\r\nSubject: x\r\n"
    assert mail_language(head + b"Content-Language: zh-CN, en\r\n\r\nbody") == "zh-CN"
    assert mail_language(head + b"Accept-Language: zh-TW;q=0.9, en;q=0.5\r\n\r\nbody") == "zh-TW"
    assert mail_language(head + b"\r\nbody") == ""


def test_an_error_whose_detail_decides_keeps_it_under_the_translation() -> None:
    detail = "#1000 belongs to Li Na, #1001 to Wang Fang. Send confirm: true to merge."
    said = i18n.error_message("confirm_needed", detail, "zh-CN")
    assert said == "此操作会合并两位不同客户的内容，请确认后再继续。\n" + detail
    assert i18n.error_message("not_found", "no such contact", "zh-CN") == "找不到该对象（可能已被删除）。"
    assert i18n.error_message("brand_new_code", "x", "zh-CN") == "出现错误（brand_new_code）。"
    assert i18n.error_message("confirm_needed", detail, "en") == detail
    # what still uses a team or category an admin would delete is kept too
    in_use = "categories refund-delay name this team as their default"
    assert i18n.error_message("in_use", in_use, "zh-CN") == "仍在使用中。\n" + in_use


def test_the_default_language_must_have_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hub.language: no catalog for the language 'xx'"):
        make_config(tmp_path, {"hub": {"language": "xx"}})
    assert make_config(tmp_path, {"hub": {"language": "zh-CN"}}).hub.language == "zh-CN"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    config = make_config(
        tmp_path,
        {
            "channels": {
                "webchat": {"secret": "visitor-token-secret", "sites": {"default": {}}, "max_message_chars": 100}
            }
        },
    )
    async with TestClient(TestServer(build_app(Hub(config)))) as client:
        yield client


async def test_any_catalog_domain_is_served_as_json_for_browsers(client: TestClient) -> None:
    resp = await client.get("/i18n/widget/zh-hans.json", headers={"Origin": "https://shop.example.com"})
    assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    body = await resp.json()
    assert body["locale"] == "zh-CN" and body["domain"] == "widget"
    assert body["messages"]["send"] == "发送" and body["messages"]["ticket"] == "工单 #{number} · {status}"
    english = await (await client.get("/i18n/hub/fr.json")).json()
    assert english["locale"] == "en" and english["messages"]["bot.greeting"].startswith("Thanks")
    for tag in ("zh-hans", "zh-Hans-CN", "zh-cn", "zh"):  # one catalog read, however a request spells it
        assert i18n.texts("widget", tag) is i18n.texts("widget", "zh-CN")
    for missing in ("/i18n/nothing/en.json", "/i18n/..%2Fhub/en.json"):
        resp = await client.get(missing)
        assert resp.status == 404 and (await resp.json())["error"] == "not_found"


def api_error_codes() -> set[str]:
    """The codes of the ApiErrors the code raises with a literal code (`ApiError(403, "x", ...)`)."""
    codes: set[str] = set()
    for folder in ("hub", "plugins", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ApiError"
                    and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                ):
                    codes.add(node.args[1].value)
    return codes


def test_every_api_error_code_has_a_sentence_in_each_language() -> None:
    """A code missing from the hub's catalog reached a Chinese agent as "出现错误（wrong_password）。",
    which the inbox showed instead of its own sentence for the code."""
    codes = api_error_codes()
    assert {"wrong_password", "not_found", "owner_is_subject"} <= codes  # the walk finds them
    for locale in ("en", "zh-CN"):
        catalog = i18n.hub_texts(locale)
        assert sorted(c for c in codes if not catalog.has(f"error.{c}")) == [], locale


async def test_api_errors_speak_the_readers_language_and_keep_their_code(client: TestClient) -> None:
    resp = await client.get("/api/v1/conversations", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert resp.status == 401
    assert await resp.json() == {"error": "unauthenticated", "message": "请先登录。"}
    assert resp.headers["Content-Language"] == "zh-CN"
    english = await client.get("/api/v1/conversations", headers={"Accept-Language": "en-US"})
    assert (await english.json())["error"] == "unauthenticated"
    assert (await english.json())["message"] == "sign in first"  # the exact words, as before
    unknown = await client.get("/nowhere", headers={"Accept-Language": "zh-hans"})
    assert unknown.status == 404 and await unknown.json() == {
        "error": "not_found",
        "message": "找不到该对象（可能已被删除）。",
    }


def test_a_translated_invalid_input_error_still_names_what_is_wrong() -> None:
    """A supervisor's trial got "提交的内容有误，请检查后重试。" for an unknown parameter, without
    its name: the call site's words (the field or parameter and why) stay under the sentence."""
    from hub.i18n import API_DETAIL_KEPT, error_message

    said = error_message("invalid", "lang: unknown query parameter", "zh-CN", kept=API_DETAIL_KEPT)
    assert said == "提交的内容有误，请检查后重试。\nlang: unknown query parameter"
    # a chat visitor reads the sentence alone, no English detail
    assert error_message("invalid", "that is not an email address", "zh-CN") == "提交的内容有误，请检查后重试。"
    assert error_message("invalid", "lang: unknown query parameter", "en") == "lang: unknown query parameter"
    assert error_message("not_found", "no such conversation", "zh-CN") == "找不到该对象（可能已被删除）。"


async def test_the_widgets_errors_reach_a_chinese_visitor_in_chinese(client: TestClient) -> None:
    refused = await client.post(
        "/channels/webchat/session", json={"site": "elsewhere"}, headers={"Accept-Language": "zh-CN"}
    )
    assert refused.status == 403
    assert await refused.json() == {"error": "unknown_site", "message": "此网站未开通在线客服。"}
    session = await (await client.post("/channels/webchat/session", json={})).json()
    async with client.ws_connect(f"/channels/webchat/ws?token={session['token']}&lang=zh-CN") as ws:
        await ws.send_json({"type": "message", "client_id": "c0", "text": "hi"})
        while (await ws.receive_json(timeout=5))["type"] != "ack":
            pass
    wrong = await client.post(
        "/channels/webchat/email",
        json={"token": session["token"], "email": "not an address"},
        headers={"Accept-Language": "zh-CN"},
    )
    said = await wrong.json()  # the sentence alone: no English detail for a visitor
    assert said == {"error": "invalid", "message": "提交的内容有误，请检查后重试。"}
    session = await (await client.post("/channels/webchat/session", json={})).json()
    async with client.ws_connect(f"/channels/webchat/ws?token={session['token']}&lang=zh-CN") as ws:
        await ws.send_str("not json")
        frame = await ws.receive_json(timeout=5)
        assert frame == {"type": "error", "code": "bad_frame", "message": "聊天窗口发送了无法识别的数据，请刷新页面。"}
        await ws.send_json({"type": "message", "client_id": "c1", "text": "长" * 101})
        frame = await ws.receive_json(timeout=5)
        assert frame["code"] == "too_long" and frame["message"] == "每条消息最多 100 个字符。"


async def test_agents_correct_a_contacts_language_and_junk_changes_nothing(tmp_path: Path) -> None:
    hub = Hub(make_config(tmp_path))
    async with TestClient(TestServer(build_app(hub))) as client:
        await add_agent(hub.store, "admin@example.com", Role.ADMIN, "admin password 1")
        record = await hub.ingest(customer_message("m1", "我的订单还没到"))
        assert record.contact.language == "zh-CN"  # guessed from the writing
        login = await client.post(
            "/api/v1/auth/login", json={"email": "admin@example.com", "password": "admin password 1"}
        )
        csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
        url = f"/api/v1/contacts/{record.contact.id}"
        bad = await client.patch(url, json={"language": "<script>"}, headers=csrf)
        assert bad.status == 422 and (await bad.json())["error"] == "invalid"
        assert (await hub.store.contacts.get_contact(record.contact.id)).language == "zh-CN"  # type: ignore[union-attr]
        fixed = await client.patch(url, json={"language": "zh_hant_tw"}, headers=csrf)
        assert fixed.status == 200 and (await fixed.json())["language"] == "zh-Hant-TW"
        card = await (await client.get(f"/api/v1/conversations/{record.conversation.id}")).json()
        assert card["contact"]["language"] == "zh-Hant-TW"


def test_a_platforms_webhook_may_say_the_senders_language_and_junk_is_refused() -> None:
    payload = {"id": "m1", "sender": {"id": "u1", "language": "zh-Hans"}, "text": "hi"}
    assert parse_message("webhook", payload).sender.language == "zh-Hans"
    with pytest.raises(ValueError, match="sender.language must be a language tag"):
        parse_message("webhook", {**payload, "sender": {"id": "u1", "language": "中文!"}})


def test_a_parameter_the_caller_did_not_give_shows_itself_instead_of_raising() -> None:
    """A thread event stored before its text gained a parameter must still read."""
    zh = i18n.texts("hub", "zh-CN")
    text = zh.get("event.backup_paged.sla", agent="王强", number="1000")
    assert "王强" in text and "1000" in text and "{clock}" in text


@pytest.mark.parametrize(
    "path", sorted(i18n.LOCALES_DIR.glob("*/LC_MESSAGES/*.po")), ids=lambda p: f"{p.parent.parent.name}/{p.name}"
)
def test_every_catalog_file_passes_gettexts_check(path: Path) -> None:
    """Translators' tools (Poedit, msgfmt) must take the files as they are. Checked with Babel
    everywhere, and with gettext's own msgfmt where it is installed."""
    assert i18n.po_file_problems(path) == []
    msgfmt = shutil.which("msgfmt")
    if msgfmt is not None:
        checked = subprocess.run([msgfmt, "--check", "-o", os.devnull, str(path)], capture_output=True, text=True)
        assert (checked.returncode, checked.stderr) == (0, "")


def test_the_catalog_check_names_a_missing_header_field_and_a_lost_newline(tmp_path: Path) -> None:
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: en\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "a"\nmsgstr "text\\n"\n',
        encoding="utf-8",
    )
    problems = i18n.po_file_problems(po)
    assert "x.po: header field Project-Id-Version missing" in problems
    assert "x.po: a: msgid and msgstr do not both end with a newline" in problems


def test_the_receive_only_sentence_names_both_kinds_of_channel() -> None:
    """A trial's webhook channel without callback_url was told, in Chinese, of an email channel."""
    from hub.i18n import error_message

    for locale, words in (("zh-CN", ("webhook", "callback_url", "邮件渠道")), ("en", ("webhook", "callback_url"))):
        said = (
            error_message("receive_only", "", locale)
            if locale != "en"
            else i18n.hub_texts("en").get("error.receive_only")
        )
        assert all(word in said for word in words), said


def test_a_placeholder_alone_gives_the_sender_no_language() -> None:
    """A trial's first message was a file not kept: the contact became English and the greeting
    spoke English on a zh-CN desk."""
    from conversation.inbound import Inbound, Sender

    placeholder = Inbound(
        channel="api", external_id="m1", sender=Sender("u1"), thread_key="t", text="[not kept: x.pdf: too large]"
    )
    assert i18n.with_language(placeholder).sender.language == ""
    worded = Inbound(
        channel="api", external_id="m2", sender=Sender("u1"), thread_key="t", text="我的发票\n[not kept: x.pdf]"
    )
    assert i18n.with_language(worded).sender.language == "zh-CN"
