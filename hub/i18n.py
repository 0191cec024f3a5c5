"""Languages: the message catalogs, which catalog a person gets, and locale formatting.

Catalogs are gettext `.po` files under `hub/locales/<locale>/LC_MESSAGES/<domain>.po`
(`hub`: bot, system and error texts; `widget`: the chat widget; any other domain a UI
adds). They are read with Babel at first use, so an editable install needs no compile
step. Messages are keyed by stable ids (`bot.greeting`), not by English text: every
catalog, English included, holds the words, and a test checks that all catalogs of a
domain have the same keys and placeholders. Placeholders are `{name}`, as in
`str.format`, so the browser can fill them the same way.

A person's language is a BCP 47 tag as their channel said it (`zh-hans`, `en-US`);
`best_locale` maps it to the catalog they read best, by language first, then script
(Hans/Hant), then region: `zh-hant` and `zh-TW` get Simplified Chinese (readable, and
better than English) until a Traditional catalog is added, which then wins by itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, get_day_names, get_timezone_location
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from conversation.inbound import Inbound, with_changes
from conversation.placeholders import customer_words
from hub.settings import ConfigError

LOCALES_DIR = Path(__file__).parent / "locales"
SOURCE_LOCALE = "en"  # API error details are written in it at the call site
CLDR_PLURALS = ("zero", "one", "two", "few", "many", "other")
_TAG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{4}))?(?:[-_]([a-zA-Z]{2}|[0-9]{3}))?(?:[-_][a-zA-Z0-9]{1,8})*$")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def canonical_tag(tag: str) -> str:
    """`zh_hans`, `ZH-cn` -> `zh-Hans`, `zh-CN`; "" for anything that is not a language tag."""
    tag = (tag or "").strip()
    match = _TAG.match(tag) if len(tag) <= 64 else None
    if not match:
        return ""
    language, script, region = match.groups()
    parts = [language.lower()]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def known_language(tag: str) -> bool:
    """A tag naming a language there is (`zh-CN`, `yue`), not only one shaped like a tag (`xx-nonsense`)."""
    return _parse(tag) is not None


def _parse(tag: str) -> Locale | None:
    canonical = canonical_tag(tag)
    if not canonical:
        return None
    try:
        return Locale.parse(canonical, sep="-")
    except (UnknownLocaleError, ValueError):
        try:  # a region or script Babel does not know: the language alone still tells a lot
            return Locale.parse(canonical.split("-")[0])
        except (UnknownLocaleError, ValueError):
            return None


def locales_in(root: Path) -> tuple[str, ...]:
    """The catalog locales under `root`, as tags (`en`, `zh-CN`); English first."""
    found = sorted(p.name.replace("_", "-") for p in root.iterdir() if (p / "LC_MESSAGES").is_dir())
    return tuple(sorted(found, key=lambda tag: tag != SOURCE_LOCALE))


@cache
def available_locales() -> tuple[str, ...]:
    """The catalogs there are: adding a language is adding its folder of .po files."""
    return locales_in(LOCALES_DIR)


def domains() -> tuple[str, ...]:
    return tuple(sorted({p.stem for p in LOCALES_DIR.glob("*/LC_MESSAGES/*.po")}))


def match_locale(tag: str, candidates: Iterable[str]) -> str | None:
    """The candidate a reader of `tag` reads best, or None when none shares its language.

    Same language is required; then the same script (zh-CN is Hans, zh-TW is Hant), then
    the same region, then the shortest tag (the most general one)."""
    wanted = _parse(tag)
    if wanted is None:
        return None
    best: tuple[tuple[bool, bool, int], str] | None = None
    for candidate in candidates:
        have = _parse(candidate)
        if have is None or have.language != wanted.language:
            continue
        score = (have.script == wanted.script, have.territory == wanted.territory, -len(candidate))
        if best is None or score > best[0]:
            best = (score, candidate)
    return best[1] if best else None


# Asked on every message (its placeholders, its replies) with a handful of distinct tags;
# Babel's parsing is tens of microseconds a tag. Bounded: tags come from customers' channels.
@lru_cache(maxsize=1024)
def best_locale(tag: str, default: str = SOURCE_LOCALE) -> str:
    """The catalog for a person whose language is `tag` (`default` when none fits)."""
    return match_locale(tag, available_locales()) or match_locale(default, available_locales()) or SOURCE_LOCALE


def require_catalog(key: str, tag: str) -> str:
    """`tag` for a setting that must name a language there is a catalog for."""
    if match_locale(tag, available_locales()) is None:
        have = ", ".join(available_locales())
        raise ConfigError(f"{key}: no catalog for the language {tag!r} (there are: {have})")
    return tag


def accept_language(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(header: str) -> str | None:
    """The catalog for an Accept-Language header, or None when it names none we have."""
    for tag in accept_language(header):
        found = match_locale(tag, available_locales())
        if found:
            return found
    return None


_SCRIPTS = {  # the writing systems a guess can go by, as character classes (counted in C)
    "han": re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0002ffff]"),
    "kana": re.compile("[\u3040-\u30ff\u31f0-\u31ff]"),
    "hangul": re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]"),
    "latin": re.compile("[A-Za-z\u00c0-\u024f]"),
}


_ASCII_LETTER = re.compile("[A-Za-z]")


def detect_language(text: str) -> str:
    """A guess from the writing system when the channel says nothing: Han -> zh-CN,
    kana -> ja, Hangul -> ko, Latin -> en; "" when there are no letters to go by.
    The first 300 characters are enough, and keep this cheap on every message."""
    head = text[:300]
    if head.isascii():  # no Han, kana or Hangul: Latin letters or nothing to go by (one scan)
        return "en" if _ASCII_LETTER.search(head) else ""
    counts = {script: len(pattern.findall(head)) for script, pattern in _SCRIPTS.items()}
    if counts["kana"]:
        return "ja"
    if counts["hangul"] > counts["han"] and counts["hangul"] >= counts["latin"]:
        return "ko"
    # A few Han characters among Latin words are common in Chinese writing ("订单 ID 123").
    if counts["han"] and counts["han"] * 3 >= counts["latin"]:
        return "zh-CN"
    return "en" if counts["latin"] else ""


def with_language(inbound: Inbound) -> Inbound:
    """The inbound with its sender's language as a clean tag: the channel's word, or a
    guess from the text when the channel said nothing (or something unreadable)."""
    # a channel's placeholder line ("[not kept: …]", "[贴纸 👍]") is none of the customer's words
    tag = canonical_tag(inbound.sender.language) or detect_language(customer_words(inbound.text))
    if tag == inbound.sender.language:
        return inbound
    return with_changes(inbound, sender=with_changes(inbound.sender, language=tag))


# The zones of mainland China's one time, said 北京时间 (and Beijing time) by everyone there.
CHINA_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Chungking", "Asia/Harbin", "PRC"})


class _KeepMissing(dict[str, Any]):
    """Format parameters where one a text names but the caller did not give shows itself
    (`{clock}`) instead of raising: an event written before its text gained a parameter
    must still read."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Texts:
    """One catalog domain in one locale. Plural forms are kept by CLDR category and chosen
    by Babel's CLDR rules: the same rules `Intl.PluralRules` applies in the browser."""

    def __init__(self, domain: str, locale: str, messages: dict[str, str | dict[str, str]]) -> None:
        self.domain, self.locale = domain, locale
        self.messages = messages
        self.babel_locale = Locale.parse(locale, sep="-")

    def has(self, key: str) -> bool:
        return key in self.messages

    def get(self, key: str, **params: Any) -> str:
        text = self.messages.get(key, key)  # a missing key shows itself (gettext's way), never crashes
        if isinstance(text, dict):
            text = text["other"]
        return text.format_map(_KeepMissing(params)) if params else text

    def plural(self, key: str, count: int, **params: Any) -> str:
        forms = self.messages.get(key, key)
        text = forms if isinstance(forms, str) else forms.get(self.babel_locale.plural_form(count), forms["other"])
        return text.format(count=count, **params)

    def day_names(self, days: Iterable[int]) -> str:
        """Week days (0 = Monday) in this language, runs of three or more as a range (hub
        catalog): `Mon–Fri`, `周一至周五`, `周一至周三、周六`; all seven `every day`, `每天`.
        Each day listed read like a machine's (a trial's 周一、周二、周三、周四、周五)."""
        names = get_day_names("abbreviated", locale=self.babel_locale)
        chosen = set(days)
        if len(chosen) == 7:
            return self.get("days.every")
        # A run over the weekend stays one (Sat, Sun, Mon: 周六至周一): the week is then read from
        # the day after the last one off; else from Monday.
        gap = max(set(range(7)) - chosen) if {0, 6} <= chosen else 6
        runs: list[list[int]] = []
        for day in ((gap + 1 + i) % 7 for i in range(7)):
            if day not in chosen:
                continue
            if runs and day == (runs[-1][-1] + 1) % 7:
                runs[-1].append(day)
            else:
                runs.append([day])
        said = [
            self.get("days.range", first=names[run[0]], last=names[run[-1]])
            if len(run) >= 3
            else self.get("list.separator").join(names[d] for d in run)
            for run in runs
        ]
        return self.get("list.separator").join(said)

    def week(self, week: Iterable[tuple[Iterable[int], Iterable[str]]]) -> str:
        """A usual week (`Opening.week`: days sharing the same spans) as a customer reads it:
        `周一至周五 09:00-18:00；周六 10:00-16:00`, `Mon–Fri 09:00-18:00; Sat 10:00-16:00`."""
        said = hub_texts(self.locale)
        return said.get("week.separator").join(
            said.get("week.days_hours", days=said.day_names(days), hours=said.get("list.separator").join(spans))
            for days, spans in week
        )

    def zone_name(self, timezone: str) -> str:
        """A time zone as a customer reads it: 北京时间 / Beijing time for China's, `UTC`, else
        CLDR's place name ("Germany (Berlin) Time"), never the IANA id (Asia/Shanghai)."""
        if timezone in CHINA_ZONES:
            return self.get("zone.china")
        if timezone in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
            return "UTC"
        if timezone.startswith("Etc/") or get_timezone_location(timezone, locale="en").startswith("Unknown"):
            # CLDR knows no place for it ("Unknown Region (GMT-8) Time", whose sign is inverted):
            # its offset, as people write it
            offset = datetime.now(ZoneInfo(timezone)).utcoffset() or timedelta(0)
            minutes = int(offset.total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        return get_timezone_location(timezone, locale=self.babel_locale)

    def when_back(self, moment: datetime, timezone: str) -> str:
        """When a closed team is back, as a customer reads it: 12月1日周二 09:00（北京时间）."""
        said = hub_texts(self.locale)  # the hub catalog's words, from any domain's Texts
        return said.get("time.with_zone", time=self.day_and_time(moment, timezone), zone=said.zone_name(timezone))

    def day_and_time(self, moment: datetime, timezone: str) -> str:
        """A coming moment in `timezone` with its weekday: `11月30日周一 09:00`, `Mon, Nov 30 09:00`."""
        local = moment.astimezone(ZoneInfo(timezone))
        day = format_skeleton("MMMEd", local, locale=self.babel_locale)
        return f"{day} {local:%H:%M}"

    def as_json(self) -> dict[str, Any]:
        """The catalog for a browser: strings, and plural forms by CLDR category
        (`Intl.PluralRules(locale).select(n)` picks one)."""
        return {"domain": self.domain, "locale": self.locale, "messages": dict(sorted(self.messages.items()))}


def po_path(domain: str, locale: str, root: Path = LOCALES_DIR) -> Path:
    return root / locale.replace("-", "_") / "LC_MESSAGES" / f"{domain}.po"


def texts(domain: str, locale: str) -> Texts:
    """The catalog `domain` in the catalog locale best for `locale` (each read once)."""
    return _load(domain, best_locale(locale))  # cached by catalog, not by whatever a request asked for


@cache
def _load(domain: str, chosen: str) -> Texts:
    if not _DOMAIN.match(domain):
        raise KeyError(domain)
    path = po_path(domain, chosen)
    if not path.is_file():
        raise KeyError(domain)
    with path.open("rb") as po:
        catalog = read_po(po, locale=chosen.replace("-", "_"), domain=domain)
    categories = plural_categories(chosen)
    if catalog.num_plurals != len(categories):
        raise ValueError(f"{path}: {catalog.num_plurals} plural forms, but CLDR has {len(categories)} for {chosen}")
    messages: dict[str, str | dict[str, str]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):  # gettext numbers the forms in CLDR's order of categories
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            messages[str(message.id[0])] = dict(zip(categories, map(str, forms), strict=True))
        else:
            messages[str(message.id)] = str(message.string)
    return Texts(domain, chosen, messages)


_PLACEHOLDER = re.compile(r"{(\w+)}")


def catalog_problems(domain: str, root: Path = LOCALES_DIR) -> list[str]:
    """What differs between the catalogs of one domain: a key (or its plural form, or a
    placeholder) present in one language and not in another. Empty when they agree."""
    shapes: dict[str, dict[str, tuple[bool, frozenset[str]]]] = {}
    for locale in locales_in(root):
        path = po_path(domain, locale, root)
        if not path.is_file():
            return [f"{domain}: no catalog for {locale} ({path})"]
        with path.open("rb") as po:
            catalog = read_po(po)
        shape: dict[str, tuple[bool, frozenset[str]]] = {}
        for message in catalog:
            if not message.id:
                continue
            key = str(message.id[0] if isinstance(message.id, tuple) else message.id)
            strings = [
                str(text or "") for text in (message.string if isinstance(message.string, tuple) else [message.string])
            ]
            names = frozenset(name for text in strings for name in _PLACEHOLDER.findall(text))
            if not all(strings):
                return [f"{domain}/{locale}: {key} is not translated"]
            shape[key] = (isinstance(message.id, tuple), names)
        shapes[locale] = shape
    problems = []
    all_keys = sorted({key for shape in shapes.values() for key in shape})
    for key in all_keys:
        seen = {locale: shape.get(key) for locale, shape in shapes.items()}
        missing = [locale for locale, found in seen.items() if found is None]
        if missing:
            problems.append(f"{domain}: {key} is missing in {', '.join(missing)}")
        elif len(set(seen.values())) > 1:
            problems.append(f"{domain}: {key} differs in plural form or placeholders: {seen}")
    return problems


# Header fields gettext's `msgfmt --check` wants, and the value Babel fills in for each when
# the file has none (a field still at its template value is as good as missing).
_HEADER_DEFAULTS: dict[str, Callable[[Catalog], bool]] = {
    "Project-Id-Version": lambda c: c.project == "PROJECT",
    "PO-Revision-Date": lambda c: isinstance(c.revision_date, str),  # "YEAR-MO-DA HO:MI+ZONE"
    "Last-Translator": lambda c: c.last_translator == "FULL NAME <EMAIL@ADDRESS>",
    "Language-Team": lambda c: c.language_team == "LANGUAGE <LL@li.org>",
}


def po_file_problems(path: Path) -> list[str]:
    """What gettext's `msgfmt --check` would refuse in one catalog file, found with Babel (so
    no gettext install is needed): a missing header field, a message whose translation does
    not begin and end with a newline as its id does, and what Babel's own checkers find
    (placeholders of python-format messages, the number of plural forms)."""
    with path.open("rb") as po:
        catalog = read_po(po)
    problems = [
        f"{path.name}: header field {name} missing" for name, unset in _HEADER_DEFAULTS.items() if unset(catalog)
    ]
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in (str(s or "") for s in strings):
            for edge, has in (("begin", str.startswith), ("end", str.endswith)):
                if text and has(text, "\n") != has(str(ids[0]), "\n"):
                    problems.append(f"{path.name}: {ids[0]}: msgid and msgstr do not both {edge} with a newline")
    for message, errors in catalog.check():
        problems.extend(f"{path.name}: {message.id}: {error}" for error in errors)
    return problems


def plural_categories(locale: str) -> tuple[str, ...]:
    """CLDR plural categories of `locale` in the order gettext numbers its forms."""
    tags = Locale.parse(locale, sep="-").plural_form.tags | {"other"}
    return tuple(c for c in CLDR_PLURALS if c in tags)


def plugin_name(name: str, locale: str) -> str:
    """A plugin's name for people (hub catalog `event.plugin.<name>`, as thread events name
    it); anything else (an agent's name) as given."""
    catalog = hub_texts(locale)
    return catalog.get(f"event.plugin.{name}") if catalog.has(f"event.plugin.{name}") else name


def hub_texts(locale: str) -> Texts:
    return texts("hub", locale)


Phrase = dict[str, Any]  # {"key": a hub catalog key, "params": its parameters}


def say(locale: str, key: str, params: Mapping[str, Any]) -> str:
    """A hub catalog text whose parameters may be phrases themselves ({"key", "params"}) or
    lists, each said in the same language: a sentence and the reasons inside it read in one
    language. A list of words is joined by the language's list separator ("、"), one of
    phrases (clauses) by its clause separator ("；")."""
    catalog = hub_texts(locale)

    def value(given: Any) -> Any:
        if isinstance(given, dict) and "key" in given:
            return say(locale, str(given["key"]), given.get("params") or {})
        if isinstance(given, list):
            clauses = any(isinstance(item, dict) for item in given)
            return catalog.get("list.clauses" if clauses else "list.separator").join(str(value(i)) for i in given)
        return given

    return catalog.get(key, **{name: value(given) for name, given in params.items()})


def error_message(code: str, detail: str, locale: str, *, kept: frozenset[str] | None = None) -> str:
    """The `message` of an API error for a reader of `locale`.

    In the source language the call site's own words stay (they name the field or the
    limit); in another language, the catalog's sentence for the stable code, followed by
    those words where an agent must read them to decide (what a merge would do)."""
    if locale == SOURCE_LOCALE:
        return detail
    catalog = hub_texts(locale)
    key = f"error.{code}"
    sentence = catalog.get(key) if catalog.has(key) else catalog.get("error.unknown", code=code)
    return f"{sentence}\n{detail}" if code in (DETAIL_KEPT if kept is None else kept) and detail else sentence


# Codes whose English detail is the substance (who will see what after a merge, what still
# uses a team or category an admin would delete): kept under the translated sentence until
# the detail itself is translated at its source.
DETAIL_KEPT = frozenset({"confirm_needed", "in_use"})
# For agents and developers (the /api routes) also which field or parameter is wrong and why;
# a visitor of the chat widget reads the sentence alone.
API_DETAIL_KEPT = DETAIL_KEPT | {"invalid"}
