"""The knowledge base's matcher loads its libraries beside the event loop, not on it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_first_training_imports_the_matcher_off_the_event_loop() -> None:
    # A fresh interpreter: in this test process scikit-learn is long imported already.
    script = textwrap.dedent(
        f"""
        import asyncio, sys, threading
        sys.path.insert(0, {str(ROOT)!r})
        seen = []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name == "sklearn":
                    seen.append(threading.current_thread() is threading.main_thread())
                return None

        sys.meta_path.insert(0, Spy())
        from conversation.knowledge import Article, ArticleStatus
        from hub.knowledge_model import KnowledgeModel

        published = [
            Article("a", "忘记密码怎么办", "…", examples=("密码忘了", "重置密码"), status=ArticleStatus.PUBLISHED),
            Article("b", "订单没有收到", "…", examples=("快递没到", "包裹丢了"), status=ArticleStatus.PUBLISHED),
        ]

        class Knowledge:
            async def revision(self):
                return 1

            async def list_articles(self):
                return published

        class Store:
            knowledge = Knowledge()

        async def main():
            model = KnowledgeModel(Store())
            assert await model.refresh() and model.trained is not None

        asyncio.run(main())
        assert seen == [False], seen  # imported once, by the training thread
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
