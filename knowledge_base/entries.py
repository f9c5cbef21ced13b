"""FAQ entries and the TOML files that hold them.

A file holds one category::

    category = "bangunan"

    [[entry]]
    id = "pbg-apa"
    question = "Apa itu PBG?"
    phrasings = ["...", "...", "..."]
    answer = \"\"\"...\"\"\"
    links = ["tel:1500164"]      # optional
    tags = ["pbg"]               # optional
    enabled = true               # optional

Loading checks every entry and reports every problem at once (file, entry, reason),
so an editor can fix a file in one pass instead of one error per run.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

__all__ = [
    "MIN_PHRASINGS",
    "FaqEntry",
    "FaqFileError",
    "FaqProblem",
    "dump_faq_files",
    "load_faq_entries",
    "load_faq_files",
]

MIN_PHRASINGS = 3
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_CATEGORY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
_REQUIRED = ("id", "question", "phrasings", "answer")
_KNOWN_KEYS = frozenset({*_REQUIRED, "category", "links", "tags", "enabled"})


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """One question residents ask, the ways they ask it, and the answer to send."""

    id: str
    category: str
    question: str
    phrasings: tuple[str, ...]
    answer: str
    links: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def all_phrasings(self) -> tuple[str, ...]:
        """The canonical question first, then the other phrasings."""
        return (self.question, *self.phrasings)


@dataclass(frozen=True, slots=True)
class FaqProblem:
    file: str
    entry: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.entry is None else f"{self.file}: entry {self.entry!r}"
        return f"{where}: {self.reason}"


class FaqFileError(Exception):
    """FAQ files that cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[FaqProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _string_tuple(
    raw: Mapping[str, Any], key: str, where: tuple[str, str], problems: list[FaqProblem]
) -> tuple[str, ...] | None:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(FaqProblem(where[0], where[1], f"'{key}' must be a list of strings"))
        return None
    return tuple(v.strip() for v in value)


def _parse_entry(
    raw: object, position: int, file: str, file_category: object, problems: list[FaqProblem]
) -> FaqEntry | None:
    if not isinstance(raw, dict):
        problems.append(FaqProblem(file, f"#{position}", "an entry must be a [[entry]] table"))
        return None
    raw_id = raw.get("id")
    name = raw_id if isinstance(raw_id, str) and raw_id else f"#{position}"
    before = len(problems)
    where = (file, name)

    def problem(reason: str) -> None:
        problems.append(FaqProblem(file, name, reason))

    for key in _REQUIRED:
        if key not in raw:
            problem(f"missing key '{key}'")
    for key in sorted(set(raw) - _KNOWN_KEYS):
        problem(f"unknown key '{key}' (allowed: {', '.join(sorted(_KNOWN_KEYS))})")
    if isinstance(raw_id, str):
        if not _ID_PATTERN.match(raw_id):
            problem("'id' must be lowercase letters, digits and '-' (at most 80 characters)")
    elif "id" in raw:
        problem("'id' must be a string")
    for key in ("question", "answer"):
        value = raw.get(key)
        if key in raw and not isinstance(value, str):
            problem(f"'{key}' must be a string")
        elif isinstance(value, str) and not value.strip():
            problem(f"'{key}' is empty")
    category = raw.get("category", file_category)
    if category is None:
        problem("missing key 'category' (set it at the top of the file or in the entry)")
    elif not isinstance(category, str) or not _CATEGORY_PATTERN.match(category):
        problem("'category' must be lowercase letters, digits and '_'")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problem("'enabled' must be true or false")

    phrasings = _string_tuple(raw, "phrasings", where, problems) if "phrasings" in raw else None
    links = _string_tuple(raw, "links", where, problems)
    tags = _string_tuple(raw, "tags", where, problems)
    if phrasings is not None:
        distinct = {p.casefold() for p in phrasings if p}
        question = raw.get("question")
        if isinstance(question, str):
            distinct.discard(question.strip().casefold())
        if any(not p for p in phrasings):
            problem("a phrasing is empty")
        if len(distinct) < MIN_PHRASINGS:
            problem(
                f"needs at least {MIN_PHRASINGS} phrasings besides the question "
                f"(formal, informal, keywords); found {len(distinct)}"
            )
    if len(problems) > before:
        return None
    assert phrasings is not None and links is not None and tags is not None
    assert isinstance(category, str)
    return FaqEntry(
        id=str(raw_id),
        category=category,
        question=str(raw["question"]).strip(),
        phrasings=phrasings,
        answer=str(raw["answer"]).strip(),
        links=links,
        tags=tags,
        enabled=enabled,
    )


def _faq_paths(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(path.glob("*.toml"))
    return [path]


def load_faq_entries(path: Path) -> list[tuple[FaqEntry, str]]:
    """Entries with the file each came from; raises FaqFileError listing every problem."""
    problems: list[FaqProblem] = []
    loaded: list[tuple[FaqEntry, str]] = []
    paths = _faq_paths(path)
    if not paths:
        raise FaqFileError([FaqProblem(str(path), None, "no *.toml FAQ files found")])
    for file_path in paths:
        file = str(file_path)
        try:
            document = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(FaqProblem(file, None, "file not found"))
            continue
        except (OSError, UnicodeDecodeError) as error:
            problems.append(FaqProblem(file, None, f"cannot read file: {error}"))
            continue
        except tomllib.TOMLDecodeError as error:
            # The message already names the line and column, e.g. "(at line 7, column 1)".
            problems.append(FaqProblem(file, None, f"TOML syntax error: {error}"))
            continue
        for key in sorted(set(document) - {"category", "entry"}):
            problems.append(FaqProblem(file, None, f"unknown top-level key '{key}'"))
        raw_entries = document.get("entry", [])
        if not isinstance(raw_entries, list) or not raw_entries:
            problems.append(FaqProblem(file, None, "no [[entry]] tables"))
            continue
        for position, raw in enumerate(raw_entries, start=1):
            entry = _parse_entry(raw, position, file, document.get("category"), problems)
            if entry is not None:
                loaded.append((entry, file))

    first_seen: dict[str, str] = {}
    for entry, file in loaded:
        if entry.id in first_seen:
            reason = f"duplicate id (first defined in {first_seen[entry.id]})"
            problems.append(FaqProblem(file, entry.id, reason))
        else:
            first_seen[entry.id] = file
    if problems:
        raise FaqFileError(problems)
    return loaded


def load_faq_files(path: Path, *, auto_answer_min: float | None = None) -> list[FaqEntry]:
    """Entries from one TOML file or every ``*.toml`` in a directory.

    With ``auto_answer_min``, also refuses entries whose phrasings match another
    entry's at or above that score: an automatic answer could pick either one.
    """
    loaded = load_faq_entries(path)
    entries = [entry for entry, _ in loaded]
    if auto_answer_min is not None:
        # Imported here: the matcher is heavier than plain file loading.
        from knowledge_base.matcher import find_conflicts

        sources = {entry.id: file for entry, file in loaded}
        conflicts = find_conflicts(entries, auto_answer_min, sources=sources)
        if conflicts:
            raise FaqFileError(conflicts)
    return entries


def _entry_table(entry: FaqEntry, file_category: str) -> dict[str, Any]:
    table: dict[str, Any] = {"id": entry.id}
    if entry.category != file_category:
        table["category"] = entry.category
    table["question"] = entry.question
    table["phrasings"] = list(entry.phrasings)
    table["answer"] = entry.answer
    if entry.links:
        table["links"] = list(entry.links)
    if entry.tags:
        table["tags"] = list(entry.tags)
    if not entry.enabled:
        table["enabled"] = False
    return table


def dump_faq_files(entries: Sequence[FaqEntry], directory: Path) -> list[Path]:
    """Write one ``<category>.toml`` per category; ``load_faq_files`` reads them back."""
    by_category: dict[str, list[FaqEntry]] = {}
    for entry in entries:
        by_category.setdefault(entry.category, []).append(entry)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for category, members in sorted(by_category.items()):
        document = {
            "category": category,
            "entry": [_entry_table(e, category) for e in members],
        }
        target = directory / f"{category}.toml"
        target.write_text(tomli_w.dumps(document, multiline_strings=True), encoding="utf-8")
        written.append(target)
    return written


def entry_ids(entries: Iterable[FaqEntry]) -> set[str]:
    return {entry.id for entry in entries}
