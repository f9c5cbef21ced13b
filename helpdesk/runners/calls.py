"""Importing the phone system's call logs into the ticket store.

Each call becomes a message on a ticket through :mod:`helpdesk.call_batch`, a
batch of calls per transaction, so a 100,000-row file imports in seconds and a
re-import adds nothing (the call's uniqueid, else a hash of its row, is the
message's external id). A row that cannot be read is reported with its line
number and kept in the quarantine; the rest goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import select

from channels.base import HealthReport, Inquiry, InvalidInput
from channels.phone import (
    CallLogFormatError,
    CallRecord,
    RowError,
    call_to_inquiry,
    read_call_log,
)
from helpdesk.bootstrap import Services
from helpdesk.call_batch import Call
from helpdesk.intake import RejectedInquiry
from helpdesk.models import User

# Calls per transaction: large enough that a statement serves many calls, small
# enough that the write lock is never held for long (about 0.2 s).
BATCH = 1000


@dataclass
class ImportSummary:
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.imported + self.duplicates + self.rejected + self.skipped


Progress = Callable[[int], None]


def import_call_log(services: Services, path: Path, *, format: str | None = None,
                    progress: Progress | None = None) -> ImportSummary:
    """Import one call-log file; raises CallLogFormatError when the file is unusable."""
    phone = services.config.channels.phone
    chosen = format or phone.format
    mapping = dict(phone.generic_columns) if chosen == "generic" else None
    rows = read_call_log(path, format=chosen, mapping=mapping,
                         timezone=phone.timezone)
    return import_rows(services, rows, source=path.name, progress=progress)


def import_rows(services: Services, rows: Iterable[CallRecord | RowError], *, source: str,
                progress: Progress | None = None) -> ImportSummary:
    summary = ImportSummary()
    extensions = _extensions(services)
    for batch in _batches(rows, BATCH):
        inquiries: list[tuple[Inquiry, CallRecord]] = []
        held: list[Held] = []
        for row in batch:
            if isinstance(row, RowError):
                _reject(held, summary, row.line, row.reason, row.raw, source)
                continue
            try:
                inquiries.append((call_to_inquiry(row, source=source), row))
            except InvalidInput as exc:
                summary.skipped += 1
                summary.problems.append((row.line, f"skipped: {exc.reason}"))
        results = services.calls.receive([_call(i, r, extensions) for i, r in inquiries])
        for (inquiry, record), result in zip(inquiries, results, strict=True):
            if isinstance(result, RejectedInquiry):
                _reject(held, summary, record.line, str(result), inquiry.raw_ref or "", source)
            elif result.duplicate:
                summary.duplicates += 1
            else:
                summary.imported += 1
        services.quarantine.keep_many(held)  # one transaction for the batch's bad rows
        if progress is not None:
            progress(summary.rows)
    return summary


def _call(inquiry: Inquiry, record: CallRecord, extensions: dict[str, int]) -> Call:
    return Call(inquiry, answered=record.answered, callback_needed=record.callback_needed,
                answered_at=record.answer, ended_at=record.end,
                consultant_id=extensions.get(record.extension or ""),
                by=f"extension {record.extension}" if record.extension else "")


# A bad row as the quarantine keeps it: (channel, raw, reason, source ref).
Held = tuple[str, bytes, str, str | None]


def _reject(held: list[Held], summary: ImportSummary, line: int, reason: str, raw: str,
            source: str) -> None:
    summary.rejected += 1
    summary.problems.append((line, reason))
    held.append(("phone", raw.encode("utf-8", "replace"), f"line {line}: {reason}",
                 f"{source}:{line}"))


def _extensions(services: Services) -> dict[str, int]:
    with services.store.read() as session:
        return {ext: uid for ext, uid in session.exec(select(User.extension, User.id))
                if ext and uid is not None}


def _batches(rows: Iterable[CallRecord | RowError],
             size: int) -> Iterator[list[CallRecord | RowError]]:
    batch: list[CallRecord | RowError] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class CallLogFolder:
    """Imports call logs dropped into a folder, as the phone system exports them.

    A file is imported again whenever its size or time changes (a log the phone
    system appends to); re-importing adds only the new rows.
    """

    name = "phone-folder"

    def __init__(self, services: Services, folder: Path, interval: float = 30.0) -> None:
        self.services = services
        self.folder = folder
        self.interval = interval
        self.seen: dict[str, str] = {}

    async def run(self) -> None:
        while True:
            await self.scan_once()
            await asyncio.sleep(self.interval)

    async def scan_once(self) -> int:
        imported = 0
        states = self.services.channel_states
        try:
            for path in sorted(self.folder.glob("*.csv")):
                stat = path.stat()
                key = f"{stat.st_size}:{int(stat.st_mtime)}"
                if self.seen.get(path.name) == key:
                    continue
                summary = await self.services.store.run(import_call_log, self.services, path)
                self.seen[path.name] = key
                imported += summary.imported
            await states.health(HealthReport("phone:folder", True, None,
                                             {"imported": imported}))
        except (OSError, CallLogFormatError) as exc:
            await states.health(HealthReport("phone:folder", False, str(exc)))
        return imported
