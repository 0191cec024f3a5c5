"""Finds adapters, plugins and FAQ matchers by name: built-ins, then the entry-point groups.

Third-party packages declare, in their pyproject.toml:

    [project.entry-points."helpline.adapters"]
    whatsapp = "helpline_whatsapp:WhatsAppAdapter"

    [project.entry-points."helpline.plugins"]
    surveys = "helpline_surveys:SurveyPlugin"

    [project.entry-points."helpline.matchers"]
    bge = "helpline_bge:make_matcher"      # (model_path: Path | None) -> conversation.faq.Matcher

Nothing is imported until a configuration names it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.settings import ConfigError

if TYPE_CHECKING:
    from conversation.faq import Matcher

# What a `helpline.matchers` entry point names: the FAQ matcher for `[knowledge] model_path`
# (None when unset), made once per training.
MatcherMaker = Callable[[Path | None], "Matcher"]

ADAPTER_GROUP = "helpline.adapters"
PLUGIN_GROUP = "helpline.plugins"
MATCHER_GROUP = "helpline.matchers"

BUILTIN_ADAPTERS = {
    "webhook": "adapters.webhook:WebhookAdapter",
    "webchat": "adapters.webchat.adapter:WebChatAdapter",
    "email": "adapters.email.adapter:EmailAdapter",
    "telegram": "adapters.telegram.adapter:TelegramAdapter",
    "slack": "adapters.slack.adapter:SlackAdapter",
}
BUILTIN_PLUGINS = {
    "greeting": "plugins.greeting:GreetingPlugin",
    "progress": "plugins.progress:ProgressPlugin",
    "account": "plugins.account:AccountPlugin",
    "complaints": "plugins.complaints:ComplaintsPlugin",
    "faq": "plugins.faq:FaqPlugin",
    "csat": "plugins.csat:CsatPlugin",
    "disputes": "plugins.disputes:DisputesPlugin",
}


def _builtin_matcher(name: str) -> Callable[[], MatcherMaker]:
    """The built-in FAQ models (conversation/faq), made as an entry point's matcher is."""

    def load() -> MatcherMaker:
        from conversation.faq import matcher_named

        return lambda model_path: matcher_named(name, model_path)

    return load


def _import(target: str) -> Callable[[], Any]:
    def load() -> Any:
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    return load


@dataclass
class Kind:
    """Every known implementation of one extension point, by name."""

    what: str
    loaders: dict[str, Callable[[], Any]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    # How to install what a known name still needs (a built-in FAQ model's optional package),
    # or None when it is ready: such a name is not offered as available.
    missing: Callable[[str], str | None] = lambda name: None

    def add(self, name: str, origin: str, loader: Callable[[], Any]) -> None:
        if name in self.origins and self.origins[name] != origin:
            raise ConfigError(f"two {self.what}s are named {name!r}: {self.origins[name]} and {origin}")
        self.loaders[name] = loader
        self.origins[name] = origin

    def _choices(self) -> str:
        """The names ready to use, then those that need a package first and how to install it."""
        needs = {name: self.missing(name) for name in sorted(self.loaders)}
        ready = ", ".join(name for name, install in needs.items() if not install) or "none"
        waiting = "".join(f"; {name} once installed: {install}" for name, install in needs.items() if install)
        return f"available: {ready}{waiting}"

    def load(self, name: str, key: str) -> Any:
        if name not in self.loaders:
            raise ConfigError(f"{key}: no {self.what} named {name!r} is installed ({self._choices()})")
        try:
            return self.loaders[name]()
        except Exception as exc:
            raise ConfigError(f"{key}: {self.what} {name!r} ({self.origins[name]}) failed to load: {exc}") from exc


@dataclass
class Registry:
    adapters: Kind
    plugins: Kind
    matchers: Kind = field(default_factory=lambda: Kind("FAQ model"))

    def matcher_maker(self, name: str, key: str) -> MatcherMaker:
        """The FAQ model `name`'s maker, imported and checked to be a function (ConfigError
        naming `key` otherwise): for the hub's configuration and `helpline faq eval` alike."""
        maker = self.matchers.load(name, key)
        if not callable(maker):  # a package's entry point naming something else
            raise ConfigError(
                f"{key}: the entry point of {name!r} must name a function of the model path"
                ' that returns a Matcher (README "Writing an FAQ matcher")'
            )
        return maker  # type: ignore[no-any-return]


def discover() -> Registry:
    from conversation.faq import MODELS, missing_model_package

    registry = Registry(
        adapters=Kind("adapter"), plugins=Kind("plugin"), matchers=Kind("FAQ model", missing=missing_model_package)
    )
    for kind, builtins, group in (
        (registry.adapters, BUILTIN_ADAPTERS, ADAPTER_GROUP),
        (registry.plugins, BUILTIN_PLUGINS, PLUGIN_GROUP),
    ):
        for name, target in builtins.items():
            kind.add(name, target, _import(target))
        for entry in entry_points(group=group):
            kind.add(entry.name, entry.value, entry.load)
    for name in MODELS:
        registry.matchers.add(name, f"conversation.faq ({name})", _builtin_matcher(name))
    for entry in entry_points(group=MATCHER_GROUP):
        registry.matchers.add(entry.name, entry.value, entry.load)
    return registry
