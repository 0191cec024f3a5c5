"""The knowledge service and the hub's matcher on both backends: versions, translations,
import that changes nothing the second time, and retraining in every hub process."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from conversation.audit import AuditQuery
from conversation.errors import InvalidInput
from conversation.knowledge_io import read_articles, write_articles
from conversation.store import Store
from hub.actor import Actor, acting_as
from hub.events import EventBus
from hub.knowledge_model import KnowledgeModel, training_pairs
from hub.services.knowledge import EditConflict, KnowledgeService

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ZH = SHARED / "faq-zh" / "articles.jsonl"
EN = SHARED / "faq-en" / "articles.jsonl"
EDITOR = Actor("agent-7", "Li Na", "session")


def service(store: Store) -> KnowledgeService:
    return KnowledgeService(store, EventBus())


async def test_an_edit_is_a_new_version_and_a_stale_edit_is_refused(store: Store) -> None:
    kb = service(store)
    with acting_as(EDITOR):
        first = await kb.create({"id": "refund", "title": "如何退款", "answer": "在订单页点**退款**。"})
        second = await kb.update("refund", {"examples": ["怎么退钱"], "status": "published"}, version=1)
    assert (first.version, first.language, first.status.value) == (1, "zh-CN", "draft")
    assert (second.version, second.updated_by, second.examples) == (2, "Li Na", ("怎么退钱",))
    with pytest.raises(EditConflict):
        await kb.update("refund", {"title": "x"}, version=1)
    history = await store.knowledge.list_versions("refund")
    assert [(v.version, v.changed) for v in history] == [
        (2, ("examples", "status")),
        (1, ("title", "answer", "language", "status")),
    ]
    entries = await store.audit.list_entries(AuditQuery(target_id="refund"))
    assert [(e.action, e.actor_name, e.after) for e in entries][0] == (
        "kb.article.update", "Li Na", {"examples": ["怎么退钱"], "status": "published"}
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="title"):
        await kb.update("refund", {"title": "  "}, version=2)
    assert (await store.knowledge.get_article("refund")).version == 2  # type: ignore[union-attr]


async def test_one_article_per_language_in_a_group(store: Store) -> None:
    kb = service(store)
    await kb.create({"id": "refund", "title": "如何退款", "answer": "a"})
    await kb.create({"id": "refund-en", "title": "How to get a refund", "answer": "b", "group": "refund"})
    with pytest.raises(InvalidInput, match="already has a en article: refund-en"):
        await kb.create({"id": "refund-en2", "title": "Refunds", "answer": "c", "group": "refund", "language": "en"})
    assert await store.knowledge.get_article("refund-en2") is None


async def test_the_shared_faq_files_import_as_translations_and_again_change_nothing(store: Store) -> None:
    kb = service(store)
    zh = read_articles(ZH.read_text(encoding="utf-8"), "jsonl")
    en = read_articles(EN.read_text(encoding="utf-8"), "jsonl")
    assert (await kb.import_articles(zh)).as_dict() == {"created": 30, "updated": 0, "unchanged": 0}
    assert (await kb.import_articles(en)).as_dict() == {"created": 30, "updated": 0, "unchanged": 0}
    revision = await store.knowledge.revision()
    assert (await kb.import_articles(zh)).as_dict() == {"created": 0, "updated": 0, "unchanged": 30}
    assert (await kb.import_articles(en)).as_dict() == {"created": 0, "updated": 0, "unchanged": 30}
    assert await store.knowledge.revision() == revision  # nothing saved, nothing to retrain
    english = await store.knowledge.get_article("forgot_password-en")
    assert english is not None and english.language == "en" and english.group_id == "forgot_password"
    exported = write_articles(await store.knowledge.list_articles(), "jsonl")
    for fmt in ("jsonl", "csv"):  # an export imports back unchanged
        text = exported if fmt == "jsonl" else write_articles(await store.knowledge.list_articles(), "csv")
        assert text.startswith("\ufeff") is (fmt == "csv")  # Excel reads UTF-8 CSV by its mark
        again = await kb.import_articles(read_articles(text, fmt))
        assert again.as_dict() == {"created": 0, "updated": 0, "unchanged": 60}
    assert json.loads(exported.splitlines()[0])["id"] == "account_frozen"


@pytest.mark.parametrize(
    ("fmt", "text", "message"),
    [
        ("jsonl", '{"id": "a", "title": "t", "answer": "x"}\n{"id": "b", "title": "t"\n', "line 2: not JSON"),
        (
            "jsonl",
            '{"id": "a", "title": "t", "answer": "x"}\n\n{"id": "b", "title": "", "answer": "x"}',
            "line 3: title",
        ),
        ("jsonl", '{"id": "a", "title": "t", "answer": "x"}\n{"id": "a", "title": "t", "answer": "y"}', "line 2: id a"),
        ("jsonl", '{"id": "a b", "title": "t", "answer": "x"}', "line 1: id must be"),
        ("csv", "id,title,answer\na,t,x\nb,t,\n", "line 3: answer is required"),
        ("csv", "id,title\na,t\n", "line 1: the header needs the columns answer"),
        # a record's first line, where a quoted answer runs over three (a review's: "already on line 4")
        ("csv", 'id,title,answer\na,T,"one\ntwo\nthree"\na,U,x\n', "line 5: id a is already on line 2"),
        ("csv", 'id,title,"' + "x" * 200_000 + "\n", "line 1: field larger than field limit"),  # was a 500
    ],
)
async def test_a_bad_line_is_named_and_nothing_is_imported(store: Store, fmt: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        await service(store).import_articles(read_articles(text, fmt))
    assert await store.knowledge.list_articles() == []


async def test_every_hub_process_retrains_when_an_article_changes(store: Store) -> None:
    kb = service(store)
    here = KnowledgeModel(store)  # the process that saves
    kb.saved = here.changed
    elsewhere = KnowledgeModel(store, check_seconds=0.01)  # another hub process on the same store
    await kb.import_articles(read_articles(ZH.read_text(encoding="utf-8"), "jsonl"))
    await here.watch_step()  # woken by the save: no wait
    await elsewhere.watch_step()  # its periodic check sees the new revision
    question = "我想开发票报销用"
    assert here.predict(question)[0][0].id == elsewhere.predict(question)[0][0].id != "invoice_help"

    invoice = await kb.create(
        {"id": "invoice_help", "title": "如何开发票", "answer": "在订单详情页申请电子发票。", "status": "published",
         "examples": ["我想开发票报销用", "发票怎么开", "能开增值税发票吗", "报销需要发票"]}
    )  # fmt: skip
    assert here._wake.is_set()
    for model in (here, elsewhere):
        await model.watch_step()
        assert model.revision == await store.knowledge.revision()
        assert model.predict(question)[0][0].id == invoice.id
    trainings = elsewhere.trainings
    await kb.update("invoice_help", {"answer": "在**订单详情页**申请电子发票。"}, version=1)
    await elsewhere.watch_step()
    assert elsewhere.trainings == trainings  # emphasis in an answer teaches the matcher nothing
    assert elsewhere.articles["invoice_help"].answer.startswith("在**订单详情页**")  # but the answer given is new
    # its sentences do: a question asked in the answer's own words now finds it
    await kb.update("invoice_help", {"answer": "在**订单详情页**申请电子发票。纸质发票随包裹寄出。"}, version=2)
    await elsewhere.watch_step()
    assert elsewhere.trainings == trainings + 1
    assert ("纸质发票随包裹寄出", "invoice_help") in training_pairs(list(elsewhere.articles.values()))
    await kb.update("invoice_help", {"status": "draft"}, version=3)  # unpublished: no longer suggested
    await elsewhere.watch_step()
    assert all(article.id != "invoice_help" for article, _ in elsewhere.predict(question))


@pytest.mark.parametrize(
    ("fmt", "text", "line"),
    [
        (
            "jsonl",
            '{"id": "a", "title": "t", "answer": "x", "category": "faq"}\n'
            '{"id": "b", "title": "t", "answer": "y", "category": "订单"}\n',
            2,
        ),
        ("csv", "id,title,answer,category\na,t,x,faq\nb,t,y,订单\n", 3),
    ],
)
async def test_an_import_naming_a_category_the_desk_lacks_names_the_line_and_imports_nothing(
    store: Store, fmt: str, text: str, line: int
) -> None:
    await store.desk.create_defaults()
    with pytest.raises(InvalidInput, match=f"line {line}: category '订单' is not a category of this desk"):
        await service(store).import_articles(read_articles(text, fmt))
    assert await store.knowledge.list_articles() == []


async def test_an_import_keeps_a_category_an_article_already_had(store: Store) -> None:
    """Re-importing an export changes nothing even when a category was removed since: only a
    category an import gives anew must be the desk's (as for an edit in the editor)."""
    await store.desk.create_defaults()
    kb = service(store)
    await kb.create({"id": "a", "title": "t", "answer": "x", "category": "faq"})
    await store.desk.delete_category("faq")
    exported = write_articles(await store.knowledge.list_articles(), "jsonl")
    assert (await kb.import_articles(read_articles(exported, "jsonl"))).as_dict()["unchanged"] == 1


async def test_importing_the_file_again_keeps_what_was_done_in_the_hub_since(store: Store) -> None:
    """A trial re-imported faq-zh after working in the hub: the category set in the inbox was
    cleared, the example learned from the review queue was lost (the bot no longer answered
    that wording) and an unpublished article was published again. A line's fields replace
    the article's; what it leaves out stays; examples are only ever added."""
    await store.desk.create_defaults()
    kb = service(store)
    zh = ZH.read_text(encoding="utf-8")
    await kb.import_articles(read_articles(zh, "jsonl"))
    frozen = await kb.update("account_frozen", {"category": "account"}, version=1)
    learned = await kb.update(
        "withdrawal_time", {"examples": [*_file_examples("withdrawal_time"), "钱包的钱转出来要多久？"]}, version=1
    )
    await kb.update("block_user", {"status": "draft"}, version=1)

    assert (await kb.import_articles(read_articles(zh, "jsonl"))).as_dict() == {
        "created": 0, "updated": 0, "unchanged": 30
    }  # fmt: skip
    assert (await store.knowledge.get_article("account_frozen")) == frozen
    assert "钱包的钱转出来要多久？" in (await store.knowledge.get_article("withdrawal_time")).examples  # type: ignore[union-attr]
    assert (await store.knowledge.get_article("block_user")).status.value == "draft"  # type: ignore[union-attr]

    # A line that names a field changes it; the line's examples come first, the article's others after.
    line = {"id": "withdrawal_time", "title": "提现多久到账？", "answer": learned.answer}
    line |= {"examples": ["提现要等几天"], "category": "dispute", "status": "published"}
    changed = json.dumps(line, ensure_ascii=False)
    assert (await kb.import_articles(read_articles(changed, "jsonl"))).as_dict()["updated"] == 1
    after = await store.knowledge.get_article("withdrawal_time")
    assert after is not None and (after.title, after.category) == ("提现多久到账？", "dispute")
    assert after.examples == ("提现要等几天", *learned.examples)
    assert list(frozen.examples) == _file_examples("account_frozen")  # nothing added twice


async def test_an_import_whose_examples_would_overflow_an_article_names_the_line_and_changes_nothing(
    store: Store,
) -> None:
    from conversation.knowledge import MAX_EXAMPLES

    kb = service(store)
    await kb.create({"id": "a", "title": "t", "answer": "x", "examples": [f"old {n}" for n in range(MAX_EXAMPLES)]})
    lines = [{"id": "b", "title": "t", "answer": "y"}, {"id": "a", "title": "t", "answer": "x", "examples": ["new"]}]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    with pytest.raises(InvalidInput, match="line 2: examples"):
        await kb.import_articles(read_articles(text, "jsonl"))
    assert [a.id for a in await store.knowledge.list_articles()] == ["a"]  # b was not stored either


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        # a second English article for one group: stored the first line, then failed (a review's)
        ([{"id": "a", "title": "A", "answer": "x", "language": "en", "group": "g"},
          {"id": "b", "title": "B", "answer": "y", "language": "en", "group": "g"}],
         "line 2: group g already has a en article: a"),
        # the translation id "z-en" that line 1 goes to, named again by line 2: line 1's lost
        ([{"id": "z", "title": "Refunds", "answer": "x", "language": "en", "examples": ["e1"]},
          {"id": "z-en", "title": "Refund", "answer": "y", "language": "en"}],
         "line 2: goes to article z-en, as line 1 does"),
    ],
)  # fmt: skip
async def test_an_import_that_would_clash_with_itself_names_the_line_and_stores_nothing(
    store: Store, lines: list[dict[str, object]], message: str
) -> None:
    kb = service(store)
    await kb.create({"id": "z", "title": "如何退款", "answer": "在订单页退款。", "group": "g"})
    before = await store.knowledge.list_articles()
    text = "".join(json.dumps(line) + "\n" for line in lines)
    with pytest.raises(InvalidInput, match=message):
        await kb.import_articles(read_articles(text, "jsonl"))
    assert await store.knowledge.list_articles() == before


async def test_an_export_whose_answer_holds_a_line_separator_imports_back(store: Store) -> None:
    """JSON keeps U+2028 unescaped inside a string; splitlines() broke the line there (a review's)."""
    kb = service(store)
    await kb.create({"id": "a", "title": "t", "answer": "first\u2028second\u0085third", "status": "published"})
    exported = write_articles(await store.knowledge.list_articles(), "jsonl")
    assert (await kb.import_articles(read_articles(exported, "jsonl"))).as_dict()["unchanged"] == 1


async def test_a_csv_export_runs_no_formula_in_a_spreadsheet_and_imports_back_the_same(store: Store) -> None:
    """A trial: a title `=HYPERLINK(...)` (or an example learned from a customer) went into the
    CSV as it was, and Excel runs a cell that starts with = + - @ as a formula."""
    kb = service(store)
    article = {
        "id": "a",
        "title": '=HYPERLINK("http://evil.example","点我")',
        "answer": "- step one\n- step two",
        "examples": ["@SUM(1+1)", "+1 测试", "'quoted already", "'+86 号码怎么填", "''-1"],
        "status": "published",
    }
    await kb.create(article)
    exported = write_articles(await store.knowledge.list_articles(), "csv")
    rows = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=HYPERLINK" in exported and "'- step one" in exported
    assert (await kb.import_articles(read_articles(exported, "csv"))).as_dict()["unchanged"] == 1
    [stored] = await store.knowledge.list_articles()
    assert stored.title == article["title"] and list(stored.examples) == article["examples"]


def _file_examples(article_id: str) -> list[str]:
    lines = [json.loads(line) for line in ZH.read_text(encoding="utf-8").splitlines() if line.strip()]
    return next(line["examples"] for line in lines if line["id"] == article_id)


def test_a_hub_learns_what_faq_eval_measures_of_each_article() -> None:
    """One rule for both: `helpline faq eval` learned the answers' sentences, the hub only
    titles and examples, so the README's figures were not the hub's."""
    from conversation.faq.dataset import parse_articles, training_examples

    lines = ZH.read_text(encoding="utf-8").splitlines()
    evaluated = [(e.text, e.article_id) for e in training_examples(parse_articles(lines, "zh"))]
    articles = [line.article for line in read_articles(ZH.read_text(encoding="utf-8"), "jsonl")]
    assert all(a.published for a in articles)  # published by default
    hub_learns = training_pairs(articles)
    assert sorted(hub_learns) == sorted(evaluated)
    assert len(hub_learns) > sum(1 + len(a.examples) for a in articles)  # answer sentences included
