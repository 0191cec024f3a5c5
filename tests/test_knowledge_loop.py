"""The knowledge base's matcher loads its libraries beside the event loop, not on it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_first_training_imports_the_matcher_off_the_event_loop(tmp_path: Path) -> None:
    # A fresh interpreter: in this test process scikit-learn is long imported already.
    script = textwrap.dedent(
        f"""
        import asyncio, sys, threading
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        seen = []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "sklearn":
                    seen.append(threading.current_thread() is threading.main_thread())
                return None

        sys.meta_path.insert(0, Spy())
        from conversation.store import open_store
        from hub.knowledge_model import KnowledgeModel

        async def main():
            store = open_store("sqlite://", data_dir=Path({str(tmp_path)!r}))
            await store.open()
            try:
                await KnowledgeModel(store).refresh()
            finally:
                await store.close()

        asyncio.run(main())
        print("imported on the loop thread:", seen)
        assert seen == [False], seen
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
