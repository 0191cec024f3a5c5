"""The inbox's own message catalogs (hub/static/inbox/i18n): every language has every key,
with the same placeholders, and every key the code asks for exists."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from hub.api.routes import inbox_languages

INBOX = Path(__file__).resolve().parent.parent / "hub" / "static" / "inbox"
CATALOGS = INBOX / "i18n"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(language: str) -> dict[str, Any]:
    return json.loads((CATALOGS / f"{language}.json").read_text(encoding="utf-8"))


def placeholders(entry: str | dict[str, str]) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for name in PLACEHOLDER.findall(text)}


def catalog_differences(catalogs: dict[str, dict[str, Any]]) -> list[str]:
    """Keys or placeholders present in one catalog and not in another (empty: in step)."""
    problems = []
    every_key = set().union(*catalogs.values())
    for language, catalog in catalogs.items():
        problems += [f"{language} lacks {key!r}" for key in sorted(every_key - set(catalog))]
    reference = catalogs["en"]
    for language, catalog in catalogs.items():
        for key in sorted(set(catalog) & set(reference)):
            if placeholders(catalog[key]) != placeholders(reference[key]):
                problems.append(f"{language}: {key!r} has placeholders {sorted(placeholders(catalog[key]))}")
            if isinstance(catalog[key], dict) and "other" not in catalog[key]:
                problems.append(f"{language}: plural {key!r} has no 'other' form")
    return problems


def test_the_index_lists_exactly_the_catalogs_there_are() -> None:
    assert sorted(p.stem for p in CATALOGS.glob("*.json") if p.stem != "index") == sorted(inbox_languages())
    assert {"en", "zh-CN"} <= set(inbox_languages())


def test_every_catalog_has_every_key_with_the_same_placeholders() -> None:
    assert catalog_differences({language: load(language) for language in inbox_languages()}) == []


@pytest.mark.parametrize(
    ("catalogs", "problem"),
    [
        ({"en": {"a": "A", "b": "B"}, "zh-CN": {"a": "甲"}}, "zh-CN lacks 'b'"),
        ({"en": {"a": "A"}, "zh-CN": {"a": "甲", "extra": "多"}}, "en lacks 'extra'"),
        ({"en": {"a": "Hi {name}"}, "zh-CN": {"a": "你好 {nmae}"}}, "zh-CN: 'a' has placeholders ['nmae']"),
        (
            {"en": {"a": {"one": "1", "other": "n"}}, "zh-CN": {"a": {"one": "1"}}},
            "zh-CN: plural 'a' has no 'other' form",
        ),  # noqa: E501
    ],
)
def test_a_key_missing_from_one_catalog_is_reported(catalogs: dict[str, dict[str, Any]], problem: str) -> None:
    assert problem in catalog_differences(catalogs)


def test_every_key_the_inbox_code_asks_for_is_in_the_catalogs() -> None:
    english = load("en")
    code = "\n".join(p.read_text(encoding="utf-8") for p in INBOX.rglob("*.js") if "vendor" not in p.parts)
    asked = set(re.findall(r"""\bt\("([\w.-]+)\"""", code))
    assert asked, "no t(...) calls found: the pattern is out of date"
    assert sorted(asked - set(english)) == []
    for prefix in ("view", "status", "priority", "channel", "delivery", "role", "language"):  # t(`prefix.${x}`)
        assert any(key.startswith(prefix + ".") for key in english), prefix


ROOT = INBOX.parent.parent.parent
ERROR_CODE = re.compile(
    r'(?:ApiError|error_response)\(\s*\d{3},\s*"(\w+)"|getattr\(exc, "code", "(\w+)"\)|^\s+code(?:: str)? = "(\w+)"',
    re.M,
)


def api_error_codes() -> set[str]:
    """Every error code the API answers with, read from the sources (a new one is checked too)."""
    codes = set()
    for folder in ("hub", "conversation", "plugins"):
        for source in (ROOT / folder).rglob("*.py"):
            for match in ERROR_CODE.finditer(source.read_text(encoding="utf-8")):
                codes.add(next(group for group in match.groups() if group))
    return codes


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_inbox_says_every_api_error_code_in_the_agents_language(language: str) -> None:
    """The inbox shows a refusal from its catalog by code (lib/inbox.js codeText), not the hub's
    English message: a 403 "supervisor_needed" reads 需要该组的主管或管理员。 in zh-CN."""
    codes = api_error_codes()
    assert {"forbidden", "supervisor_needed", "team_only", "invalid", "not_found"} <= codes
    catalog = load(language)
    missing = sorted(code for code in codes if f"error.{code}" not in catalog)
    assert missing == [], f"add error.<code> to the inbox catalogs: {missing}"
    assert "codeText(e)" in (INBOX / "lib" / "inbox.js").read_text(encoding="utf-8")
