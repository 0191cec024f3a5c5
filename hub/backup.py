"""`helpline backup DEST`: a consistent copy of the embedded store while the hub runs.

Copying `helpline.sqlite3` by hand is not a backup: the store runs in WAL mode, so recent
commits sit in `helpline.sqlite3-wal` until a checkpoint, and a file copied mid-write is torn.
SQLite's online backup API copies a consistent snapshot; the attachments (`blobs/`, files
written once under their content's hash, never changed) are copied after it, so every
attachment the copied database names is there. MongoDB has its own tools (mongodump).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from hub.config import Config

DATABASE = "helpline.sqlite3"
BLOBS = "blobs"


class BackupRefused(Exception):
    """The backup cannot be made where or how it was asked (said to the operator as it is)."""


def embedded_database(config: Config) -> Path:
    url = config.storage.url
    if not url.startswith("sqlite://"):
        raise BackupRefused('the store is MongoDB: back it up with mongodump (README "Backups")')
    path = url[len("sqlite://") :]
    return Path(path) if path else config.data_dir / DATABASE


def backup(config: Config, destination: Path) -> tuple[Path, int]:
    """Copy the embedded store into `destination` (new or empty): (the database copy, the
    number of attachment files copied)."""
    source = embedded_database(config)
    if not source.exists():
        raise BackupRefused(f"no database at {source}: nothing to back up")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupRefused(f"{destination} is not empty: back up into a new folder")
    # Private: the copy holds customers' messages, password hashes and the hub's own signing
    # keys (a status link's key when [status_page] secret is unset, webhook secrets).
    destination.mkdir(mode=0o700, parents=True, exist_ok=True)
    destination.chmod(0o700)
    copy = destination / DATABASE
    copy.touch(mode=0o600)
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    writer = sqlite3.connect(copy)
    try:
        reader.backup(writer)  # a consistent snapshot, whatever the hub writes meanwhile
    finally:
        writer.close()
        reader.close()
    files = 0
    blobs = config.data_dir / BLOBS
    if blobs.is_dir():
        # Only whole files: a blob being written is a ".part" file until it is renamed.
        shutil.copytree(blobs, destination / BLOBS, ignore=shutil.ignore_patterns("*.part"))
        files = sum(1 for path in (destination / BLOBS).rglob("*") if path.is_file())
    return copy, files
