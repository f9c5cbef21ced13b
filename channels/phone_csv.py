"""Reading call logs: Asterisk CDR CSV and generic CSV exports with a column mapping.

Both readers stream (one row in memory at a time), accept a UTF-8 BOM, CRLF line
ends and quoted commas, and yield per row a :class:`CallRecord` or a
:class:`RowError` naming the line and the reason; a bad row never stops the file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from channels.phone_records import (
    CallLogFormatError,
    CallRecord,
    Direction,
    Disposition,
    RowError,
)

__all__ = [
    "ASTERISK_COLUMNS",
    "GENERIC_FIELDS",
    "iter_asterisk_cdr",
    "iter_generic_csv",
    "open_call_log",
    "read_call_log",
]

ParsedRow = CallRecord | RowError

# The column order of Asterisk's cdr_csv (Master.csv), which writes no header row.
ASTERISK_COLUMNS: tuple[str, ...] = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel",
    "lastapp", "lastdata", "start", "answer", "end", "duration", "billsec",
    "disposition", "amaflags",
)  # fmt: skip
_ASTERISK_OPTIONAL = ("uniqueid", "userfield")

# Our fields a generic CSV mapping may name; caller and start are required.
GENERIC_FIELDS: tuple[str, ...] = (
    "caller", "called", "start", "answer", "end", "duration", "billsec",
    "disposition", "extension", "notes", "uniqueid", "caller_name", "direction",
)  # fmt: skip
_REQUIRED = ("caller", "start")

# An extension of the call center: a short number, as opposed to a resident's line.
_EXTENSION = re.compile(r"^\d{2,5}$")
# The device a call was bridged to: SIP/201-0000abcd, PJSIP/201-00000012, Local/201@ctx-..;1
_DEVICE_EXTENSION = re.compile(r"^(?:SIP|PJSIP|IAX2|Local|SCCP)/(\d{2,6})(?:[-@;]|$)", re.I)
_CLID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')
_WITHHELD = {"anonymous", "unknown", "private", "restricted", "unavailable"}

_DISPOSITIONS: dict[str, Disposition] = {
    "answered": Disposition.ANSWERED,
    "answer": Disposition.ANSWERED,
    "dijawab": Disposition.ANSWERED,
    "terjawab": Disposition.ANSWERED,
    "no answer": Disposition.NO_ANSWER,
    "noanswer": Disposition.NO_ANSWER,
    "no_answer": Disposition.NO_ANSWER,
    "missed": Disposition.NO_ANSWER,
    "tidak dijawab": Disposition.NO_ANSWER,
    "tak terjawab": Disposition.NO_ANSWER,
    "tidak terjawab": Disposition.NO_ANSWER,
    "busy": Disposition.BUSY,
    "sibuk": Disposition.BUSY,
    "failed": Disposition.FAILED,
    "gagal": Disposition.FAILED,
    "congestion": Disposition.CONGESTION,
}


class _BadRow(Exception):
    """Internal: this row is unusable, for the reason given."""


@contextmanager
def open_call_log(path: str | Path) -> Iterator[TextIO]:
    """Open a call log for the readers: BOM stripped, CRLF kept for csv, bad bytes replaced."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        yield handle


def read_call_log(
    path: str | Path,
    *,
    format: str = "asterisk",
    mapping: Mapping[str, str] | None = None,
    timezone: str = "Asia/Jakarta",
) -> Iterator[ParsedRow]:
    """Stream the rows of a call log file in the given ``format`` (asterisk|generic)."""
    if format not in ("asterisk", "generic"):
        raise CallLogFormatError(f"unknown call log format {format!r}: use asterisk or generic")
    if format == "generic" and mapping is None:
        raise CallLogFormatError("a generic call log needs a column mapping")
    with open_call_log(path) as handle:
        if format == "asterisk":
            yield from iter_asterisk_cdr(handle, timezone=timezone)
        else:
            assert mapping is not None
            yield from iter_generic_csv(handle, mapping, timezone=timezone)


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str] | None, str]]:
    """(first line number, cells or None when unreadable, error text) per CSV record."""
    reader = csv.reader(lines, strict=True)
    previous = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield previous + 1, None, str(exc)
            if reader.line_num == previous:  # no progress: give up rather than spin
                return
            previous = reader.line_num
            continue
        start, previous = previous + 1, reader.line_num
        if cells and any(cell.strip() for cell in cells):
            yield start, cells, ""


def _raw_of(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return out.getvalue()


def iter_asterisk_cdr(
    lines: Iterable[str], *, timezone: str = "Asia/Jakarta"
) -> Iterator[ParsedRow]:
    """Rows of an Asterisk ``Master.csv`` (no header; 16, 17 or 18 columns).

    ``timezone`` is the one the phone system wrote its times in (UTC when Asterisk
    runs with ``usegmtime``).
    """
    zone = _zone(timezone)
    for line, cells, error in _rows(lines):
        if cells is None:
            yield RowError(line, f"unreadable CSV: {error}")
            continue
        try:
            yield _asterisk_record(line, cells, zone)
        except _BadRow as exc:
            yield RowError(line, str(exc), _raw_of(cells))


def _asterisk_record(line: int, cells: list[str], zone: tzinfo) -> CallRecord:
    count = len(cells)
    if not len(ASTERISK_COLUMNS) <= count <= len(ASTERISK_COLUMNS) + len(_ASTERISK_OPTIONAL):
        raise _BadRow(f"expected 16 to 18 columns (Asterisk CDR), got {count}")
    names = ASTERISK_COLUMNS + _ASTERISK_OPTIONAL
    row = {name: cell.strip() for name, cell in zip(names, cells, strict=False)}
    name, caller = _split_clid(row["clid"])
    caller = row["src"] or caller
    _check_caller(caller)
    start = _time(row["start"], zone, "start")
    if start is None:
        raise _BadRow("start time is empty")
    disposition = _disposition(row["disposition"])
    extension = _device_extension(row["dstchannel"])
    direction = _direction(caller, row["dst"])
    if direction is Direction.OUTBOUND:
        extension = _device_extension(row["channel"]) or caller
    return CallRecord(
        line=line,
        caller=caller,
        called=row["dst"],
        start=start,
        answer=_time(row["answer"], zone, "answer"),
        end=_time(row["end"], zone, "end"),
        duration=_seconds(row["duration"], "duration"),
        billsec=_seconds(row["billsec"], "billsec"),
        disposition=disposition,
        direction=direction,
        extension=extension,
        notes=row.get("userfield") or None,
        uniqueid=row.get("uniqueid") or None,
        row_hash=_hash(row[c] for c in ASTERISK_COLUMNS),
        caller_name=name,
    )


def iter_generic_csv(
    lines: Iterable[str],
    mapping: Mapping[str, str],
    *,
    timezone: str = "Asia/Jakarta",
    time_format: str | None = None,
) -> Iterator[ParsedRow]:
    """Rows of a CSV export with a header row; ``mapping`` is our field -> their column.

    Raises :class:`CallLogFormatError` before the first row when the mapping names a
    field we do not know or a column the header does not have.
    """
    unknown = sorted(set(mapping) - set(GENERIC_FIELDS))
    if unknown:
        raise CallLogFormatError(
            f"unknown call log field(s) in the mapping: {', '.join(unknown)}; "
            f"known: {', '.join(GENERIC_FIELDS)}"
        )
    missing = [field for field in _REQUIRED if not mapping.get(field)]
    if missing:
        raise CallLogFormatError(
            f"the call log mapping must name a column for: {', '.join(missing)}"
        )
    zone = _zone(timezone)
    rows = _rows(lines)
    header_row = next(rows, None)
    if header_row is None or header_row[1] is None:
        raise CallLogFormatError("the call log has no header row")
    header = [cell.strip().lower() for cell in header_row[1]]
    index: dict[str, int] = {}
    absent: list[str] = []
    for field, column in mapping.items():
        if not column:
            continue
        if column.strip().lower() in header:
            index[field] = header.index(column.strip().lower())
        else:
            absent.append(f"{column!r} (for {field})")
    if absent:
        raise CallLogFormatError(
            f"column(s) {', '.join(absent)} not in the header: {', '.join(header_row[1])}"
        )
    for line, cells, error in rows:
        if cells is None:
            yield RowError(line, f"unreadable CSV: {error}")
            continue
        if len(cells) != len(header):
            yield RowError(
                line, f"expected {len(header)} columns, got {len(cells)}", _raw_of(cells)
            )
            continue
        row = {field: cells[i].strip() for field, i in index.items()}
        try:
            yield _generic_record(line, row, zone, time_format)
        except _BadRow as exc:
            yield RowError(line, str(exc), _raw_of(cells))


def _generic_record(
    line: int, row: dict[str, str], zone: tzinfo, time_format: str | None
) -> CallRecord:
    name, caller = _split_clid(row["caller"])
    _check_caller(caller)
    start = _time(row["start"], zone, "start", time_format)
    if start is None:
        raise _BadRow("start time is empty")
    answer = _time(row.get("answer", ""), zone, "answer", time_format)
    end = _time(row.get("end", ""), zone, "end", time_format)
    duration = _maybe_seconds(row.get("duration", ""), "duration")
    billsec = _maybe_seconds(row.get("billsec", ""), "billsec")
    if row.get("disposition"):
        disposition = _disposition(row["disposition"])
    else:
        # Exports without a status column: talk time (or an answer time) means answered.
        answered = bool(billsec) or answer is not None
        disposition = Disposition.ANSWERED if answered else Disposition.NO_ANSWER
    if duration is None:
        duration = int((end - start).total_seconds()) if end else 0
    if billsec is None:
        if disposition is Disposition.ANSWERED:
            billsec = int((end - answer).total_seconds()) if end and answer else duration
        else:
            billsec = 0
    called = row.get("called", "")
    direction = _direction(caller, called)
    if row.get("direction"):
        direction = _named_direction(row["direction"], direction)
    extension = row.get("extension") or None
    if extension:
        extension = _device_extension(extension) or extension
    return CallRecord(
        line=line,
        caller=caller,
        called=called,
        start=start,
        answer=answer,
        end=end,
        duration=duration,
        billsec=billsec,
        disposition=disposition,
        direction=direction,
        extension=extension,
        notes=row.get("notes") or None,
        uniqueid=row.get("uniqueid") or None,
        row_hash=_hash(row.get(field, "") for field in GENERIC_FIELDS if field != "notes"),
        caller_name=row.get("caller_name") or name,
    )


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise CallLogFormatError(f"unknown time zone {name!r} for the call log") from exc


def _split_clid(value: str) -> tuple[str | None, str]:
    """'"Budi" <0812...>' -> ("Budi", "0812..."); a bare number stays as it is."""
    match = _CLID.match(value)
    if match:
        return (match["name"].strip() or None), match["number"].strip()
    return None, value.strip()


def _check_caller(caller: str) -> None:
    if not caller:
        raise _BadRow("caller number is missing")
    if caller.lower() in _WITHHELD:
        raise _BadRow(f"caller number withheld ({caller})")


def _time(value: str, zone: tzinfo, column: str, time_format: str | None = None) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        if time_format:
            moment = datetime.strptime(value, time_format)
        elif len(value) >= 10 and value[4] == "-":
            # Asterisk's "2026-11-24 09:15:02" and ISO 8601, with or without an offset.
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            moment = _day_first(value)
    except ValueError as exc:
        raise _BadRow(f"{column} time {value!r} is not a date and time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _day_first(value: str) -> datetime:
    # Spreadsheets exported in Indonesia write 24/11/2026 09:15(:02).
    for pattern in ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    raise ValueError(value)


def _seconds(value: str, column: str) -> int:
    return _maybe_seconds(value, column) or 0


def _maybe_seconds(value: str, column: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        if ":" in value:
            # "03:12" or "1:03:12" in generic exports.
            seconds = 0
            for part in value.split(":"):
                seconds = seconds * 60 + int(part)
        else:
            seconds = int(float(value))
    except ValueError as exc:
        raise _BadRow(f"{column} {value!r} is not a number of seconds") from exc
    if seconds < 0:
        raise _BadRow(f"{column} {value!r} is negative")
    return seconds


def _disposition(value: str) -> Disposition:
    found = _DISPOSITIONS.get(" ".join(value.lower().split()))
    if found is None:
        raise _BadRow(f"unknown call disposition {value!r}")
    return found


def _named_direction(value: str, guessed: Direction) -> Direction:
    lowered = value.strip().lower()
    if lowered in ("in", "inbound", "incoming", "masuk"):
        return Direction.INBOUND
    if lowered in ("out", "outbound", "outgoing", "keluar"):
        return Direction.OUTBOUND
    if lowered in ("internal", "internal call"):
        return Direction.INTERNAL
    return guessed


def _direction(caller: str, called: str) -> Direction:
    caller_internal = bool(_EXTENSION.match(caller))
    called_internal = bool(_EXTENSION.match(called))
    if caller_internal and called_internal:
        return Direction.INTERNAL
    if caller_internal:
        return Direction.OUTBOUND
    return Direction.INBOUND


def _device_extension(channel: str) -> str | None:
    match = _DEVICE_EXTENSION.match(channel.strip())
    return match.group(1) if match else None


def _hash(values: Iterable[str]) -> str:
    # Cells arrive stripped; the unit separator is a control character phone systems never write.
    normalised = "\x1f".join(values)
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
