"""Articles in and out as JSONL (the `faq-zh/articles.jsonl` format: `{"id", "title",
"answer", "examples"}` a line, plus the optional `language`, `group`, `category`, `tags`,
`status`) and CSV (one row per article; `tags` and `examples` one per line inside their cell).

Reading checks every line before anything is stored; an error names the line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from conversation.errors import InvalidInput, InvalidLine
from conversation.knowledge import Article, article_from_input, article_to_input, check_id, check_translation
from conversation.spreadsheet import read_cell, safe_cell

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("id", "language", "group", "status", "category", "tags", "title", "answer", "examples")
MAX_IMPORT_LINES = 20_000


@dataclass(frozen=True)
class ImportLine:
    line: int
    article: Article  # the line as a new article; version and authorship are the service's to set
    # The fields the line names, as read: an article it updates keeps the others as they are.
    given: Mapping[str, Any] = field(default_factory=dict)


def _article(line: int, data: Any, default_status: str) -> ImportLine:
    if not isinstance(data, dict):
        raise InvalidLine(line, "expected a JSON object")
    try:
        article_id = check_id(data.get("id"))
        given = {k: v for k, v in data.items() if k != "id"}
        fields = {"status": default_status, **given}
        return ImportLine(line, article_from_input(fields, article_id=article_id), given)
    except InvalidInput as exc:
        raise InvalidLine(line, str(exc)) from None


def _unique(lines: list[ImportLine]) -> list[ImportLine]:
    seen: dict[str, int] = {}
    for item in lines:
        if item.article.id in seen:
            raise InvalidLine(item.line, f"id {item.article.id} is already on line {seen[item.article.id]}")
        seen[item.article.id] = item.line
    if len(lines) > MAX_IMPORT_LINES:
        raise InvalidInput(f"at most {MAX_IMPORT_LINES} articles at a time")
    return lines


def jsonl_lines(text: str) -> list[str]:
    """A JSONL text's lines, a byte-order mark dropped. They end at "\n" only: splitlines()
    also breaks at U+2028 and the like, which JSON keeps unescaped inside a string (an export
    with one did not import back)."""
    return [line.removesuffix("\r") for line in text.removeprefix("\ufeff").split("\n")]


def read_jsonl(text: str, *, default_status: str = "published") -> list[ImportLine]:
    lines = []
    for number, raw in enumerate(jsonl_lines(text), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidLine(number, f"not JSON ({exc.args[0] if exc.args else exc})") from None
        lines.append(_article(number, data, default_status))
    return _unique(lines)


def _cell_list(value: str) -> list[str]:
    return [part for part in (p.strip() for p in value.splitlines()) if part]


def read_csv(text: str, *, default_status: str = "published") -> list[ImportLine]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    lines = []
    start = 1  # the line a record starts on: a quoted cell may run over several
    try:
        fields = reader.fieldnames or ()
        missing = {"id", "title", "answer"} - set(fields)
        if missing:
            raise InvalidLine(1, f"the header needs the columns {', '.join(sorted(missing))}")
        unknown = sorted(set(fields) - set(CSV_COLUMNS))
        if unknown:
            raise InvalidLine(1, f"unknown column {unknown[0]}")
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                raise InvalidLine(start, "more cells than columns")
            data: dict[str, Any] = {k: read_cell(v) for k, v in row.items() if v is not None and (v != "" or k == "id")}
            for key in ("tags", "examples"):
                if key in data:
                    data[key] = _cell_list(data[key])
            lines.append(_article(start, data, default_status))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidLine(start, str(exc)) from None
    return _unique(lines)


def read_articles(text: str, fmt: str, *, default_status: str = "published") -> list[ImportLine]:
    if fmt == "jsonl":
        return read_jsonl(text, default_status=default_status)
    if fmt == "csv":
        return read_csv(text, default_status=default_status)
    raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")


def _export_doc(article: Article) -> dict[str, Any]:
    data = article_to_input(article)
    return {
        "id": article.id,
        "title": data.pop("title"),
        "answer": data.pop("answer"),
        "examples": data.pop("examples"),
        **data,
        "group": article.group_id,
    }


def write_jsonl(articles: Iterable[Article]) -> str:
    return "".join(json.dumps(_export_doc(a), ensure_ascii=False) + "\n" for a in articles)


def write_csv(articles: Iterable[Article]) -> str:
    """With a byte-order mark first: Excel reads a CSV without one in the system's code page,
    which garbles Chinese (read_csv drops it); no cell a spreadsheet would run (spreadsheet.py)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for article in articles:
        doc = _export_doc(article)
        cells = {**doc, "tags": "\n".join(doc["tags"]), "examples": "\n".join(doc["examples"])}
        writer.writerow({key: safe_cell(value) for key, value in cells.items()})
    return out.getvalue()


def write_articles(articles: Iterable[Article], fmt: str) -> str:
    if fmt == "jsonl":
        return write_jsonl(articles)
    if fmt == "csv":
        return write_csv(articles)
    raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")


def import_target(incoming: Article, existing: dict[str, Article]) -> Article:
    """Where an imported article goes. Its id, when that article is in the same language
    (or new); else its translation `<id>-<language>` in the same group, so the zh-CN and en
    files of one knowledge base (same ids) import side by side as translations, and
    importing either again updates the same articles."""
    same = existing.get(incoming.id)
    if same is None or same.language == incoming.language:
        return incoming
    return replace(incoming, id=f"{incoming.id}-{incoming.language}", group=incoming.group or same.group_id)


def imported_over(item: ImportLine, target: Article, current: Article | None) -> Article:
    """What importing a line makes of the article it goes to (`target`: the line's article at
    the id `import_target` chose). A new one is the line's article. An existing one takes the
    fields the line names and keeps the others (a category or status set in the inbox, an
    empty CSV cell), and keeps its example questions after the line's: examples learned from
    the review queue or added in the inbox are not in the file, and an import never removes
    one (the editor and the API do). Raises InvalidInput naming the line when the result is
    not a valid article (too many examples, say)."""
    if current is None:
        return target
    fields = {**item.given, "examples": list(dict.fromkeys([*target.examples, *current.examples]))}
    try:
        return article_from_input(fields, article_id=current.id, base=current)
    except InvalidInput as exc:
        raise InvalidLine(item.line, str(exc)) from None


def plan_import(lines: Iterable[ImportLine], existing: Mapping[str, Article]) -> list[tuple[Article, Article | None]]:
    """Every line's article as it will be stored, with the version it replaces (None: new),
    checked as a whole before anything is stored: InvalidInput naming the line when two lines
    go to one article (an id and the translation id another line takes) or when a line's
    result would give a group two articles in one language."""
    after = dict(existing)
    taken: dict[str, int] = {}
    planned = []
    for item in lines:
        target = import_target(item.article, after)
        if target.id in taken:
            raise InvalidLine(item.line, f"goes to article {target.id}, as line {taken[target.id]} does")
        taken[target.id] = item.line
        result = imported_over(item, target, after.get(target.id))
        try:
            check_translation(result, after.values())
        except InvalidInput as exc:
            raise InvalidLine(item.line, str(exc)) from None
        after[result.id] = result
        planned.append((result, existing.get(result.id)))
    return planned
