"""Adapters and plugins reach the hub only through `hub.sdk` (issue 12).

The rule, for every module under adapters/ and plugins/:
- of the `hub` package, only `hub.sdk` may be imported (HubPort, the SDK's types and
  helpers, re-exported there where they are value types or pure helpers);
- of the `conversation` package, the pure domain modules may be imported (value types
  such as `conversation.model`, `conversation.inbound`, `conversation.codec`,
  `conversation.errors`, and pure rules such as `conversation.identity`), but never the
  storage: `conversation.store`, the backends (`conversation.sqlite`, `conversation.mongo`)
  or their area interfaces (`conversation.areas`). What a channel stores goes through
  HubPort; what it reads, through `HubPort.reads`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORAGE = ("conversation.store", "conversation.sqlite", "conversation.mongo", "conversation.areas")


def forbidden_imports(source: str) -> list[str]:
    """The imports in this module's source that break the rule above."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names if node.module == "hub"]
        else:
            continue
        for name in names:
            if name == "hub" and isinstance(node, ast.ImportFrom):
                continue  # `from hub import x` is judged by its `hub.x`
            of_hub = (name == "hub" or name.startswith("hub.")) and name != "hub.sdk"
            if of_hub or any(name == s or name.startswith(s + ".") for s in STORAGE):
                found.append(name)
    return found


def test_the_rule_catches_what_it_forbids() -> None:
    assert forbidden_imports("from hub.events import Event\nimport hub.ratelimit") == ["hub.events", "hub.ratelimit"]
    assert forbidden_imports("from hub import sdk, events") == ["hub.events"]
    assert forbidden_imports("from conversation.store import Store") == ["conversation.store"]
    assert forbidden_imports("from conversation.sqlite.tickets import X") == ["conversation.sqlite.tickets"]
    allowed = "from hub.sdk import HubPort\nfrom hub import sdk\nfrom conversation.model import Message\n"
    assert forbidden_imports(allowed + "from conversation.inbound import Inbound\nfrom .x import y") == []


def test_adapters_and_plugins_import_only_the_sdk_of_the_hub() -> None:
    broken = {
        str(path.relative_to(ROOT)): names
        for folder in ("adapters", "plugins")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (names := forbidden_imports(path.read_text(encoding="utf-8")))
    }
    assert broken == {}
