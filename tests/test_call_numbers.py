"""Phone numbers as agents and telephony systems write them, kept as E.164 (with the
extension, when one is given, as RFC 3966 writes it)."""

from __future__ import annotations

import pytest

from conversation.calls import InvalidNumber, normalise_number


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("013800138000", "+8613800138000"),
        ("0086 138 0013 8000", "+8613800138000"),
        ("+86 21 6288 8888", "+862162888888"),
        ("400-820-8820", "+864008208820"),
        # an extension is kept, never dropped (a trial: "ext. 123" was lost, "转 123" refused)
        ("+86 21 6288 8888 ext. 123", "+862162888888;ext=123"),
        ("021-6288 8888 转 123", "+862162888888;ext=123"),
        ("021-62888888 分机 8001", "+862162888888;ext=8001"),
        ("021-62888888-123", "+862162888888;ext=123"),
    ],
)
def test_numbers_as_people_write_them(written: str, kept: str) -> None:
    assert normalise_number(written, "CN") == kept


@pytest.mark.parametrize(
    "written",
    # typos with a digit too many stay refused, not read as an extension (a review)
    ["12345", "转 123", "138-0013-8000-1-2", "not a number", "010-1234-5678-9", "13800138000-1"],
)
def test_what_is_no_number_is_refused(written: str) -> None:
    with pytest.raises(InvalidNumber):
        normalise_number(written, "CN")
