"""The README's plugin examples, run verbatim on a fresh hub, and `ctx.ask` on channels with
and without buttons (a numbered list and a typed answer where there are none)."""

from __future__ import annotations

import re
import sys
import tomllib
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hub import sdk
from hub.sdk import Choice, Outcome, Plugin, PluginContext, Sender
from hub.testing import (
    customer_message,
    eventually,
    fire_timers,
    make_config,
    records,
    replies,
    running_hub,
    said_to_customer,
    ticket,
)

README = Path(__file__).resolve().parent.parent / "README.md"
RESET_URL = "https://example.com/reset"


def readme_section(title: str) -> str:
    """The README's text from the heading `title` to the next heading of its level or above
    (a `#` line inside a code block is a comment, not a heading)."""
    level = len(title.split(" ")[0])
    lines, inside, fenced = [], False, False
    for line in README.read_text(encoding="utf-8").splitlines(keepends=True):
        fenced ^= line.startswith("```")
        heading = not fenced and re.match(r"(#+) ", line)
        if heading and inside and len(heading.group(1)) <= level:
            break
        inside = inside or line.rstrip("\n") == title
        if inside:
            lines.append(line)
    return "".join(lines)


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


def readme_module(name: str, code: str) -> types.ModuleType:
    """The README's code as an importable module (what a plugin author's package would be)."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(code, f"README.md:{name}", "exec"), module.__dict__)
    return module


def installable(pyproject: dict[str, Any]) -> None:
    """A README's pyproject snippet is a whole one that `pip install` takes (a developer's trial
    copied the plugin's, an entry-point table alone, and pip refused it: no name, no version)."""
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    assert pyproject["project"]["name"] and pyproject["project"]["version"]
    [group] = pyproject["project"]["entry-points"].values()
    [target] = group.values()
    assert pyproject["tool"]["setuptools"]["py-modules"] == [target.partition(":")[0]]


def test_the_plugin_snippet_is_a_whole_pyproject() -> None:
    installable(tomllib.loads(code_blocks(readme_section("## Writing a plugin"), "toml")[0]))


def password_help() -> tuple[str, type[Plugin]]:
    """The README's PasswordHelp plugin under the entry-point name its pyproject snippet gives."""
    section = readme_section("## Writing a plugin")
    entry_points = tomllib.loads(code_blocks(section, "toml")[0])["project"]["entry-points"]["helpline.plugins"]
    [(name, target)] = entry_points.items()
    module_name, _, class_name = target.partition(":")
    module = readme_module(module_name, code_blocks(section, "python")[0])
    return name, getattr(module, class_name)


def hub_config(tmp_path: Path, plugins: dict[str, type[Plugin]], settings: dict[str, Any] | None = None) -> Any:
    return make_config(
        tmp_path,
        {
            "channels": {"webchat": {"secret": "widget-secret-for-readme-tests"}},
            "plugins": {"enabled": list(plugins), **(settings or {})},
        },
        plugins=plugins,
    )


async def said(hub: Any, conversation_id: str, count: int) -> list[str]:
    return [m.text for m in await replies(hub, conversation_id, count)]


async def test_the_readme_password_help_works_on_a_fresh_hub_without_buttons(tmp_path: Path) -> None:
    name, cls = password_help()
    config = hub_config(tmp_path, {name: cls}, {name: {"reset_url": RESET_URL}})
    async with running_hub(config) as hub:
        first = await hub.ingest(customer_message("m1", "I forgot my password"))
        ticket_id = first.conversation.id
        [question] = await said(hub, ticket_id, 1)
        assert question == (
            "Do you want to reset your password?\n\n1. Yes, reset it\n2. No\n\n"
            "Please reply with the number of your answer (1-2)."
        )
        await hub.ingest(customer_message("m2", "１"))  # a full-width digit, as a Chinese keyboard types it
        assert (await said(hub, ticket_id, 2))[1] == f"Reset it here: {RESET_URL}"
        assert (await ticket(hub, ticket_id)).category == "account"

        # "No" on another ticket: handed to people, in a team a fresh hub has.
        other = await hub.ingest(customer_message("n1", "password trouble", thread="chat-2"))
        await said(hub, other.conversation.id, 1)
        await hub.ingest(customer_message("n2", "no", thread="chat-2"))  # the label, typed
        handed = await eventually(lambda: _handed_off(hub, other.conversation.id))
        assert handed.team and await hub.team(handed.team) is not None


async def _handed_off(hub: Any, conversation_id: str) -> Any:
    found = await ticket(hub, conversation_id)
    return found if found.human_owned else None


async def test_the_readme_password_help_shows_buttons_where_the_channel_has_them(tmp_path: Path) -> None:
    name, cls = password_help()
    config = hub_config(tmp_path, {name: cls}, {name: {"reset_url": RESET_URL}})
    async with running_hub(config) as hub:
        visitor = Sender(address="visitor-1")
        first = await hub.ingest(customer_message("w1", "my password", channel="webchat", thread="v1", sender=visitor))
        [question] = await eventually(lambda: said_to_customer(hub, first.conversation.id))
        assert question.text == "Do you want to reset your password?"  # no list: the buttons say it
        assert [c.id for c in question.choices] == ["reset", "No"]
        await hub.ingest(customer_message("w2", "", channel="webchat", thread="v1", sender=visitor, choice_id="reset"))
        assert (await said(hub, first.conversation.id, 2))[1] == f"Reset it here: {RESET_URL}"


async def test_the_readme_password_help_ignores_a_pick_it_never_offered(tmp_path: Path) -> None:
    """A client may send any choice id: the README's example acts on "reset" only after asking."""
    name, cls = password_help()
    config = hub_config(tmp_path, {name: cls}, {name: {"reset_url": RESET_URL}})
    async with running_hub(config) as hub:
        visitor = Sender(address="visitor-1")
        forged = customer_message("f1", "hi", channel="webchat", thread="v1", sender=visitor, choice_id="reset")
        record = await hub.ingest(forged)
        await hub.ingest(customer_message("f2", "my password", channel="webchat", thread="v1", sender=visitor))
        # Plugins run a ticket's messages in order: the forged pick's answer would come first.
        assert await said(hub, record.conversation.id, 1) == ["Do you want to reset your password?"]
        assert (await ticket(hub, record.conversation.id)).category != "account"


class Picker(Plugin):
    """Asks on "ask"; says what it was given as `chosen` on any other message."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.message.text == "ask":
            await ctx.ask("Which one?", [Choice("tea", "Green tea"), Choice("coffee", "Coffee")])
        else:
            await ctx.reply(f"chosen={ctx.chosen!r}")
        return Outcome.STOP


async def test_a_typed_answer_counts_once_and_only_for_a_listed_choice(tmp_path: Path) -> None:
    async with running_hub(hub_config(tmp_path, {"picker": Picker})) as hub:
        chinese = Sender(address="user-zh", language="zh-CN")
        conversation_id = (await hub.ingest(customer_message("a1", "ask", sender=chinese))).conversation.id
        assert (await said(hub, conversation_id, 1))[0].endswith("请回复您所选答案的序号（1-2）。")
        for n, (text, expected) in enumerate(
            [
                ("hello", "chosen=''"),  # not a choice, and the offer is spent
                ("1", "chosen=''"),  # too late: a later message is not an answer
                ("ask", None),
                ("  GREEN TEA ", "chosen='tea'"),  # a label, whatever its case
                ("ask", None),
                ("3", "chosen=''"),  # not in the list
            ]
        ):
            await hub.ingest(customer_message(f"b{n}", text, sender=chinese))
            if expected is not None:
                assert (await said(hub, conversation_id, n + 2))[-1] == expected
            else:
                await said(hub, conversation_id, n + 2)


async def test_a_bare_context_without_a_hub_asks_with_buttons_as_before() -> None:
    posted: list[tuple[str, list[Choice]]] = []

    class Actions:
        async def post_bot_message(self, conversation: Any, text: str, *, choices: Any = (), **_: Any) -> Any:
            posted.append((text, list(choices)))
            return types.SimpleNamespace(id="m")

    message = types.SimpleNamespace(choice_id="", text="", channel="chat")
    ctx = PluginContext("p", object(), message, None, None, {}, Actions())  # type: ignore[arg-type]
    await ctx.ask("Which one?", ["a", "b"])
    assert posted == [("Which one?", [Choice("a", "a"), Choice("b", "b")])]
    assert ctx.state == {}


def test_the_readmes_testing_example_passes_as_written(tmp_path: Path) -> None:
    """README "Testing a plugin": its test file, run by pytest, against the README's plugin."""
    password_help()  # importable as the pyproject snippet names it, as if installed
    assert run_readme_test(tmp_path, "### Testing a plugin", "test_password_help.py") == pytest.ExitCode.OK


def run_readme_test(tmp_path: Path, heading: str, file_name: str) -> int | pytest.ExitCode:
    """The one test file under a README heading, written out and run by pytest as an author would."""
    [code] = code_blocks(readme_section(heading), "python")
    test_file = tmp_path / file_name
    test_file.write_text(code, encoding="utf-8")
    return pytest.main([str(test_file), "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "--rootdir", str(tmp_path)])


def test_the_sdk_exports_the_types_a_plugin_reads() -> None:
    assert {"Contact", "Conversation", "Message", "Priority", "Status", "MissingText"} <= set(sdk.__all__)
    assert all(hasattr(sdk, name) for name in sdk.__all__)


async def test_the_readme_survey_speaks_its_default_texts_when_hub_toml_sets_none(tmp_path: Path) -> None:
    """The README's way to ship texts (a setting's default table by language) works unconfigured."""
    from tests.test_plugin_sdk import readme_example

    code, _ = readme_example()
    survey = readme_module("helpline_survey_example", code).Survey
    async with running_hub(
        make_config(tmp_path, {"plugins": {"enabled": ["survey"]}}, plugins={"survey": survey})
    ) as hub:
        record = await hub.ingest(
            customer_message("m1", "where is my refund?", sender=Sender(address="u-en", language="en"))
        )
        resolved = await hub.actions.update_conversation(record.conversation, {"status": "resolved"})
        await hub.plugin_host.settle()
        assert await fire_timers(hub, after=timedelta(days=1, minutes=1)) == 1
        [asked] = await replies(hub, resolved.id, 1)
        assert asked.text == survey.Settings().ask["en"].format(number=resolved.number)
        # the score is kept and the ticket stays resolved (a trial's copy of the example reopened it)
        await hub.ingest(customer_message("m2", "5", sender=Sender(address="u-en", language="en")))
        await eventually(lambda: hub.pipeline._tasks == set())
        [answered] = await records(hub, "survey", "survey", resolved.id)
        assert (answered.status, answered.data["score"]) == ("answered", 5)
        assert (await ticket(hub, resolved.id)).status.value == "resolved"


def test_a_text_can_be_said_in_the_messages_language_rather_than_the_contacts() -> None:
    """A trial's plugin answered "sorry, in English please: opening hours?" in the contact's Chinese."""
    from conversation.model import Contact
    from conversation.text_language import clear_language

    contact = Contact(id="p1", name="王芳", language="zh-CN")
    message = types.SimpleNamespace(choice_id="", text="sorry, in English please: opening hours?")
    ctx = PluginContext("p", None, message, contact, {}, {}, None, language="zh-CN")  # type: ignore[arg-type]
    assert ctx.text("bot.greeting", number=1000).startswith("感谢您联系我们")
    said = ctx.text("bot.greeting", number=1000, in_language=clear_language(message.text) or "")
    assert said.startswith("Thanks for contacting us") and "#1000" in said
    assert ctx.catalog(in_language="en").day_names(range(5)) == "Mon–Fri"


def test_a_plugins_now_is_the_hubs_clock_which_timers_follow() -> None:
    from datetime import UTC, datetime

    later = datetime(2030, 1, 1, tzinfo=UTC)
    message = types.SimpleNamespace(choice_id="", text="hi")
    runtime = types.SimpleNamespace(clock=lambda: later)
    ctx = PluginContext("p", None, message, None, {}, {}, None, runtime=runtime)  # type: ignore[arg-type]
    assert ctx.now() == later


async def test_add_tags_given_a_list_says_how_to_call_it() -> None:
    class Actions:
        async def update_conversation(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("nothing is stored for a wrong call")

    conversation = types.SimpleNamespace(tags=[])
    ctx = PluginContext("p", conversation, types.SimpleNamespace(choice_id=""), None, None, {}, Actions())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"each tag as its own argument \(add_tags\('vip', 'refund'\)\)"):
        await ctx.add_tags(["vip"])  # type: ignore[arg-type]


class FollowUp(Plugin):
    """Asks from a timer (as a follow-up a day later would) and reads the typed answer."""

    async def on_message(self, ctx: PluginContext) -> Outcome | None:
        if ctx.chosen:
            await ctx.reply(f"picked {ctx.chosen}")
        elif not ctx.state.get("scheduled"):
            ctx.state["scheduled"] = True
            await ctx.schedule(ctx.runtime.clock(), "follow-up")  # type: ignore[union-attr]
        return None

    async def on_timer(self, ctx: sdk.TimerContext) -> None:
        await ctx.ask("Is it solved?", [Choice("solved", "Solved"), Choice("open", "Not yet")])


async def test_a_typed_answer_to_a_question_asked_from_a_timer_comes_back_as_chosen(tmp_path: Path) -> None:
    """Only a message's context has the plugin's `state`: a question asked from `on_timer`
    (or `on_event`) keeps its offer in the plugin's stored state instead."""
    async with running_hub(
        make_config(tmp_path, {"plugins": {"enabled": ["follow"]}}, plugins={"follow": FollowUp})
    ) as hub:
        first = await hub.ingest(customer_message("m1", "my parcel is late"))
        await eventually(lambda: hub.plugin_host.fire_due_timers())
        [question] = await said(hub, first.conversation.id, 1)
        assert question.startswith("Is it solved?\n\n1. Solved\n2. Not yet")
        await hub.ingest(customer_message("m2", "2"))
        assert (await said(hub, first.conversation.id, 2))[1] == "picked open"
