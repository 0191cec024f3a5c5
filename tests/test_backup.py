"""`helpline backup DEST`: the embedded store copied consistently while the hub runs and
writes (a file copy of a WAL database is not a backup: an operator's trial found no way), and
a hub started on the copy has every ticket, message and attachment."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from conversation.inbound import Attachment
from hub.backup import BackupRefused, backup
from tests.helpers import customer_message, make_config, running_hub


async def test_a_backup_taken_while_the_hub_writes_opens_as_a_hub_with_everything(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    async with running_hub(config) as hub:
        ref = await hub.blobs.put(b"%PDF-1.4 the invoice")
        invoice = Attachment("invoice.pdf", "application/pdf", 20, ref)
        await hub.ingest(customer_message("m0", "invoice attached", attachments=(invoice,)))

        async def keep_writing() -> None:
            for n in range(1, 60):
                await hub.ingest(customer_message(f"m{n}", f"message {n}", thread=f"t{n % 5}"))

        writing = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.05)
        copy, files = await asyncio.to_thread(backup, config, tmp_path / "backup")
        await writing
        assert copy == tmp_path / "backup" / "helpline.sqlite3" and files == 1
        # private: messages, password hashes and the hub's own keys are in it
        assert (tmp_path / "backup").stat().st_mode & 0o777 == 0o700 and copy.stat().st_mode & 0o777 == 0o600

    restored = replace(config, hub=replace(config.hub, data_dir=str(tmp_path / "backup")))
    async with running_hub(restored) as again:
        first = await again.store.tickets.get_conversation_by_number(1000)
        assert first is not None
        [message] = [m for m in await again.store.tickets.list_messages(first.id) if m.text == "invoice attached"]
        blob = await again.blobs.open(message.attachments[0].blob_ref)
        assert blob is not None and b"".join([c async for c in blob.chunks()]) == b"%PDF-1.4 the invoice"


def test_a_backup_refuses_a_folder_in_use_and_mongodb(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "helpline.sqlite3").write_bytes(b"")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(BackupRefused, match="is not empty"):
        backup(config, busy)
    with pytest.raises(BackupRefused, match="is not empty"):  # a file, not a folder
        backup(config, busy / "keep.txt")
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    mongo = replace(config, storage=replace(config.storage, url="mongodb://db/helpline"))
    with pytest.raises(BackupRefused, match="mongodump"):
        backup(mongo, tmp_path / "new")
    assert not (tmp_path / "new").exists()
