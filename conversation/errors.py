"""The one exception type for input a caller got wrong.

Only this type (and its subclasses) becomes a 4xx answer; any other exception is a bug
or an outage, so it is logged with an error id and answered 500. Keeping it a
`ValueError` lets callers that already catch `ValueError` keep working.
"""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input the caller must correct; the message says what and is shown to them."""


class InvalidLine(InvalidInput):
    """A file's line the caller must correct: the message starts "line N:", and an API answer
    carries the number as `line` too, for a client that points at it."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line

    def details(self) -> dict[str, int]:
        return {"line": self.line}
