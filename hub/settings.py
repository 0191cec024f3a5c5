"""Declarative settings: each section (and each adapter or plugin) lists its fields,
and one validator turns a TOML table into checked values or an error naming the key.

Secrets: a field marked `secret=True` may be written as `"env:NAME"`, is read through
`resolve_secret` (the one place that does it, nested tables included), is never shown
in an error, and its value is redacted from every log record (hub/redact.py).
"Secret" says how a value is handled, not whether it must be there: that is the
default (`REQUIRED` or not).

Length rule: secrets the operator generates for Helpline (HMAC keys, the web chat's
token key, Telegram's webhook secret, the listener's SMTP password, the metrics token)
carry `min_length=MIN_GENERATED_SECRET` and shorter ones are refused. Credentials a
provider issues (bot tokens, Slack's signing secret) and passwords of external
accounts (the SMTP relay, the IMAP mailbox) are taken as issued: their owner sets the
rules, and a wrong one fails at its first use with the provider's answer.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from hub.redact import redact_secret

REQUIRED: Any = object()
SETTING = "helpline.setting"  # where `setting()` keeps a section field's declaration
Section = TypeVar("Section")
MIN_GENERATED_SECRET = 16  # characters; e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(Exception):
    """hub.toml is invalid; the message names the key and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class Field:
    type: type | tuple[type, ...]
    default: Any = REQUIRED
    help: str = ""
    secret: bool = False  # may be "env:NAME"; never shown or logged (required only without a default)
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int = 0  # for secrets Helpline's operator generates: refuse weak ones
    entries: Mapping[str, Field] | None = None  # a table of named tables, each checked against these fields
    entry_type: builtins.type | None = None  # the section each of those tables becomes (see `setting(entries=...)`)
    # Names a team by id: the hub checks it against the desk's teams when it starts (teams are
    # data, made in the inbox, so one named before it exists is an error in the log, not a refusal).
    team: bool = False


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
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        # TOML's integers are 64-bit; Python's reader takes any (a trial's limit = 10^23 was "valid")
        raise ConfigError(f"{key}: {value} is out of range (64-bit integers)")
    return value


def resolve_secret(key: str, value: str, *, required: bool = True, min_length: int = 0) -> str:
    """The one reader of secrets: `env:NAME` from the environment, else the literal.

    An unset or empty (or blank) variable is an error naming the key (even for an optional
    secret: the operator asked for it). An empty optional secret means "not used" and stays "".
    The prefix in another case ("ENV:NAME", "Env:NAME") is refused as the typo it is: taken
    literally, it signed every request with the words "ENV:NAME" (a trial).
    """
    if value[:4].lower() == "env:" and not value.startswith("env:"):
        raise ConfigError(f"{key}: write env: in lower case ({value!r} would be taken as the secret itself)")
    if value.startswith("env:"):
        name = value[4:]
        if not ENV_NAME.match(name):
            raise ConfigError(f"{key}: {value!r} is not a valid environment variable reference")
        if name not in os.environ:
            raise ConfigError(f"{key}: environment variable {name} is not set")
        value = os.environ[name]
        if not value.strip():
            raise ConfigError(f"{key}: environment variable {name} is empty")
    elif not value and not required:
        return ""
    if not value.strip():
        raise ConfigError(f"{key}: missing secret")
    if len(value) < min_length:
        raise ConfigError(
            f"{key}: the secret is too short ({len(value)} characters); use at least {min_length} random characters"
        )
    redact_secret(value)
    return value


def validate_table(prefix: str, table: Mapping[str, Any], fields: Mapping[str, Field]) -> dict[str, Any]:
    """Check a table against its fields: unknown keys, types, choices, secrets, nested tables."""
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
        if field.maximum is not None and value > field.maximum:
            raise ConfigError(f"{key}: must be at most {field.maximum}, not {value!r}")
        if field.secret:
            value = resolve_secret(key, value, required=field.default is REQUIRED, min_length=field.min_length)
        if field.entries is not None:
            value = {
                entry: validate_table(f"{key}.{entry}", _table(f"{key}.{entry}", sub), field.entries)
                for entry, sub in value.items()
            }
        values[name] = value
    return values


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table")
    return value


def secret_fields(fields: Mapping[str, Field], prefix: str = "") -> dict[str, Field]:
    """Every secret among these fields, nested tables included (`sites.*.identity_secret`)."""
    found: dict[str, Field] = {}
    for name, field in fields.items():
        if field.secret:
            found[prefix + name] = field
        if field.entries is not None:
            found.update(secret_fields(field.entries, f"{prefix}{name}.*."))
    return found


def setting(
    type: type | tuple[type, ...],  # noqa: A002 - the same word as Field's
    default: Any = REQUIRED,
    help: str = "",  # noqa: A002
    **options: Any,
) -> Any:
    """One field of a typed section (a frozen dataclass): the dataclass's default, and the
    declaration the validator checks the TOML table against (see `fields_of`).

    A section is read as attributes (`config.hub.port`), so a mistyped key is a type error
    for mypy and an AttributeError at run time, never a KeyError deep in a request."""
    entries = options.get("entries")
    if isinstance(entries, builtins.type):  # a section class: each named table becomes one of it
        options = {**options, "entries": fields_of(entries), "entry_type": entries}
    declared = Field(type, default, help, **options)
    metadata = {SETTING: declared}
    shown = not declared.secret  # a section's repr (a traceback, a debug print) never holds a secret
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata, repr=shown)
    if isinstance(default, list):  # a section is frozen: its lists are tuples
        return dataclasses.field(default=tuple(default), metadata=metadata, repr=shown)
    if isinstance(default, dict):  # a table of named tables: each section gets its own
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata, repr=shown)
    return dataclasses.field(default=default, metadata=metadata, repr=shown)


def fields_of(section: type) -> dict[str, Field]:
    """The declared fields of a typed section, in declaration order."""
    return {f.name: f.metadata[SETTING] for f in dataclasses.fields(section) if SETTING in f.metadata}


def section_of(section: type[Section], values: Mapping[str, Any]) -> Section:
    """Validated values (see `validate_table`) as the frozen section; lists become tuples,
    named tables declared with an entry section become instances of it."""
    declared = fields_of(section)
    frozen: dict[str, Any] = {}
    for name, value in values.items():
        entry_type = declared[name].entry_type if name in declared else None
        if entry_type is not None:
            value = {entry: section_of(entry_type, table) for entry, table in value.items()}
        frozen[name] = tuple(value) if isinstance(value, list) else value
    return section(**frozen)


def declared_fields(component: type) -> dict[str, Field]:
    """What a channel adapter or plugin declares: its `Settings` section's fields or, for
    components written before sections existed, its `config_fields` table."""
    section = getattr(component, "Settings", None)
    if section is not None:
        return fields_of(section)
    return dict(getattr(component, "config_fields", {}))


def settings_for(component: type, values: Mapping[str, Any]) -> Any:
    """Validated values as the component reads them: its typed `Settings` (attribute reads,
    so a mistyped name is a type error) or, for a `config_fields` component, the dict."""
    section = getattr(component, "Settings", None)
    return section_of(section, values) if section is not None else dict(values)


def setting_value(settings: Any, name: str, default: Any = None) -> Any:
    """One value from either kind of settings (a typed section or a dict)."""
    if isinstance(settings, Mapping):
        return settings.get(name, default)
    return getattr(settings, name, default)
