"""Article answers: Markdown (CommonMark with tables and strikethrough) to HTML that is safe
to put in a page. markdown-it-py renders with raw HTML switched off; nh3 (ammonia) then
keeps only the tags and attributes an answer needs, so neither a crafted link nor
embedded HTML can run script wherever the answer is shown."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}


def render_markdown(text: str) -> str:
    """Sanitised HTML for an answer; links open as ordinary links with rel="noopener noreferrer nofollow"."""
    return clean_html(_MARKDOWN.render(text))


# Built once: nh3.clean() builds its sanitiser on every call, 6 of its 8 us on a bot's reply.
_CLEANER = nh3.Cleaner(
    tags=TAGS,
    attributes=ATTRIBUTES,
    url_schemes={"http", "https", "mailto", "tel"},
    link_rel="noopener noreferrer nofollow",
)


def clean_html(markup: str) -> str:
    """Only the tags and attributes an answer needs (a bot's HTML message is cleaned again so)."""
    return _CLEANER.clean(markup)


# A link to a script, which markdown-it leaves as the characters typed ("[x](javascript:…)",
# one level of brackets inside): shown so in plain text, an app that renders Markdown would
# make a link of it again. without_script_links keeps its words.
SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data", "file"})  # a link's addresses that run something
_SCRIPT_LINK = re.compile(
    rf"!?\[([^\]]*)\]\(\s*<?\s*(?:{'|'.join(sorted(SCRIPT_SCHEMES))}):(?:[^()]|\([^()]*\))*\)", re.I
)


def without_script_links(text: str) -> str:
    return _SCRIPT_LINK.sub(r"\1", text)


def plain_text(text: str, limit: int = 200) -> str:
    """The answer without markup, shortened: a summary for lists and the page description."""
    words = " ".join(without_script_links(html.unescape(nh3.clean(_MARKDOWN.render(text), tags=set()))).split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"


class _TextWriter(HTMLParser):
    """Sanitised answer HTML as plain text a channel shows: blocks on their own lines, list
    items numbered or bulleted, a link's address after its words."""

    BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "tr", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int] | None] = []  # per open list: [next number] for ol, None for ul
        self.href: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("ul", "ol"):
            start = dict(attrs).get("start") or "1"
            self.lists.append([int(start) if start.isdigit() else 1] if tag == "ol" else None)
        elif tag == "li":
            current = self.lists[-1] if self.lists else None
            marker = f"{current[0]}. " if current is not None else "- "
            if current is not None:
                current[0] += 1
            self.out.append("\n" + "  " * max(0, len(self.lists) - 1) + marker)
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            self.href.append(dict(attrs).get("href") or "")
        elif tag in ("td", "th"):
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            if self.lists:  # a nested list ends inside its item
                return
        if tag in self.BLOCKS:
            self.out.append("\n\n")
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and not href.startswith("mailto:"):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if data.strip() or "\n" not in data:  # the renderer's line breaks between tags are not text
            self.out.append(data)


def reply_text(text: str) -> str:
    """An answer's Markdown as the plain text of a reply (what the agent inserts and edits)."""
    writer = _TextWriter()
    writer.feed(render_markdown(text))
    writer.close()
    lines = [line.rstrip() for line in "".join(writer.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
