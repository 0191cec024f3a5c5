"""`helpline kb import FILE` and `helpline kb export [FILE]`: the knowledge base in and out
as JSONL or CSV (the format follows the file's extension unless --format says). A running
hub notices imported changes by itself (hub/knowledge_model.py): no restart."""

from __future__ import annotations

import sys
from pathlib import Path

from conversation.errors import InvalidInput
from conversation.knowledge_io import FORMATS, read_articles, write_articles
from conversation.store import open_store
from hub.config import Config
from hub.events import EventBus
from hub.services.knowledge import KnowledgeService


def format_of(path: Path | None, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = path.suffix.lower().lstrip(".") if path else ""
    return suffix if suffix in FORMATS else "jsonl"


async def import_file(config: Config, path: Path, fmt: str | None, status: str) -> int:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"helpline: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    try:
        lines = read_articles(text, format_of(path, fmt), default_status=status)
    except InvalidInput as exc:  # checked before the store is opened: nothing changes
        print(f"helpline: {path}: {exc}", file=sys.stderr)
        return 1
    store = open_store(config.storage.url, data_dir=config.data_dir, timeout=config.storage.timeout_seconds)
    await store.open()
    try:
        report = await KnowledgeService(store, EventBus()).import_articles(lines)
    except InvalidInput as exc:
        print(f"helpline: {path}: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged")
    return 0


async def export_file(config: Config, path: Path | None, fmt: str | None) -> int:
    store = open_store(config.storage.url, data_dir=config.data_dir, timeout=config.storage.timeout_seconds)
    await store.open()
    try:
        text = write_articles(await store.knowledge.list_articles(), format_of(path, fmt))
    finally:
        await store.close()
    if path is None:
        sys.stdout.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return 0
