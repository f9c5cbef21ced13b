"""Benchmark: inquiries per second through ``Intake.receive`` on SQLite and PostgreSQL.

    python bench/intake.py [-n 5000] [--postgres]

Each inquiry is one committed transaction (dedupe, contact, threading, events),
as in production. Half the inquiries follow up on an earlier one, so threading
lookups are exercised. Peak memory is measured with tracemalloc in a separate pass.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import Channel, Identity, IdentityKind, Inquiry, ThreadHints
from helpdesk.attachments import AttachmentFiles
from helpdesk.intake import DefaultQueuePolicy, Intake
from helpdesk.migrate import upgrade
from helpdesk.store import Store

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def inquiries(n: int) -> list[Inquiry]:
    out = []
    for i in range(n):
        resident = i % max(n // 4, 1)
        follow = i >= n // 2
        out.append(Inquiry(
            channel=Channel.EMAIL, external_id=f"bench-{i}@warga.example",
            sender=Identity(IdentityKind.EMAIL, f"warga{resident}@example.com", "Warga"),
            subject=f"Pertanyaan izin {i}",
            text="Selamat siang, bagaimana cara mengurus NIB melalui OSS? Terima kasih.",
            received_at=T0 + timedelta(seconds=i),
            thread=ThreadHints(reply_to_ids=(f"bench-{i - n // 2}@warga.example",)
                               if follow else ()),
        ))
    return out


def run(store: Store, files: AttachmentFiles, batch: list[Inquiry]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (steadier on a shared machine)."""
    intake = Intake(store, files, reopen_days=7, policy=DefaultQueuePolicy("umum"))
    start, cpu = time.perf_counter(), time.process_time()
    for inquiry in batch:
        intake.receive(inquiry)
    return time.perf_counter() - start, time.process_time() - cpu


def measure(label: str, make_url: Callable[[str], str], n: int, tmp: Path) -> None:
    batch = inquiries(n)
    files = AttachmentFiles(tmp / "files")
    store = Store(make_url("speed"))
    upgrade(store)
    gc.collect()
    elapsed, cpu = run(store, files, batch)
    replay, _ = run(store, files, batch)  # every one a duplicate now
    store.dispose()
    small = inquiries(min(n, 1000))
    store = Store(make_url("memory"))
    upgrade(store)
    tracemalloc.start()
    run(store, files, small)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.dispose()
    print(f"{label:<11} {n:>6} inquiries  {n / elapsed:7.0f} inquiries/s wall  "
          f"{n / cpu:7.0f} per CPU-second  replay {n / replay:7.0f}/s  "
          f"peak traced memory {peak / 1e6:5.1f} MB (over {len(small)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true",
                        help="also run on a throwaway PostgreSQL cluster (Debian postgresql)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tanya-bench-"))
    try:
        measure("SQLite", lambda name: f"sqlite:///{tmp / name}.db", args.n, tmp)
        if args.postgres:
            from tests.servers.postgres import PostgresCluster

            with PostgresCluster() as cluster:
                measure("PostgreSQL", lambda name: cluster.create_database(f"bench_{name}"),
                        args.n, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
