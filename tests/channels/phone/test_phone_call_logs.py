"""Call logs in the phone system's own formats become calls, and bad rows are named."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels.phone import (
    CallLogFormatError,
    CallRecord,
    Direction,
    Disposition,
    RowError,
    iter_asterisk_cdr,
    iter_generic_csv,
    read_call_log,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "calls"

# How the cloud PBX export's columns map onto ours (the core reads this from config.toml).
CLOUD_PBX_MAPPING = {
    "uniqueid": "ID Panggilan",
    "start": "Waktu Mulai",
    "caller": "Nomor Penelepon",
    "caller_name": "Nama",
    "called": "Nomor Tujuan",
    "disposition": "Status",
    "duration": "Durasi",
    "billsec": "Waktu Bicara",
    "extension": "Agen",
    "notes": "Catatan",
}


def records(rows: list[CallRecord | RowError]) -> list[CallRecord]:
    return [row for row in rows if isinstance(row, CallRecord)]


def errors(rows: list[CallRecord | RowError]) -> list[RowError]:
    return [row for row in rows if isinstance(row, RowError)]


def test_asterisk_master_csv_without_uniqueid() -> None:
    rows = list(read_call_log(DATA / "master_basic.csv"))
    assert errors(rows) == []
    answered, missed, busy, failed, congestion, outbound, internal = records(rows)
    assert answered.caller == "081234567890"
    assert answered.caller_name == "Siti Rahmawati"
    assert answered.called == "1500164"
    # 09:12:03 in Jakarta (UTC+7).
    assert answered.start == datetime(2026, 11, 24, 2, 12, 3, tzinfo=UTC)
    assert answered.answer == datetime(2026, 11, 24, 2, 12, 10, tzinfo=UTC)
    assert answered.end == datetime(2026, 11, 24, 2, 15, 22, tzinfo=UTC)
    assert (answered.duration, answered.billsec) == (199, 192)
    assert answered.disposition is Disposition.ANSWERED
    assert answered.extension == "201"
    assert answered.uniqueid is None and len(answered.row_hash) == 64
    assert answered.call_id == answered.row_hash
    assert answered.line == 1
    assert missed.answer is None and missed.disposition is Disposition.NO_ANSWER
    assert missed.extension is None
    assert [busy.disposition, failed.disposition, congestion.disposition] == [
        Disposition.BUSY,
        Disposition.FAILED,
        Disposition.CONGESTION,
    ]
    assert all(r.callback_needed for r in (missed, busy, failed, congestion))
    assert not answered.callback_needed
    assert (outbound.direction, outbound.extension) == (Direction.OUTBOUND, "201")
    assert outbound.resident_number == "081234567890"
    assert internal.direction is Direction.INTERNAL


def test_asterisk_uniqueid_and_userfield() -> None:
    rows = records(list(read_call_log(DATA / "master_uniqueid_userfield.csv")))
    assert [r.uniqueid for r in rows] == [
        "1795487523.18",
        "1795487741.20",
        "1795488302.22",
        "1795509600.25",
        "1795510790.27",
    ]
    assert rows[0].notes == "Tanya syarat PBG, sudah dijelaskan; kirim ceklis via email"
    assert rows[3].notes == 'Status NIB "menunggu verifikasi", diminta cek OSS besok'
    # Queue members bridged through a Local channel still name the extension.
    assert rows[3].extension == "205"
    assert rows[1].notes is None
    # 17 columns: uniqueid without userfield.
    assert (rows[4].uniqueid, rows[4].notes, rows[4].extension) == ("1795510790.27", None, "206")


def test_bom_and_crlf_from_a_spreadsheet_round_trip() -> None:
    rows = list(read_call_log(DATA / "master_excel_bom_crlf.csv"))
    assert errors(rows) == []
    first, second = records(rows)
    assert first.caller == "081234567890"
    assert first.notes == "Tanya syarat PBG, sudah dijelaskan"
    assert second.line == 2


def test_bad_rows_are_named_by_line_while_good_rows_parse() -> None:
    rows = list(read_call_log(DATA / "master_malformed.csv"))
    assert [(e.line, e.reason) for e in errors(rows)] == [
        (2, "expected 16 to 18 columns (Asterisk CDR), got 12"),
        (3, "start time '24-11-2026 jam 9' is not a date and time"),
        (4, "caller number is missing"),
        (6, "caller number withheld (anonymous)"),
        (7, "unknown call disposition 'TRANSFERRED'"),
        (8, "duration 'empat puluh' is not a number of seconds"),
    ]
    good = records(rows)
    assert [r.line for r in good] == [1, 9]
    # A quoted comma in the caller id stays inside the field.
    assert good[1].caller_name == "Budi, Kel. Menteng"
    assert errors(rows)[0].raw.startswith(",081234567891,1500164")


def test_reparsing_gives_identical_ids() -> None:
    for name in ("master_basic.csv", "master_uniqueid_userfield.csv", "master_malformed.csv"):
        first = [r.call_id for r in records(list(read_call_log(DATA / name)))]
        again = [r.call_id for r in records(list(read_call_log(DATA / name)))]
        assert first == again
        assert len(set(first)) == len(first)


def test_same_call_in_an_overlapping_export_has_the_same_id() -> None:
    lines = (DATA / "master_basic.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    whole = [r.call_id for r in records(list(iter_asterisk_cdr(lines)))]
    # The next day's export starts mid-way and writes CRLF: same calls, same ids.
    tail = [line.replace("\n", "\r\n") for line in lines[3:]]
    overlap = [r.call_id for r in records(list(iter_asterisk_cdr(io.StringIO("".join(tail)))))]
    assert overlap == whole[3:]


def test_times_in_utc_when_asterisk_uses_gmt() -> None:
    lines = (DATA / "master_basic.csv").read_text(encoding="utf-8").splitlines()[:1]
    [record] = records(list(iter_asterisk_cdr(lines, timezone="UTC")))
    assert record.start == datetime(2026, 11, 24, 9, 12, 3, tzinfo=UTC)


def test_generic_csv_with_a_mapping() -> None:
    rows = list(read_call_log(DATA / "generic_cloud_pbx.csv", format="generic",
                              mapping=CLOUD_PBX_MAPPING))  # fmt: skip
    assert [(e.line, e.reason) for e in errors(rows)] == [
        (7, "start time 'kemarin sore' is not a date and time"),
        (8, "caller number is missing"),
    ]
    answered, missed, busy, failed, iso = records(rows)
    assert answered.line == 2
    assert (answered.duration, answered.billsec) == (199, 192)
    assert answered.start == datetime(2026, 11, 24, 2, 12, 3, tzinfo=UTC)
    assert answered.extension == "201"
    assert answered.caller_name == "Siti Rahmawati"
    assert answered.notes == "Tanya syarat PBG, sudah dijelaskan"
    assert answered.uniqueid == "c-9f1a2b"
    assert missed.disposition is Disposition.NO_ANSWER
    assert busy.disposition is Disposition.BUSY
    assert failed.disposition is Disposition.FAILED
    assert failed.uniqueid is None and failed.call_id == failed.row_hash
    assert iso.start == datetime(2026, 11, 24, 3, 30, tzinfo=UTC)
    assert iso.extension == "206"


def test_generic_without_status_column_infers_it() -> None:
    text = (
        "from,when,talk\n"
        "0812 1111 2222,2026-11-24 08:00:00,95\n"
        "0812 1111 3333,2026-11-24 08:01:00,0\n"
    )
    mapping = {"caller": "From", "start": "When", "billsec": "Talk"}
    first, second = records(list(iter_generic_csv(io.StringIO(text), mapping)))
    assert first.disposition is Disposition.ANSWERED
    assert second.disposition is Disposition.NO_ANSWER and second.callback_needed


def test_generic_mapping_mistakes_fail_before_any_row() -> None:
    header_only = io.StringIO("Nomor,Waktu\n")
    with pytest.raises(CallLogFormatError, match="'Tanggal' \\(for start\\) not in the header"):
        list(iter_generic_csv(header_only, {"caller": "Nomor", "start": "Tanggal"}))
    with pytest.raises(CallLogFormatError, match="unknown call log field"):
        list(iter_generic_csv(io.StringIO("a\n"), {"caller": "a", "start": "a", "colour": "a"}))
    with pytest.raises(CallLogFormatError, match="must name a column for: start"):
        list(iter_generic_csv(io.StringIO("a\n"), {"caller": "a"}))
    with pytest.raises(CallLogFormatError, match="no header row"):
        list(iter_generic_csv(io.StringIO(""), {"caller": "a", "start": "b"}))
    with pytest.raises(CallLogFormatError, match="unknown call log format"):
        list(read_call_log(DATA / "master_basic.csv", format="xlsx"))


def test_rows_are_streamed_not_loaded() -> None:
    produced = 0

    def lines() -> Iterator[str]:
        nonlocal produced
        template = (DATA / "master_basic.csv").read_text(encoding="utf-8").splitlines()[0]
        while True:
            produced += 1
            yield template + "\n"

    reader = iter_asterisk_cdr(lines())
    for _ in range(10):
        next(reader)
    assert produced <= 11
