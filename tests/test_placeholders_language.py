"""What a channel stores in place of what is not text is said in the hub's language: agents of
a zh-CN desk read "[贴纸 👍]" and "[未保留：…]", not English (a trial found every such line in
English), and the bots read past it in either language."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.telegram.content import describe
from conversation.model import Direction, MessageKind
from conversation.placeholders import customer_words
from hub.i18n import hub_texts
from tests.email_servers import Sink
from tests.helpers import make_config, running_hub
from tests.test_email import email_settings, sink  # noqa: F401  (the sink fixture)
from tests.test_email_wild import smtp_in


def telegram(kind: str, value: object) -> dict[str, object]:
    return {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": 1}, kind: value}


@pytest.mark.parametrize(
    ("kind", "value", "en", "zh"),
    [
        ("sticker", {"emoji": "👍"}, "[sticker 👍]", "[贴纸 👍]"),
        ("sticker", {"file_id": "s"}, "[sticker]", "[贴纸]"),  # an empty parameter leaves no gap
        ("location", {"latitude": 31.23, "longitude": 121.47}, "[location 31.23, 121.47]", "[位置 31.23, 121.47]"),
        ("voice", {"file_id": "v", "duration": 3}, "[voice message]", "[语音消息]"),
        (
            "poll",
            {"question": "哪天?", "options": [{"text": "一"}, {"text": "二"}]},
            "[poll 哪天?: 一 / 二]",
            "[投票 哪天?：一 / 二]",
        ),
    ],
)
def test_telegrams_placeholders_in_the_hubs_language(kind: str, value: object, en: str, zh: str) -> None:
    assert describe(telegram(kind, value), files=False).text == en  # English when no language is given
    assert describe(telegram(kind, value), files=False, said=hub_texts("en")).text == en
    said = describe(telegram(kind, value), files=False, said=hub_texts("zh-CN")).text
    assert said == zh and customer_words(said) == ""


async def test_an_empty_mail_and_a_file_not_kept_are_noted_in_chinese_on_a_zh_cn_desk(
    tmp_path: Path,
    sink: tuple[Sink, int],  # noqa: F811
) -> None:
    settings = email_settings(sink[1], max_attachment_bytes=1024)
    config = make_config(tmp_path, {"hub": {"language": "zh-CN"}, "channels": {"email": settings}})
    async with running_hub(config) as hub:
        empty = (
            b"From: li@example.cn\r\nTo: help@support.example.com\r\nMessage-ID: <empty-1@example.cn>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n\r\n"
        )
        assert "ticket #1000" in await smtp_in(hub, empty)
        big = (
            b"From: li@example.cn\r\nTo: help@support.example.com\r\nMessage-ID: <big-1@example.cn>\r\n"
            b"Subject: log\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee the log\r\n"
            b"--b\r\nContent-Type: text/plain; name=log.txt\r\n"
            b"Content-Disposition: attachment; filename=log.txt\r\n\r\n" + (b"x" * 62 + b"\r\n") * 66 + b"\r\n--b--\r\n"
        )
        assert "ticket #1001" in await smtp_in(hub, big)
        texts = []
        for number in (1000, 1001):
            conv = await hub.store.tickets.get_conversation_by_number(number)
            assert conv is not None
            [message] = [
                m
                for m in await hub.store.tickets.list_messages(conv.id)
                if m.kind is MessageKind.MESSAGE and m.direction is Direction.INBOUND
            ]
            texts.append(message.text)
    assert texts[0] == "（空邮件）" and customer_words(texts[0]) == ""
    assert texts[1] == "see the log\n\n[未保留：log.txt（4 KiB）超过 1 KiB 的上限]", texts[1]


def test_slacks_placeholders_in_the_hubs_language() -> None:
    from adapters.slack.adapter import _fallback_text

    shared = {"subtype": "file_share", "files": [{"id": "F1"}]}
    assert _fallback_text(shared, hub_texts("zh-CN")) == "[分享了一个文件]"
    assert _fallback_text(shared, hub_texts("en")) == "[shared a file]"
    assert _fallback_text({"blocks": [{"type": "section"}]}, hub_texts("zh-CN")) == "[仅含区块的消息]"
