"""The Store contract for knowledge-base articles, their versions and the revision (both backends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from conversation.knowledge import Article, ArticleStatus, ArticleVersion
from conversation.store import Store

FIRST = Article(
    id="forgot_password",
    title="忘记密码怎么找回",
    answer="在登录页点击**忘记密码**。",
    language="zh-CN",
    group="password",
    category="账号",
    tags=("密码", "登录"),
    examples=("忘记密码了怎么办", "密码忘了登不上去"),
    status=ArticleStatus.PUBLISHED,
    version=1,
    updated_at=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC),
    updated_by="Li Na",
)


async def test_an_article_is_created_once_then_changed_only_from_the_version_it_was_read_at(store: Store) -> None:
    assert await store.knowledge.revision() == 0
    assert await store.knowledge.save_article(ArticleVersion(FIRST, ("title",)), previous=0)
    assert not await store.knowledge.save_article(ArticleVersion(FIRST), previous=0)  # exists already
    assert await store.knowledge.get_article("forgot_password") == FIRST
    assert await store.knowledge.revision() == 1

    second = replace(FIRST, title="找回密码", examples=(*FIRST.examples, "怎么找回密码"), version=2)
    assert await store.knowledge.save_article(ArticleVersion(second, ("title", "examples")), previous=1)
    stale = replace(FIRST, title="someone else's edit", version=2)
    assert not await store.knowledge.save_article(ArticleVersion(stale), previous=1)  # lost the race: nothing kept
    assert await store.knowledge.get_article("forgot_password") == second
    assert await store.knowledge.revision() == 2

    history = await store.knowledge.list_versions("forgot_password")
    assert [(v.version, v.changed) for v in history] == [(2, ("title", "examples")), (1, ("title",))]
    old = await store.knowledge.get_version("forgot_password", 1)
    assert old is not None and old.article == FIRST  # the previous version stays readable
    assert await store.knowledge.get_version("forgot_password", 3) is None
    assert await store.knowledge.get_article("nope") is None
    assert await store.knowledge.list_versions("nope") == []


async def test_articles_are_listed_by_id(store: Store) -> None:
    english = replace(FIRST, id="forgot_password_en", title="Forgot password", language="en", updated_at=None)
    for article in (english, FIRST):
        assert await store.knowledge.save_article(ArticleVersion(article), previous=0)
    assert [a.id for a in await store.knowledge.list_articles()] == ["forgot_password", "forgot_password_en"]
    assert (await store.knowledge.list_articles())[1] == english
