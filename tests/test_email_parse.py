"""Parsing the mail customers really send."""

from __future__ import annotations

import base64
import re

from adapters.email.parse import parse
from tests import mail_corpus as corpus

LIMIT = 10 * 1024 * 1024


def read(raw: bytes):  # noqa: ANN201
    return parse(raw, max_attachment_bytes=LIMIT)


def test_gmail_reply_shows_only_the_new_text_and_keeps_the_whole() -> None:
    mail = read(corpus.gmail_reply())
    assert mail.visible_text == "It arrived this morning, thank you!"
    assert "We shipped it again." in mail.text  # the original stays available
    assert mail.from_address == "li.na@gmail.com" and mail.from_name == "Li Na"
    assert mail.in_reply_to == ["<m1@support.example.com>"] and mail.message_id == "<CAGmail123@mail.gmail.com>"
    assert not mail.automatic and "thank you" in mail.html


def test_outlook_and_apple_replies() -> None:
    assert read(corpus.outlook_reply()).visible_text.startswith("Still waiting for the refund.")
    assert "We have started" not in read(corpus.outlook_reply()).visible_text
    apple = read(corpus.apple_reply())
    assert apple.visible_text.startswith("Yes, I can log in now.") and "reset your password" not in apple.visible_text


def test_qq_mail_labelled_gb2312_but_written_in_gbk() -> None:
    mail = read(corpus.qq_mail_gbk())
    assert mail.subject == "回复：订单 喆镕 没有到"
    assert mail.from_name == "张喆"
    assert mail.visible_text == "张喆收到了，谢谢！"
    assert "请查收" in mail.text


def test_163_mail_in_gbk_with_its_chinese_quote_header() -> None:
    mail = read(corpus.mail_163_gbk())
    assert mail.subject == "Re: 登录问题"
    assert mail.visible_text == "好的，我明天再试。"


def test_charsets_that_lie_or_are_missing() -> None:
    assert read(corpus.lying_charset()).text == "我的订单号是 𠀀 和 €100"
    assert read(corpus.no_charset_utf8()).text == "退款进度如何？"


def undeclared_gbk(text: str, *, name: str = "", subject: str = "") -> bytes:
    """A mail as a trial's old client sent it: GBK body and headers, no charset anywhere."""
    head = f"From: {name} <li@example.cn>\r\nSubject: {subject}\r\n" if name else "From: li@example.cn\r\n"
    return (head + "To: support@example.com\r\nMessage-ID: <g1@example.cn>\r\n\r\n").encode("gbk") + (
        text.encode("gbk") + b"\r\n"
    )


def test_a_short_chinese_mail_without_a_charset_reads_as_gbk() -> None:
    """A trial's 我要退货 read as UTF-16 (컒튪췋믵ഊ), a longer question as Korean; a few words
    are too few for charset-normalizer's statistics."""
    for text in ("我要退货", "你好", "账号登不上去了怎么办", "你好，请问我的快递到哪里了？"):
        assert read(undeclared_gbk(text)).text == text
    mail = read(undeclared_gbk("我要退货", name="王五", subject="退货"))
    assert (mail.from_name, mail.subject, mail.text) == ("王五", "退货", "我要退货")


def test_a_long_undeclared_text_in_another_charset_is_still_detected() -> None:
    text = "日本語のメールです。注文した商品がまだ届いていません。確認していただけますか。よろしくお願いします。" * 2
    raw = b"From: a@example.jp\r\nTo: support@example.com\r\n\r\n" + text.encode("shift_jis")
    assert read(raw).text == text


def test_a_forwarded_mail_is_kept_as_an_attachment() -> None:
    mail = read(corpus.forward_as_attachment())
    [forwarded] = mail.attachments
    assert forwarded.name == "Terrible service.eml" and forwarded.content_type == "message/rfc822"
    assert b"I want my money back." in forwarded.data
    assert mail.text == "See the customer's mail below."


def test_html_only_newsletter_gives_text_and_is_automatic() -> None:
    mail = read(corpus.html_newsletter())
    assert mail.text == "Deals\n\nSave 20%\nthis week"
    assert mail.automatic
    assert "<style" not in mail.html and "Save 20%" in mail.html


def test_auto_replies_and_bounces_are_recognised() -> None:
    assert read(corpus.out_of_office()).automatic
    dsn = read(corpus.bounce("<abc@support.example.com>"))
    assert dsn.automatic and dsn.report is not None
    assert dsn.report.original_message_id == "<abc@support.example.com>"
    assert dsn.report.action == "failed" and "Recipient address rejected" in dsn.report.reason


def test_hostile_html_is_sanitised() -> None:
    mail = read(corpus.hostile_html())
    for bad in ("<script", "onerror", "javascript:", "<iframe"):
        assert bad not in mail.html
    assert "Hello" in mail.html and mail.subject == "<script>alert(1)</script>"  # shown as text by the inbox


def test_attachments_over_the_limit_are_skipped_with_the_reason() -> None:
    mail = read(corpus.huge_attachment())
    assert mail.attachments == [] and mail.text == "Here is the video of the problem."
    [(why, said)] = mail.skipped  # said in the hub's language as the mail is stored
    assert why == "file_too_large" and said["name"] == "视频.mp4" and said["kib"] > said["limit"]


PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
PROGRAM = b"MZ\x90\x00\x03" + b"\0" * 64 + b"This program cannot be run in DOS mode"


def mail_with_files(*files: tuple[str, str, bytes]) -> bytes:
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "li@example.cn", "support@example.com", "files"
    mail.set_content("see the files")
    for name, kind, data in files:
        maintype, subtype = kind.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return mail.as_bytes()


def test_attachment_types_are_read_from_the_bytes_not_the_parts_word() -> None:
    """A trial's photo.jpg (image/jpeg) was a Windows program, page.png held HTML: both were
    kept as the images their parts said, past `attachment_types`."""
    xlsx_like = b"PK\x03\x04" + b"\0" * 26 + b"[Content_Types].xml" + b"\0" * 40
    raw = mail_with_files(
        ("photo.jpg", "image/jpeg", PROGRAM),
        ("page.png", "image/png", b"<html><script>alert(1)</script></html>"),
        ("real.png", "image/png", PNG),
        ("orders.csv", "text/csv", b"order,amount\n5531,12.50\n"),
        ("winmail.dat", "application/ms-tnef", b"\x78\x9f\x3e\x22" + b"\1" * 40),
        ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx_like),
    )
    kept = {a.name: a.content_type for a in read(raw).attachments}
    assert kept == {
        "photo.jpg": "application/x-msdownload",
        "page.png": "text/html",
        "real.png": "image/png",
        "orders.csv": "text/csv",  # the sender's precise word where the bytes agree
        "winmail.dat": "application/ms-tnef",  # no signature to check: their word
        "sheet.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    images = parse(raw, max_attachment_bytes=LIMIT, attachment_types=["image/jpeg", "image/png"])
    assert [a.name for a in images.attachments] == ["real.png"]
    assert {said["name"]: said["kind"] for why, said in images.skipped if why == "file_type"} == {
        "photo.jpg": "application/x-msdownload",
        "page.png": "text/html",
        "orders.csv": "text/csv",
        "winmail.dat": "application/ms-tnef",
        "sheet.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }


def test_a_file_name_in_raw_gbk_bytes_is_read_as_chinese_and_flagged() -> None:
    """A trial's filename="说明.txt" written in raw GBK bytes was kept as ����.txt."""
    gbk = "说明.txt".encode("gbk")
    raw = (
        b"From: li@example.cn\r\nTo: support@example.com\r\nSubject: file\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
        b'--XX\r\nContent-Type: text/plain; name="' + gbk + b'"\r\n'
        b'Content-Disposition: attachment; filename="' + gbk + b'"\r\n\r\nbody\r\n--XX--\r\n'
    )
    mail = read(raw)
    assert [a.name for a in mail.attachments] == ["说明.txt"]
    assert "raw_8bit_headers" in mail.flags  # guessed at: an agent is told, as for a raw subject


def test_a_bounces_reason_in_chinese_is_read_in_its_charset() -> None:
    """A trial: a GBK 退信 read "550 Mailbox not found��", a DSN's raw 邮箱已满 became ������."""
    from tests import mail_wild as wild

    gbk = wild.alimail_bounce("<r1@support.example.com>").replace(b"charset=utf-8", b"charset=gbk")
    head, _, body = gbk.partition(b"\r\n\r\n")
    text = base64.b64decode(body).decode().replace("用户不存在", "邮箱不存在").encode("gbk")
    report = read(head + b"\r\n\r\n" + base64.b64encode(text) + b"\r\n").report
    assert report is not None and report.reason.endswith("550 5.1.1 邮箱不存在"), report
    dsn = corpus.bounce("<r2@support.example.com>").replace(
        b"Recipient address rejected", "邮箱已满 mailbox full".encode()
    )
    report = read(dsn).report
    assert report is not None and "邮箱已满 mailbox full" in report.reason, report


def test_a_text_part_that_only_points_to_the_html_gives_way_to_the_htmls_text() -> None:
    """A trial's mail from a business system: the ticket showed 此邮件为HTML格式… and the bot
    answered that, not the question in the HTML part."""
    from email.message import EmailMessage

    for notice in (
        "此邮件为HTML格式，请使用支持HTML的邮件客户端查看。",
        "To view this message, please open it as HTML.",
    ):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "erp@example.cn", "support@example.com", "询问"
        mail.set_content(notice)
        mail.add_alternative("<html><body><p>请问发票什么时候能开出来？</p></body></html>", subtype="html")
        assert read(mail.as_bytes()).text == "请问发票什么时候能开出来？"
    # a question that mentions HTML is the customer's own words, whatever the HTML part holds (a review)
    for question in ("你们发的HTML格式发票我打不开，能发PDF吗？", "Can't open the HTML invoice, can you send a PDF?"):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "li@example.cn", "support@example.com", "发票"
        mail.set_content(question)
        mail.add_alternative('<p><img src="cid:logo"></p>', subtype="html")
        assert read(mail.as_bytes()).text == question
    ordinary = EmailMessage()
    ordinary["From"], ordinary["To"], ordinary["Subject"] = "li@example.cn", "support@example.com", "HTML"
    ordinary.set_content("我导出的HTML报表打不开，怎么办？" * 20)  # a question about HTML stays the question
    ordinary.add_alternative("<p>whatever</p>", subtype="html")
    assert read(ordinary.as_bytes()).text.startswith("我导出的HTML报表打不开")


def test_what_mail_programs_leave_under_the_words_is_not_shown() -> None:
    """A trial's tickets ended in Outlook's underscores and 发自我的iPhone."""
    from adapters.email.parse import visible_part

    for tail in (
        "\n\n________________________________",
        "\n\n发自我的iPhone",
        "\n\n发自我的 iPhone",
        "\n\n发自网易邮箱大师",
        "\n\nSent from my iPhone",
        "\n\nGet Outlook for Android",
        "\n\n发自我的华为手机\n\n________________",
    ):
        assert visible_part("退款已经收到了，谢谢。" + tail) == "退款已经收到了，谢谢。", tail
    # an address the customer gives, or a line of their own, stays
    assert visible_part("请发到这个邮箱：\nli4@foxmail.com") == "请发到这个邮箱：\nli4@foxmail.com"
    assert visible_part("我的订单号 5531\n还没到") == "我的订单号 5531\n还没到"
    assert visible_part("优惠码不能用\n来自我的同事推荐") == "优惠码不能用\n来自我的同事推荐"
    assert visible_part("发自我的iPhone") == "发自我的iPhone"  # never all of it


def test_rfc2231_file_names() -> None:
    [invoice] = read(corpus.chinese_filename()).attachments
    assert invoice.name == "发票.pdf" and invoice.content_type == "application/pdf"


def test_blank_line_runs_and_long_mail_are_read_quickly_and_whole() -> None:
    import time

    from adapters.email.parse import visible_part

    started = time.process_time()  # CPU time: what the parser spends, not how long a loaded machine waited
    assert visible_part("hello\n" + "\n \n" * 16_000 + "bye") == "hello\n\nbye"
    long_text = "\n\n".join(f"line {i} of a long report" for i in range(3000))  # over the parser's share
    assert visible_part(long_text) == long_text  # nothing quoted: nothing after the head is lost
    assert time.process_time() - started < 1.0


def test_deep_html_nesting_is_flattened_before_sanitising() -> None:
    from adapters.email.parse import flatten_deep_nesting, sanitise_html

    deep = "<div>" * 20_000 + "<b>inside</b>" + "</div>" * 20_000
    flat = flatten_deep_nesting(deep, max_depth=50)
    assert flat.count("<div>") == 50 and flat.count("</div>") == 50 and "<div>inside</div>" in flat
    assert "inside" in sanitise_html(deep)
    normal = "<div><p>one<p>two<br><table><tr><td>x</td></tr></table></div>"
    assert flatten_deep_nesting(normal, max_depth=3) == normal  # optional end tags and void ones add no depth


def test_answers_between_quotes_only_under_an_attribution() -> None:
    from adapters.email.parse import visible_part

    wrapped = (
        "Hi,\n\nOn Wed, Nov 25, 2026 at 10:00 AM Support <\nhelp@support.example.com> wrote:\n"
        "> Which version?\n\n4.2\n\n> Since when?\n\nA week.\n\n-- \nKai\n"
    )
    assert visible_part(wrapped) == "Hi,\n\n4.2\n\nA week."
    apple = "Hi\n\n> On 25 Nov 2026, at 09:00, Support <help@x.com> wrote:\n>\n> Which version?\n\n4.2\n"
    assert visible_part(apple) == "Hi\n\n4.2"
    # ">" lines deep in an Outlook history are old mail: the answer is the top
    outlook = "Still waiting.\n\nFrom: Support <help@x.com>\nSent: Wednesday\n\nWe started.\n> older\nmore history\n"
    assert visible_part(outlook) == "Still waiting."
    # ">" lines with no attribution are kept: they may be the customer's own citation (a review)
    assert visible_part("My complaint:\n> Your policy says 7 days") == "My complaint:\n> Your policy says 7 days"


def test_web_addresses_in_a_replys_text_become_links_that_end_where_the_address_does() -> None:
    """A review: "请访问https://shop.example.com/help了解详情" linked the Chinese words too."""
    from adapters.email.parse import html_for_text

    assert html_for_text("请访问https://shop.example.com/help了解详情，谢谢") == (
        '<div>请访问<a href="https://shop.example.com/help">https://shop.example.com/help</a>了解详情，谢谢</div>'
    )
    assert '<a href="https://a.example/x?a=1&amp;b=2">' in html_for_text("See https://a.example/x?a=1&b=2.")
    hostile = html_for_text('x https://evil.example/"onmouseover=alert(1) <script>')
    assert all("onmouseover" not in tag for tag in re.findall(r"<a [^>]*>", hostile)) and "<script>" not in hostile
