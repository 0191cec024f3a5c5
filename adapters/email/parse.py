"""One raw email, read the way a help desk needs it.

The standard library's `email` package (policy.default) does the MIME work; this module
adds what real mail needs on top: charsets that lie (gb2312 mail that is really GBK or
GB18030, no charset at all), text derived from HTML-only mail, customer HTML sanitised
with nh3, the visible part of a reply (quoted history and signatures cut with
mail-parser-reply, plus the Chinese clients it misses), attachments with limits, and the
headers that decide threading and loop prevention.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

import nh3
from mailparser_reply import EmailReplyParser

from adapters.email.charsets import (
    SUPERSETS,
    SURROGATES,
    decode_bytes,
    detect_charset,
    raw_header_text,
    reads,
)
from adapters.email.reports import DeliveryReport, delivery_report, is_auto_reply, is_automatic
from conversation.inbound import QUOTED_LINE
from hub.sdk import checked_type

log = logging.getLogger(__name__)

# "Name via List" (Mailman's and Google Groups' DMARC rewrite of From).
VIA_LIST = re.compile(r"^[\'\"]?(.*?)[\'\"]?\s+via\s+\S.*$", re.I)
# Reply headers that mail-parser-reply does not know (Chinese, Japanese and Korean clients).
# Anchored with [ \t], never \s: with re.M, `^\s*` runs across blank lines, and a mail of
# blank lines then costs the square of its length.
CHINESE_QUOTE_HEADERS = [
    re.compile(r"^-{3,}[ \t]*原始邮件[ \t]*-{3,}[ \t]*$", re.M),  # QQ Mail, Foxmail
    # Outlook in Chinese, Foxmail
    re.compile(r"^[ \t]*-{2,}[ \t]*(?:原始邮件|邮件原件|原始郵件|郵件原件|Original)[ \t]*-{2,}", re.M),
    re.compile(r"^(?:在[ \t])?[^\n]{4,160}[写寫]道[:：][ \t]*$", re.M),  # Apple Mail, 163 (with or without 在)
    re.compile(r"^[^\n]{4,160}のメッセージ[:：][ \t]*$", re.M),  # Japanese Apple Mail and Thunderbird
    re.compile(r"^[^\n]{4,160}님이[ \t]*작성[:：][ \t]*$", re.M),  # Korean Gmail and Apple Mail
    re.compile(r"^(?:发件人|寄件者|發件人)[:：].*\n(?:.*\n){0,3}?(?:发送时间|日期|时间|寄件日期|傳送時間)[:：]", re.M),
]
# The line that introduces quoted lines ("On ... wrote:" and its translations).
ATTRIBUTION = re.compile(
    r"^[ \t]*(?:On[ \t].{4,200}wrote[:：]?|Am[ \t].{4,200}schrieb.*:|Le[ \t].{4,200}a écrit[ \t]?:|"
    r"El[ \t].{4,200}escribió:|(?:在[ \t])?.{4,160}[写寫]道[:：]|.{4,160}のメッセージ[:：]|"
    r".{4,160}님이[ \t]*작성[:：])[ \t]*$"
)
ATTRIBUTION_END = re.compile(r"(?:wrote|schrieb|a écrit|escribió|[写寫]道|のメッセージ|작성)[ \t]?[:：]?[ \t]*$")
SIGNATURE_MARK = re.compile(r"^-- ?$")
# Runs of blank (or whitespace-only) lines, collapsed to one blank line before any
# heuristics run: mail-parser-reply's patterns grow with the square of such runs.
BLANK_RUN = re.compile(r"\n(?:[ \t\r\f\v]*\n){2,}")
# The reply parser reads only the head of a long mail: the new text and the quote header
# that ends it are near the top, and its patterns are not linear in the length.
MAX_REPLY_PARSE_CHARS = 20_000
# HTML larger than this is not sanitised or shown (the original mail is kept instead);
# deeper element nesting is flattened first, because nh3's parser slows with its square.
# What was not kept of a mail, and why: the key of its sentence (hub.po, "placeholder.mail.<key>")
# and the sentence's parameters; the adapter says it in the hub's language as the mail is stored.
SkipNote = tuple[str, dict[str, Any]]
MAX_HTML_CHARS = 1_000_000
# What a ticket message can hold (below the hub's default limits of 64,000 characters of
# text and four times that of HTML): a mail above them keeps its start and the raw mail.
MAX_SHOWN_TEXT_CHARS = 60_000
MAX_SHOWN_HTML_CHARS = 200_000
MAX_KEPT_TEXT_CHARS = 256_000  # the whole text (quoted history included) kept beside the message
MAX_KEPT_RECIPIENTS = 100  # To and Cc addresses kept as the mail's metadata
MAX_HEADER_BYTES = 64 * 1024  # what parse_headers reads of a mail whose body is unreadable
MAX_HTML_DEPTH = 200
HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]*>")
# Elements that never nest (void) or whose end tag is optional: they do not add depth.
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
OPTIONAL_END_ELEMENTS = {"p", "li", "dt", "dd", "tr", "td", "th", "option"}
FLAT_ELEMENTS = frozenset(VOID_ELEMENTS | OPTIONAL_END_ELEMENTS)
_replies = EmailReplyParser(languages=["en", "zh", "de", "fr", "es", "ja", "ko"])


@dataclass(frozen=True, slots=True)
class MailAttachment:
    name: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class ParsedMail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    date: datetime | None
    text: str  # the whole text part (or text made from the HTML)
    visible_text: str  # without quoted history and signature
    html: str  # sanitised; remote images are blocked when it is shown
    attachments: list[MailAttachment] = field(default_factory=list)
    skipped: list[SkipNote] = field(default_factory=list)  # attachments not kept, and why
    keep_original: bool = False  # part of the mail could not be shown: keep the raw mail too
    automatic: bool = False  # an auto-reply, a list or bulk mail, a bounce: never answer it automatically
    auto_reply: bool = False  # a machine's answer (reports.is_auto_reply): it leaves its ticket's status as it is
    report: DeliveryReport | None = None
    list_address: str = ""  # the mailing list that rewrote From, if one did
    flags: list[str] = field(default_factory=list)  # what an agent should know: truncated, raw_8bit_headers, ...
    # The From address was only inside an RFC 2047 encoded word (which RFC 2047 forbids there):
    # a relay's DMARC check sees no domain in it, so it is believed only from its envelope sender.
    hidden_sender: bool = False
    return_path: str = ""  # the Return-Path header's address (the envelope sender over IMAP)


class UnreadableMail(ValueError):
    pass


def normalise_address(address: str) -> str:
    """The mailbox as an identity: domain case-insensitive (and the local part too, as
    virtually every provider treats it)."""
    return address.strip().strip("<>").lower()


# Bytes of a mail's text read beside its raw headers to tell their charset.
HEADER_CHARSET_SAMPLE = 4096


def header_charset(msg: Message, raw_values: list[str]) -> str:
    """The charset of a mail's raw 8-bit headers (those not UTF-8): the charset its text
    declares if that reads them, else what charset-normalizer detects in all of them
    together with the start of the mail's undeclared text (a mail client that leaves its
    headers unencoded writes its text in the same charset, and a name and a subject are too
    short to tell: "王五" and "密码忘了" in GBK read as Korean), else cp1252, which maps every
    byte; "" when the headers are ASCII."""
    data = b"\n".join(v.encode("utf-8", "surrogateescape") for v in raw_values if SURROGATES.search(v))
    if not data:
        return ""
    declared = next((p.get_content_charset() for p in _leaves(msg)[:5] if p.get_content_charset()), None)
    if declared and reads(data, charset := SUPERSETS.get(declared, declared)):
        return charset
    for sample in (data + b"\n" + _undeclared_text(msg), data):
        detected = detect_charset(sample)
        if detected is not None and reads(data, detected):
            return detected
    return "cp1252"


def _undeclared_text(msg: Message) -> bytes:
    """The start of the mail's first text part that declares no charset and is not ASCII."""
    for part in _leaves(msg)[:5]:
        if part.get_content_maintype() == "text" and not part.get_content_charset():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and not payload.isascii():
                return payload[:HEADER_CHARSET_SAMPLE]
    return b""


def decode_header_value(value: str | None) -> str:
    """An RFC 2047 header, each encoded word decoded with the charset it really uses."""
    if not value:
        return ""
    value = raw_header_text(str(value))
    try:
        parts = decode_header(str(value))
    except Exception:  # the stdlib raises several types on malformed words; the raw header still reads
        log.warning("a header could not be decoded; kept as received", exc_info=True)
        return str(value)
    text = []
    for chunk, charset in parts:
        text.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    joined = "".join(text) if any(isinstance(c, bytes) for c, _ in parts) else str(make_header(parts))
    return re.sub(r"\s+", " ", joined).strip()


def message_id_of(raw: bytes) -> str:
    """The Message-ID of a raw mail, for log lines (read from its head only)."""
    found = re.search(rb"^Message-ID:[ \t]*(<[^<>\s]{1,300}>)", raw[:65536], re.I | re.M)
    return found.group(1).decode("ascii", "replace") if found else "no Message-ID"


def message_ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


class _TextFromHtml(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def text_from_html(markup: str) -> str:
    parser = _TextFromHtml()
    parser.feed(markup)
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return collapse_blank_lines(text).strip()


def collapse_blank_lines(text: str) -> str:
    """Every run of blank lines as one blank line (linear, whatever the input)."""
    return BLANK_RUN.sub("\n\n", text)


def flatten_deep_nesting(markup: str, max_depth: int = MAX_HTML_DEPTH) -> str:
    """The markup without the tags nested deeper than max_depth (their text stays).

    One linear pass over the tags, before nh3: thousands of nested elements cost its
    HTML parser the square of their number, and no mail needs more than a few dozen."""
    depth = 0
    kept: list[str] = []
    start = 0
    for tag in HTML_TAG.finditer(markup):
        if tag.group(2).lower() in FLAT_ELEMENTS or tag.group(0).endswith("/>"):
            continue
        closing = bool(tag.group(1))
        too_deep = depth > max_depth if closing else depth >= max_depth
        depth = max(0, depth - 1) if closing else depth + 1
        if too_deep:
            kept.append(markup[start : tag.start()])
            start = tag.end()
    if not kept:
        return markup
    kept.append(markup[start:])
    return "".join(kept)


def sanitise_html(markup: str) -> str:
    """Customer HTML made safe: no scripts, handlers, forms or frames (nh3 / ammonia)."""
    return nh3.clean(
        flatten_deep_nesting(markup),
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto", "cid"},
    )


def visible_part(text: str) -> str:
    """The reply without the quoted mail below it or the signature; every line the
    sender wrote when they answered below or between the quoted lines."""
    text = collapse_blank_lines(text)
    interleaved = answers_between_quotes(text[:MAX_KEPT_TEXT_CHARS])
    if interleaved:
        return interleaved
    head = text[:MAX_REPLY_PARSE_CHARS]
    try:
        visible = _replies.parse_reply(text=head)
    except Exception:  # the parser is heuristics; never lose the message over it
        log.warning("the reply parser failed; the whole text is kept", exc_info=True)
        visible = head
    cut = len(visible)
    for pattern in CHINESE_QUOTE_HEADERS:
        found = pattern.search(visible)
        if found:
            cut = min(cut, found.start())
    visible = without_trailing_signature(visible[:cut].strip())
    if len(text) > len(head) and _reaches_the_end(visible, head):
        return text.strip()  # nothing quoted in the head of a long mail: all of it is new text
    return visible or text.strip()


# What mail programs leave under the words once the quoted mail is cut (a trial's tickets ended
# in Outlook's underscores and 发自我的iPhone). A last line that is an address stays: it may be
# the one the customer asks us to write to.
TRAILING_SIGNATURE = re.compile(
    r"^(?:[_\-=*~—]{5,}"
    r"|(?:发自|来自|從|从)我的\s*(?:iPhone|iPad|Android|华为|小米|荣耀|OPPO|vivo|三星|魅族|一加|Redmi|HUAWEI|Galaxy|手机)\S{0,20}"
    r"|发自\s*(?:网易邮箱大师|QQ邮箱|手机QQ邮箱|WPS邮箱|Outlook|Foxmail)\S*"
    r"|(?:sent|get outlook) (?:from|for) (?:my |mail for )?\S+(?: \S+){0,3})$",
    re.IGNORECASE,
)


def without_trailing_signature(text: str) -> str:
    """The text without the separator and "sent from my phone" lines at its end (never all of it)."""
    lines = text.split("\n")
    end = len(lines)
    while end > 1 and (not lines[end - 1].strip() or TRAILING_SIGNATURE.match(lines[end - 1].strip())):
        end -= 1
    return "\n".join(lines[:end]).rstrip() if any(line.strip() for line in lines[:end]) else text


def answers_between_quotes(text: str) -> str:
    """The unquoted lines of a bottom-posted or inline answer (Mutt, Thunderbird, technical
    users: a greeting, "On ... wrote:", quoted lines with answers between and below them);
    "" when nothing was written after the first quoted line (a top-posted reply), or when
    the quoted lines are not introduced by an attribution (">" lines deep in an Outlook
    history are old mail, not the place the customer answered). One pass over the lines."""
    lines = _joined_attributions(text.replace("\r\n", "\n").split("\n"))
    first_quote = next((i for i, line in enumerate(lines) if QUOTED_LINE.match(line)), -1)
    if first_quote < 0:
        return ""
    before = [line for line in lines[:first_quote] if line.strip()]
    introduced = (
        not before
        or bool(ATTRIBUTION.match(before[-1]))
        or bool(ATTRIBUTION.match(lines[first_quote].lstrip(" \t>")))  # Apple Mail quotes its attribution
    )
    if not introduced:
        return ""
    kept: list[str] = []
    answered_below = False
    for index, line in enumerate(lines):
        if SIGNATURE_MARK.match(line):
            break
        if QUOTED_LINE.match(line) or ATTRIBUTION.match(line):
            continue
        if index > first_quote and line.strip():
            answered_below = True
        kept.append(line)
    if not answered_below:
        return ""
    return collapse_blank_lines("\n".join(kept)).strip()


def _joined_attributions(lines: list[str]) -> list[str]:
    """Lines with an attribution that the client wrapped ("On Wed, ... Support <" and
    "help@example.com> wrote:", as Gmail writes it) joined into one."""
    joined: list[str] = []
    for line in lines:
        if (
            joined
            and ATTRIBUTION_END.search(line)
            and not ATTRIBUTION.match(line)
            and ATTRIBUTION.match(joined[-1].rstrip() + " " + line.strip())
        ):
            joined[-1] = joined[-1].rstrip() + " " + line.strip()
        else:
            joined.append(line)
    return joined


def _reaches_the_end(visible: str, head: str) -> bool:
    """Whether the parser kept the head up to (nearly) its end, i.e. found no quote in it.
    (It rewrites whitespace, so the texts cannot simply be compared.)"""
    tail = visible[-40:]
    found = head.rfind(tail) if tail else -1
    return found >= 0 and found + len(tail) >= len(head.rstrip()) - 200


def parse(raw: bytes, *, max_attachment_bytes: int, attachment_types: Sequence[str] | None = None) -> ParsedMail:
    """Read one mail; raise UnreadableMail when it has no usable sender.

    Runs in a worker process (see parse_pool): it may take long on hostile mail."""
    # compat32 hands over raw headers, which are decoded below (a lying charset is fixed
    # there); policy.default would parse every header into objects first, at ~6 ms a mail.
    msg = message_from_bytes(raw, policy=policy.compat32)
    mail = _envelope(msg)
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[MailAttachment] = []
    skipped: list[SkipNote] = []
    report = delivery_report(msg, subject=mail.subject, sender=mail.from_address, in_reply_to=mail.in_reply_to)
    for part in _leaves(msg):
        kind = part.get_content_type()
        disposition = part.get_content_disposition()
        if kind == "message/rfc822":  # a forwarded mail travels as an attachment
            inner_msg = _inner(part)
            try:
                data = inner_msg.as_bytes() if inner_msg is not None else b""
            except RecursionError:  # a forwarded mail nested past the stack: keep the whole mail instead
                data, mail.keep_original = b"", True
            name = decode_header_value(str(inner_msg.get("Subject", "forwarded"))) if inner_msg is not None else ""
            _keep(
                attachments,
                skipped,
                f"{name or 'forwarded'}.eml",
                "message/rfc822",
                data,
                max_attachment_bytes,
                attachment_types,
            )
            continue
        if report is not None and kind in (
            "message/delivery-status",
            "message/disposition-notification",
            "text/rfc822-headers",
        ):
            continue
        payload = _bytes(part)
        filename, guessed = _filename(part)
        if guessed and "raw_8bit_headers" not in mail.flags:
            mail.flags.append("raw_8bit_headers")  # the name was guessed at, as a raw subject is
        if disposition == "attachment" or filename or (not kind.startswith("text/")):
            if part.get_content_maintype() == "multipart":
                continue
            name = decode_header_value(filename) if filename else f"part.{kind.split('/')[-1]}"
            _keep(attachments, skipped, name, kind, payload, max_attachment_bytes, attachment_types)
        elif kind == "text/plain":
            text_parts.append(decode_bytes(payload, part.get_content_charset()))
        elif kind == "text/html":
            html_parts.append(decode_bytes(payload, part.get_content_charset()))
    raw_html = "\n".join(html_parts)
    html_too_big = len(raw_html) > MAX_HTML_CHARS
    if html_too_big:
        skipped.append(("html_too_large", {"kib": len(raw_html) // 1024}))
        raw_html, mail.keep_original = raw_html[:MAX_HTML_CHARS], True
    text = "\n".join(t.strip() for t in text_parts).strip()
    if not text or (raw_html and html_only_notice(text)):
        text = text_from_html(raw_html) or text  # an HTML of images only: the notice is all there is
    if len(text) > MAX_KEPT_TEXT_CHARS:  # the rest is in the original, kept as an attachment
        mail.keep_original = True
    mail.text = text[:MAX_KEPT_TEXT_CHARS]
    mail.visible_text = visible_part(text) if text else ""
    if len(mail.visible_text) > MAX_SHOWN_TEXT_CHARS:
        skipped.append(("text_cut", {"chars": MAX_SHOWN_TEXT_CHARS}))
        mail.visible_text, mail.keep_original = mail.visible_text[:MAX_SHOWN_TEXT_CHARS], True
    mail.html = sanitise_html(raw_html) if raw_html and not html_too_big else ""
    if len(mail.html) > MAX_SHOWN_HTML_CHARS:
        # A long thread quoted in HTML: its start is shown, the whole mail kept beside it.
        skipped.append(("html_cut", {"thousands": MAX_SHOWN_HTML_CHARS // 1000}))
        shown = sanitise_html(raw_html[:MAX_SHOWN_HTML_CHARS])
        mail.html, mail.keep_original = (shown if len(shown) <= MAX_SHOWN_HTML_CHARS else ""), True
    if mail.keep_original:
        mail.flags.append("truncated")
    mail.attachments, mail.skipped, mail.report = attachments, skipped, report
    return mail


# A text part that only says to read the HTML one (Chinese business systems send "此邮件为HTML
# 格式，请使用支持HTML的邮件客户端查看。" beside the real question in HTML): the HTML's text is read.
HTML_ONLY_NOTICE = re.compile(
    r"^(?:此|本|该)?(?:邮件|郵件|信件)(?:为|是|為)\s*html\s*(?:格式|邮件|郵件)"
    r"|请使用支持\s*html|請使用支援\s*html"
    r"|^this (?:is an? )?html (?:message|e-?mail)"
    r"|^(?:to view this (?:message|e-?mail)|please view this (?:message|e-?mail))\b.{0,40}\bhtml\b"
    r"|(?:does ?n[o']t|cannot|can't) (?:support|display|show) html",
    re.IGNORECASE,
)
MAX_NOTICE_CHARS = 300


def html_only_notice(text: str) -> bool:
    """Whether a mail's text part is only a notice to read its HTML part."""
    return len(text) <= MAX_NOTICE_CHARS and bool(HTML_ONLY_NOTICE.search(text))


def parse_headers(raw: bytes, *, max_bytes: int = MAX_HEADER_BYTES) -> ParsedMail:
    """Only the headers of a mail whose body could not be read (in time): enough to
    thread it and answer its sender. Cheap whatever the mail: at most max_bytes are read.
    The result has no text and asks for the raw mail to be kept."""
    ends = [i for i in (raw.find(b"\r\n\r\n", 0, max_bytes), raw.find(b"\n\n", 0, max_bytes)) if i >= 0]
    cut = min(ends) if ends else max_bytes
    msg = message_from_bytes(raw[:cut], policy=policy.compat32)
    mail = _envelope(msg)
    mail.keep_original = True
    return mail


def _envelope(msg: Message) -> ParsedMail:
    """The mail's headers read into a ParsedMail that has no content yet."""
    # Raw header values: decoding them here, not in the library, lets a lying charset be fixed.
    raw_headers: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        raw_headers.setdefault(key.lower(), []).append(str(value))
    eight_bit = header_charset(msg, [v for values in raw_headers.values() for v in values])
    if eight_bit:  # raw bytes in headers: read them as text once, here
        raw_headers = {k: [raw_header_text(v, eight_bit) for v in vs] for k, vs in raw_headers.items()}

    def header(key: str) -> str:
        return decode_header_value((raw_headers.get(key.lower()) or [""])[0])

    # Addresses are read from the raw header, names decoded after: a decoded name may hold
    # the brackets, commas or quotes of "Stanley Chang[昌育德]" that break address parsing.
    raw_from = (raw_headers.get("from") or [""])[0]
    from_name, from_address = _first_address(raw_from)
    if "@" not in from_address:
        raise UnreadableMail("the mail has no sender address")
    hidden_sender = not any("@" in address for _n, address in getaddresses([raw_header_text(raw_from)]))
    list_address = ""
    via = VIA_LIST.match(from_name)
    original_from = _first_address((raw_headers.get("x-original-from") or [""])[0])
    person = original_from if "@" in original_from[1] else ("", "")
    if via and "@" not in person[1]:
        person = _first_address((raw_headers.get("reply-to") or [""])[0])
    if "@" in person[1] and normalise_address(person[1]) != normalise_address(from_address):
        # A list rewrote From (DMARC mitigation): the mail is the person's, not the list's.
        list_address = normalise_address(from_address)
        from_name = person[0] or (via.group(1) if via else from_name)
        from_address = person[1]
    recipients = {
        key: [
            normalise_address(a)
            for _n, a in getaddresses([raw_header_text(v) for v in raw_headers.get(key.lower(), [])])
            if "@" in a
        ]
        for key in ("To", "Cc")
    }
    try:
        date = parsedate_to_datetime(header("Date")) if header("Date") else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=UTC)
    except (TypeError, ValueError):
        date = None
    subject = header("Subject")
    flags = ["raw_8bit_headers"] if eight_bit else []
    if list_address:
        flags.append("list_rewrite")
    return ParsedMail(
        message_id=(message_ids(header("Message-ID")) or [""])[0],
        in_reply_to=message_ids(header("In-Reply-To")),
        references=message_ids(" ".join(raw_headers.get("references", []))),
        subject=subject,
        from_name=from_name,
        from_address=normalise_address(from_address),
        to=recipients["To"][:MAX_KEPT_RECIPIENTS],
        cc=recipients["Cc"][:MAX_KEPT_RECIPIENTS],
        date=date,
        text="",
        visible_text="",
        html="",
        automatic=is_automatic(raw_headers, msg.get_content_type(), normalise_address(from_address), subject),
        auto_reply=is_auto_reply(raw_headers, normalise_address(from_address), subject),
        list_address=list_address,
        flags=flags,
        hidden_sender=hidden_sender and not list_address,
        return_path=normalise_address(_first_address((raw_headers.get("return-path") or [""])[0])[1]),
    )


def _first_address(raw_value: str) -> tuple[str, str]:
    """The first (name, address) of a raw address header, its name decoded."""
    value = raw_header_text(raw_value)
    found = [(n, a) for n, a in getaddresses([value]) if "@" in a]
    if not found:  # an encoded word that hides the address itself
        found = [(n, a) for n, a in getaddresses([decode_header_value(value)]) if "@" in a]
    if not found:
        return "", ""
    name, address = found[0]
    return decode_header_value(name), address


def _filename(part: Message) -> tuple[str | None, bool]:
    """A part's file name, and whether it was guessed at. Raw 8-bit bytes in it (a name
    neither RFC 2231 nor RFC 2047 encoded, as old Chinese mail clients write 说明.txt in GBK)
    are read as text first, in the charset `detect_charset` finds for them: the stdlib turns
    each byte into U+FFFD (a trial's ����.txt)."""
    raw = [(key, value) for key, value in part.raw_items() if key.lower() in ("content-disposition", "content-type")]
    escaped = [value for _key, value in raw if SURROGATES.search(value)]
    if not escaped:
        return part.get_filename(), False
    data = b"".join(value.encode("utf-8", "surrogateescape") for value in escaped)
    charset = "utf-8" if reads(data, "utf-8") else (detect_charset(data) or "cp1252")
    holder = Message()
    for key, value in raw:
        holder[key] = raw_header_text(value, charset)
    return holder.get_filename(), True


def _bytes(part: Message) -> bytes:
    """A leaf part's decoded payload (the library's return type covers every case)."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _inner(part: Message) -> Message | None:
    """The mail inside a message/rfc822 part."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    return inner if isinstance(inner, Message) else None


def _leaves(root: Message) -> list[Message]:
    """The parts that carry content, in order; a forwarded mail is one leaf, not opened.
    Iterative: a mail of a thousand nested multiparts must not exhaust the stack."""
    leaves: list[Message] = []
    stack = [root]
    while stack:
        part = stack.pop()
        if part.get_content_type() == "message/rfc822" or not part.is_multipart():
            leaves.append(part)
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([sub for sub in payload if isinstance(sub, Message)]))
    return leaves


def _keep(
    attachments: list[MailAttachment],
    skipped: list[SkipNote],
    name: str,
    kind: str,
    data: bytes,
    limit: int,
    types: Sequence[str] | None,
) -> None:
    name = name.replace("/", "_").replace("\\", "_")[:200] or "attachment"
    if kind != "message/rfc822":  # what the bytes are, not the part's word (a program sent as image/jpeg)
        kind = checked_type(kind, data, name)
    if len(data) > limit:
        skipped.append(("file_too_large", {"name": name, "kib": len(data) // 1024, "limit": limit // 1024}))
    elif types and kind not in types and kind != "message/rfc822":
        skipped.append(("file_type", {"name": name, "kind": kind}))
    else:
        attachments.append(MailAttachment(name=name, content_type=kind, data=data))


# A web address in a reply's text, without the punctuation that may end its sentence.
# Chinese puts no space after an address: a CJK or full-width character ends it.
_LINK = re.compile(
    r"https?://[^\s<>\"'\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]+?"
    r"(?=[.,;:!?)\]]*(?:[\s\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]|$))"
)


def html_for_text(text: str) -> str:
    """A reply's HTML alternative: the text, escaped, with its line breaks and its web
    addresses as links (a trial's status-page link was plain text in the HTML part)."""
    escaped = html_lib.escape(text, quote=False)
    linked = _LINK.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)  # escaped, no quotes in it
    return "<div>" + linked.replace("\n", "<br>\n") + "</div>"
