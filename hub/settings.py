"""Declarative settings: each section (and each adapter or plugin) lists its fields,
and one validator turns a TOML table into checked values or an error naming the key."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()


class ConfigError(Exception):
    """hub.toml is invalid; the message names the key and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Field:
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    help: str = ""
    secret: bool = False  # required non-empty; may be "env:NAME"; never logged
    choices: tuple[Any, ...] = ()
    minimum: float | None = None


def _type_name(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_type(key: str, value: Any, expected: type | tuple[type, ...], *, secret: bool = False) -> Any:
    types = expected if isinstance(expected, tuple) else (expected,)
    shown = "" if secret else f" {value!r}"  # a mistyped secret is still a secret
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{key}: expected {_type_name(expected)}, got boolean{shown}")
    if not isinstance(value, types):
        raise ConfigError(f"{key}: expected {_type_name(expected)}, got {type(value).__name__}{shown}")
    return value


def resolve_secret(key: str, value: str) -> str:
    """`env:NAME` keeps a secret out of hub.toml; the value is read from the environment."""
    if value.startswith("env:"):
        name = value[4:]
        resolved = os.environ.get(name, "")
        if not resolved:
            raise ConfigError(f"{key}: environment variable {name} is not set")
        return resolved
    return value


def validate_table(prefix: str, table: Mapping[str, Any], fields: Mapping[str, Field]) -> dict[str, Any]:
    """Check a table against its fields: unknown keys, types, choices, required secrets."""
    for key in table:
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(f"{prefix}.{key}: unknown key (known keys: {known})")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}"
        if name not in table:
            if field.default is REQUIRED:
                raise ConfigError(f"{key}: missing ({field.help or _type_name(field.type)})")
            values[name] = field.default
            continue
        value = _check_type(key, table[name], field.type, secret=field.secret)
        if field.choices and value not in field.choices:
            raise ConfigError(f"{key}: must be one of {', '.join(map(repr, field.choices))}, not {value!r}")
        if field.minimum is not None and value < field.minimum:
            raise ConfigError(f"{key}: must be at least {field.minimum}, not {value!r}")
        if field.secret:
            value = resolve_secret(key, value)
            if not value.strip():
                raise ConfigError(f"{key}: missing secret")
        values[name] = value
    return values
