"""The lines a channel writes in place of what it cannot show as text.

A sticker, a location, a file that was not kept or a mail with no text at all reach the thread
as a bracketed line in the hub's language (`[sticker 👍]` or `[贴纸 👍]`, `[location 31.23,
121.47]`, `[not kept: dump.zip: …]`, `(empty mail)` or `（空邮件）`), so an agent reads what
came. They are not the customer's words: a bot must not answer one as a question, nor an
agent's suggestion be looked up for it.
"""

from __future__ import annotations

import re

# A whole line in brackets: what the adapters write (adapters/telegram/content.py, the Slack
# and email adapters). A customer rarely types one alone; if they do, it still stays in the
# thread, only the bots read past it.
# A file's name may hold brackets of its own ("[not kept: report[1].pdf: …]").
PLACEHOLDER_LINE = re.compile(r"^[ \t]*(?:\[[^\n]{1,500}\]|\(empty mail\)|（空邮件）)[ \t]*$", re.MULTILINE)


def customer_words(text: str) -> str:
    """`text` without the channels' placeholder lines ("" when that is all it holds)."""
    if "[" not in text and "(" not in text and "（" not in text:
        return text
    return "\n".join(line for line in PLACEHOLDER_LINE.sub("", text).split("\n") if line.strip()).strip()
