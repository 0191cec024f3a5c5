"""Article answers: Markdown (CommonMark with tables and strikethrough) to HTML that is safe
to put in a page. markdown-it-py renders with raw HTML switched off; nh3 (ammonia) then
keeps only the tags and attributes an answer needs, so neither a crafted link nor
embedded HTML can run script wherever the answer is shown."""

from __future__ import annotations

import html

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


def clean_html(markup: str) -> str:
    """Only the tags and attributes an answer needs (a bot's HTML message is cleaned again so)."""
    return nh3.clean(
        markup,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
    )


def plain_text(text: str, limit: int = 200) -> str:
    """The answer without markup, shortened: a summary for lists and the page description."""
    words = " ".join(html.unescape(nh3.clean(_MARKDOWN.render(text), tags=set())).split())
    return words if len(words) <= limit else words[: limit - 1].rstrip() + "…"
