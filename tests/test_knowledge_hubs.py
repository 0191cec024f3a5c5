"""Two hub processes on one MongoDB (the mongoeco wire server): an article saved through one
is answered by the other's matcher without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.app import Hub
from tests.helpers import eventually, make_config, running_hub

ARTICLES = [
    {"id": "refund", "title": "如何申请退款", "answer": "打开订单点退款。", "examples": ["怎么退钱", "我要退款"]},
    {"id": "password", "title": "忘记密码", "answer": "点忘记密码。", "examples": ["密码忘了", "重置密码"]},
]


def best(hub: Hub, question: str) -> str:
    found = hub.knowledge.predict(question, 1)
    return found[0][0].id if found else ""


@pytest.mark.mongo
async def test_an_article_saved_on_one_hub_is_learned_by_the_other(tmp_path: Path, mongo_db_uri: str) -> None:
    config = make_config(tmp_path, storage_url=mongo_db_uri)
    async with running_hub(config) as first, running_hub(config) as second:
        second.knowledge.check_seconds = 0.05  # its periodic look at the store's knowledge revision
        second.knowledge.changed()  # ends the wait it began with the default period
        for article in ARTICLES:
            await first.services.knowledge.create({**article, "status": "published"})
        await eventually(lambda: best(second, "我要退款") == "refund", timeout=10)

        question = "发票怎么开"
        assert best(second, question) != "invoice"
        await first.services.knowledge.create(
            {"id": "invoice", "title": "如何开发票", "answer": "在订单详情申请。", "status": "published",
             "examples": ["发票怎么开", "开发票", "要发票报销"]}
        )  # fmt: skip
        await eventually(lambda: best(second, question) == "invoice", timeout=10)
        await eventually(lambda: best(first, question) == "invoice", timeout=10)  # the saving hub: at once
