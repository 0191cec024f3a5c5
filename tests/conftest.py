"""Shared fixtures: a store of each backend, a MongoDB wire server on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conversation.store import Store

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def mongoeco_available() -> bool:
    try:
        import mongoeco  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class MongoServer:
    """A mongoeco wire server in a child process; can be stopped and started again."""

    port: int
    engine: str
    path: Path | None
    process: subprocess.Popen[str] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self) -> None:
        args = [sys.executable, "-m", "tests.mongo_server", str(self.port), self.engine]
        if self.path is not None:
            args.append(str(self.path))
        self.process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # printed once it listens
        if not line.startswith("mongodb://"):
            self.stop()
            raise RuntimeError(f"mongoeco server did not start: {line!r}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the port must be free before a restart
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                        return
                time.sleep(0.05)


def require_mongo() -> None:
    """Skip only outside CI; under CI=true a missing MongoDB is a failure."""
    if os.environ.get("MONGODB_URI") or mongoeco_available():
        return
    message = "MongoDB tests need MONGODB_URI or mongoeco (Python >= 3.13): run `make test`"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    require_mongo()
    if uri := os.environ.get("MONGODB_URI"):
        yield uri
        return
    server = MongoServer(free_port(), "memory", None)
    server.start()
    try:
        yield server.uri
    finally:
        server.stop()


def database_uri(base: str, name: str) -> str:
    """The base URI pointed at its own database, so tests never see each other's data."""
    head, _, query = base.partition("?")
    head = head.rstrip("/")
    if head.count("/") > 2:  # a database is already named: replace it
        head = head.rsplit("/", 1)[0]
    return f"{head}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def mongo_db_uri(request: pytest.FixtureRequest) -> str:
    base = request.getfixturevalue("mongo_uri")
    return database_uri(base, f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "mongo"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The same contract, once per backend."""
    if request.param == "sqlite":
        from conversation.sqlite import SQLiteStore

        backend: Store = SQLiteStore(tmp_path / "helpline.sqlite3")
    else:
        from conversation.mongo import MongoStore

        backend = MongoStore(request.getfixturevalue("mongo_db_uri"), timeout=5)
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()
