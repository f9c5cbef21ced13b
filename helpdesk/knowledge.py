"""The FAQ base as the help desk keeps it: entries in the database, a matcher
built from them, rebuilt when an administrator changes an entry.

Several web workers may serve one database, so each checks a cheap version
stamp (the newest ``updated_at`` and the entry count) before suggesting and
rebuilds its matcher when another worker changed the entries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from helpdesk.config import KnowledgeBaseConfig
from helpdesk.models import FaqRecord, utcnow
from helpdesk.store import Store
from knowledge_base.defaults import starter_faq_dir
from knowledge_base.entries import FaqEntry, FaqFileError, FaqProblem, load_faq_files
from knowledge_base.matcher import KnowledgeBase, Suggestion, find_conflicts

# How often a worker looks for entries changed by another worker.
VERSION_CHECK_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    updated: int
    unchanged: int


def record_to_entry(record: FaqRecord) -> FaqEntry:
    return FaqEntry(id=record.id, category=record.category, question=record.question,
                    phrasings=tuple(record.phrasings), answer=record.answer,
                    links=tuple(record.links), tags=tuple(record.tags), enabled=record.enabled)


def entry_fields(entry: FaqEntry) -> dict[str, Any]:
    return {"category": entry.category, "question": entry.question,
            "phrasings": list(entry.phrasings), "answer": entry.answer,
            "links": list(entry.links), "tags": list(entry.tags), "enabled": entry.enabled}


class KnowledgeService:
    def __init__(self, store: Store, config: KnowledgeBaseConfig,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._kb: KnowledgeBase | None = None
        self._version: tuple[object, ...] | None = None
        self._checked = 0.0

    @property
    def suggest_min(self) -> float:
        return self.config.suggest_min

    @property
    def auto_answer_min(self) -> float:
        return self.config.auto_answer_min

    def matcher(self) -> KnowledgeBase:
        """The current matcher, rebuilt if the entries changed since it was built."""
        now = time.monotonic()
        kb = self._kb
        if kb is not None and now - self._checked < VERSION_CHECK_SECONDS:
            return kb
        with self._lock:
            version = self._read_version()
            self._checked = now
            if self._kb is None or version != self._version:
                self._kb = KnowledgeBase(self.entries(), suggest_min=self.config.suggest_min,
                                         auto_answer_min=self.config.auto_answer_min)
                self._version = version
            return self._kb

    def reload(self) -> None:
        """Rebuild on the next use (called after this worker saved an entry)."""
        with self._lock:
            self._kb = None
            self._checked = 0.0

    def suggest(self, text: str, limit: int = 3) -> list[Suggestion]:
        return self.matcher().suggest(text, limit)

    def is_confident(self, suggestion: Suggestion) -> bool:
        return suggestion.score >= self.config.auto_answer_min

    def entries(self, *, include_disabled: bool = True) -> list[FaqEntry]:
        with self.store.read() as session:
            query = select(FaqRecord).order_by(col(FaqRecord.category), col(FaqRecord.id))
            if not include_disabled:
                query = query.where(col(FaqRecord.enabled).is_(True))
            return [record_to_entry(r) for r in session.exec(query)]

    def count(self) -> int:
        with self.store.read() as session:
            return session.exec(select(func.count()).select_from(FaqRecord)).one()

    def _read_version(self) -> tuple[object, ...]:
        with self.store.read() as session:
            row = session.exec(select(func.count(), func.max(FaqRecord.updated_at))).one()
            return tuple(row)

    def check(self, entries: Sequence[FaqEntry], source: str = "database") -> list[FaqProblem]:
        """Problems that would make the set unsafe for automatic answers."""
        sources = {e.id: source for e in entries}
        return find_conflicts(entries, self.config.auto_answer_min, sources=sources)

    def import_entries(self, entries: Sequence[FaqEntry], *, source: str) -> ImportResult:
        """Add or update entries by id (idempotent); refused whole if the result conflicts."""
        incoming = {e.id: e for e in entries}
        merged = {e.id: e for e in self.entries()}
        merged.update(incoming)
        problems = self.check(list(merged.values()), source)
        if problems:
            raise FaqFileError(problems)
        now = self.clock()

        def work(session: Session) -> ImportResult:
            added = updated = unchanged = 0
            for entry in entries:
                record = session.get(FaqRecord, entry.id)
                if record is None:
                    session.add(FaqRecord(id=entry.id, updated_at=now, **entry_fields(entry)))
                    added += 1
                elif record_to_entry(record) == entry:
                    unchanged += 1
                else:
                    for key, value in entry_fields(entry).items():
                        setattr(record, key, value)
                    record.updated_at = now
                    updated += 1
            return ImportResult(added, updated, unchanged)

        result = self.store.write_retrying(work)
        self.reload()
        return result

    def save(self, entry: FaqEntry) -> None:
        """Create or replace one entry (the administrators' editor), then rebuild."""
        self.import_entries([entry], source="editor")


def faq_source(config: KnowledgeBaseConfig, base_dir: Path) -> Path:
    """The FAQ files to start from: the configured path, else the shipped starter FAQ."""
    if config.path:
        return (base_dir / config.path).resolve()
    return starter_faq_dir()


def load_starter_if_empty(service: KnowledgeService, source: Path) -> ImportResult | None:
    """Fill an empty FAQ table from files; an FAQ administrators already edit is left alone."""
    if service.count() > 0:
        return None
    entries = load_faq_files(source, auto_answer_min=service.auto_answer_min)
    return service.import_entries(entries, source=str(source))
