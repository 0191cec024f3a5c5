"""Cells of the CSV files Helpline writes for spreadsheets (knowledge-base exports, reports,
rosters). Excel and LibreOffice run a cell that starts with = + - @ (or a tab or carriage
return before one) as a formula: an article title such as `=HYPERLINK("http://evil…")`, or
an example question learned from a customer, would be a link or a command on the reader's
machine (CSV injection, OWASP). Such a cell is written with a leading apostrophe, which the
spreadsheet shows as text and hides; reading a file Helpline wrote takes the apostrophe off.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _escaped(value: str) -> bool:
    """Whether safe_cell puts an apostrophe before `value`: a formula's start, or an
    apostrophe before one (so that a value that really begins "'+86" comes back as it was)."""
    return value.lstrip("'").startswith(FORMULA_STARTS)


def safe_cell(value: Any) -> Any:
    """A value as a CSV cell no spreadsheet runs (other types as they are)."""
    if isinstance(value, str) and _escaped(value):
        return "'" + value
    return value


def read_cell(value: str) -> str:
    """A cell as written by safe_cell, back to the value (other cells as they are)."""
    if value.startswith("'") and _escaped(value[1:]):
        return value[1:]
    return value
