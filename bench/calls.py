"""Benchmark: reading a 100,000-row Asterisk CDR file and turning the calls into inquiries.

    python bench/calls.py [-n 100000] [--no-uniqueid] [--memory] [--keep DIR]

Writes a realistic ``Master.csv`` (answered, missed, busy, failed and congested
calls from a pool of residents' numbers written in several styles, 1 % malformed
rows) into a temporary directory, then times three passes:

1. parse: ``read_call_log`` only (CSV, times, hashes);
2. parse + convert: ``call_to_inquiry`` on every call (E.164 normalisation, text);
3. full import through the core, as ``tanya-ptsp import-calls`` does it, into a
   fresh SQLite database; then the same file again (every row a duplicate).

The goal for the full import (``tanya-ptsp import-calls``) is <= 30 s for 100,000 rows.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import InvalidInput
from channels.phone import CallRecord, call_to_inquiry, read_call_log

DISPOSITIONS = (
    ("ANSWERED", 70),
    ("NO ANSWER", 20),
    ("BUSY", 5),
    ("FAILED", 3),
    ("CONGESTION", 2),
)
NOTES = (
    "Tanya syarat PBG",
    "Status NIB menunggu verifikasi, diminta cek OSS",
    'Keluhan antrean loket, "sudah 2 jam"',
    "Informasi jam layanan MPP",
    "",
)


def resident_number(rng: random.Random) -> str:
    subscriber = f"{rng.randrange(10**8):08d}"
    prefix = rng.choice(("0812", "0813", "0857", "0878", "0821"))
    style = rng.randrange(4)
    if style == 0:
        return prefix + subscriber
    if style == 1:
        return f"+62 {prefix[1:]} {subscriber[:4]} {subscriber[4:]}"
    if style == 2:
        return "62" + prefix[1:] + subscriber
    return f"{prefix}-{subscriber[:4]}-{subscriber[4:]}"


def write_master_csv(path: Path, rows: int, *, uniqueid: bool = True, seed: int = 7) -> None:
    rng = random.Random(seed)
    pool = [resident_number(rng) for _ in range(max(rows // 5, 1))]
    weights = [w for _, w in DISPOSITIONS]
    names = [d for d, _ in DISPOSITIONS]
    moment = datetime(2026, 11, 2, 7, 30)
    with path.open("w", encoding="utf-8", newline="") as out:
        for i in range(rows):
            moment += timedelta(seconds=rng.randrange(1, 20))
            caller = rng.choice(pool)
            disposition = rng.choices(names, weights)[0]
            ext = str(201 + rng.randrange(40))
            start = f"{moment:%Y-%m-%d %H:%M:%S}"
            if disposition == "ANSWERED":
                ring = rng.randrange(2, 30)
                talk = rng.randrange(20, 900)
                answer = f"{moment + timedelta(seconds=ring):%Y-%m-%d %H:%M:%S}"
                end_at = moment + timedelta(seconds=ring + talk)
                dstchannel = f"SIP/{ext}-{i:08x}"
                duration, billsec = ring + talk, talk
            else:
                answer, dstchannel = "", ""
                duration, billsec = rng.randrange(0, 60), 0
                end_at = moment + timedelta(seconds=duration)
            end = f"{end_at:%Y-%m-%d %H:%M:%S}"
            if i % 100 == 99:
                start = "31-02-2026 25:61"  # malformed: the importer must report and go on
            cells = [
                '""',
                f'"{caller}"',
                '"1500164"',
                '"from-trunk"',
                f'"""{caller}"" <{caller}>"',
                f'"SIP/telkom-trunk-{i:08x}"',
                f'"{dstchannel}"',
                '"Queue"',
                '"antrian-ptsp,t,,,45"',
                f'"{start}"',
                f'"{answer}"',
                f'"{end}"',
                str(duration),
                str(billsec),
                f'"{disposition}"',
                '"DOCUMENTATION"',
            ]
            if uniqueid:
                note = rng.choice(NOTES).replace('"', '""') if disposition == "ANSWERED" else ""
                cells += [f'"{1795000000 + i}.{i % 997}"', f'"{note}"']
            out.write(",".join(cells) + "\n")


def parse_only(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in read_call_log(path):
        counts["calls" if isinstance(row, CallRecord) else "rejected"] += 1
    return counts


def parse_and_convert(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in read_call_log(path):
        if not isinstance(row, CallRecord):
            counts["rejected"] += 1
            continue
        try:
            inquiry = call_to_inquiry(row, source=path.name)
        except InvalidInput:
            counts["skipped"] += 1
            continue
        counts["callback" if inquiry.meta["callback_needed"] else "answered"] += 1
    return counts


def full_import(path: Path) -> Mapping[str, int] | None:
    """Import ``path`` as ``tanya-ptsp import-calls`` does, into an SQLite file
    beside it (created by the first call, so a second call finds duplicates)."""
    from helpdesk.bootstrap import build_services
    from helpdesk.config import load_config
    from helpdesk.migrate import upgrade
    from helpdesk.runners.calls import import_call_log

    database = path.parent / "calls.db"
    config = load_config(environ={"TANYA_DATABASE_URL": f"sqlite:///{database}"})
    started = time.perf_counter()
    services = build_services(config)
    upgrade(services.store)
    print(f"  (start-up and schema: {time.perf_counter() - started:.2f} s, included below)")
    try:
        summary = import_call_log(services, path, format="asterisk")
    finally:
        services.close()
    return {"imported": summary.imported, "duplicates": summary.duplicates,
            "rejected": summary.rejected, "skipped": summary.skipped}


def timed(label: str, rows: int, run: object) -> None:
    assert callable(run)
    started, cpu = time.perf_counter(), time.process_time()
    result = run()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result is None:
        print(f"{label:<22} skipped (fill in full_import() in bench/calls.py)")
        return
    # CPU seconds too: on a shared machine the wall time says more about the neighbours.
    print(f"{label:<22} {elapsed:6.2f} s  {rows / elapsed:10,.0f} rows/s  "
          f"(CPU {cpu:6.2f} s)  {dict(result)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("-n", "--rows", type=int, default=100_000)
    parser.add_argument("--no-uniqueid", action="store_true", help="16-column rows (row hashes)")
    parser.add_argument("--memory", action="store_true", help="peak memory of one parse pass")
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    args = parser.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="tanya-calls-"))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Master.csv"
    try:
        started = time.perf_counter()
        write_master_csv(path, args.rows, uniqueid=not args.no_uniqueid)
        size = path.stat().st_size / 1e6
        print(f"wrote {args.rows:,} rows ({size:.1f} MB) in {time.perf_counter() - started:.2f} s")
        timed("parse", args.rows, lambda: parse_only(path))
        timed("parse + convert", args.rows, lambda: parse_and_convert(path))
        timed("full import (core)", args.rows, lambda: full_import(path))
        timed("same file again", args.rows, lambda: full_import(path))
        if args.memory:
            tracemalloc.start()
            parse_only(path)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"peak memory of a parse pass: {peak / 1e6:.2f} MB")
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
