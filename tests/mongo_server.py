"""A MongoDB-wire-compatible server for the tests, in its own process.

Run as `python -m tests.mongo_server PORT ENGINE [SQLITE_FILE]`; prints the URI once it
listens. A separate process lets a test kill it (the store lost while running) and
start it again on the same port and file (the store back).
"""

from __future__ import annotations

import asyncio
import sys


async def serve(port: int, engine_name: str, path: str | None) -> None:
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    engine = SQLiteEngine(path, executor_workers=1) if engine_name == "sqlite" else MemoryEngine()
    server = AsyncMongoEcoProxyServer(engine=engine, host="127.0.0.1", port=port)
    address = await server.start()
    print(address.uri, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
