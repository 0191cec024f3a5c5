"""One reader for every JSON body the hub accepts: webhooks, the widget, the REST API.

`json.loads` accepts more than the hub can keep: nesting deep enough to overflow the
stack (RecursionError), a key written twice in one object (which one counts depends on
the parser), escapes of lone UTF-16 surrogates ("\\ud800": no UTF-8 encoder,
so the store fails), integers MongoDB cannot hold and NaN. Each of those is refused
here with a clear reason, so the caller gets 400 and nothing is stored. A leading byte
order mark, which some Windows tools write before UTF-8, is ignored (RFC 8259, 8.1 allows it).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from aiohttp import web

from conversation.errors import InvalidInput

MAX_DEPTH = 32  # no payload the hub understands nests deeper than a handful of levels
INT_RANGE = (-(2**63), 2**63 - 1)  # what both stores can hold (BSON int64)
SURROGATE = re.compile("[\ud800-\udfff]")
INT_DIGITS = len(str(2**63))  # more digits than this cannot be in INT_RANGE
BOM = "\ufeff"
OUT_OF_RANGE = "a number is out of range (64-bit integers only)"


class InvalidJson(InvalidInput):
    """The body is not JSON the hub can accept; the message says why."""


class InvalidText(InvalidJson):
    """Well-formed JSON whose text cannot be kept (a lone UTF-16 surrogate): callers that
    answer people (the widget) can say that, rather than "not JSON"."""


def parse_json(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode strict UTF-8 JSON and check that every value in it can be stored."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8") from None
    text = text.removeprefix(BOM)
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_bounded_int, object_pairs_hook=_object_once
        )
    except RecursionError:
        raise InvalidJson(f"the JSON is nested more than {max_depth} levels deep") from None
    except InvalidJson:
        raise
    except ValueError as exc:  # JSONDecodeError
        raise InvalidJson(f"the body is not valid JSON: {exc}") from None
    check_storable(value, max_depth=max_depth)
    return value


def _object_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose every key is written once: with {"sender": A, "sender": B} a signer
    whose parser keeps the first key would have checked A while the hub kept B (a trial)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise InvalidJson(f"the key {twice!r} appears twice in one object")
    return value


async def read_json(request: web.BaseRequest, *, max_depth: int = MAX_DEPTH) -> Any:
    """The request's body as checked JSON (an empty body is null); raises InvalidJson.

    A body over the application's `client_max_size` still raises 413 from aiohttp.
    """
    body = await request.read()
    return parse_json(body, max_depth=max_depth) if body else None


def check_text(value: str, where: str) -> str:
    """Refuse a string that cannot be encoded as UTF-8 (a lone surrogate)."""
    if SURROGATE.search(value):
        raise InvalidText(f"{where} contains an invalid character (a lone UTF-16 surrogate)")
    return value


def check_storable(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Walk a decoded value without recursion: depth, strings and integers."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, "a string")
        elif isinstance(item, float):
            if not math.isfinite(item):  # 1e400 reads as inf, as unstorable as NaN (a review)
                raise InvalidJson("a number is out of range (too large)")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT_RANGE[0] <= item <= INT_RANGE[1]:
                raise InvalidJson(OUT_OF_RANGE)
        elif isinstance(item, (dict, list)):
            if depth > max_depth:
                raise InvalidJson(f"the JSON is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, inner in item.items():
                    check_text(key, "a key")
                    stack.append((inner, depth + 1))
            else:
                stack.extend((inner, depth + 1) for inner in item)


def _bounded_int(digits: str) -> int:
    """Refuse a long integer before converting it: past 4,300 digits Python's own refusal
    would reach the client, advising `sys.set_int_max_str_digits()` (a trial)."""
    if len(digits.lstrip("-")) > INT_DIGITS:
        raise InvalidJson(OUT_OF_RANGE)
    return int(digits)


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not a JSON number")
