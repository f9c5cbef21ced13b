"""Benchmark: inquiries per second through ``Intake.receive`` on SQLite and PostgreSQL.

    python bench/intake.py [-n 5000] [--postgres] [--policy default|full|both] [--profile]

Each inquiry is one committed transaction (dedupe, contact, threading, events),
as in production. Half the inquiries follow up on an earlier one, so threading
lookups are exercised. Peak memory is measured with tracemalloc in a separate pass.

``--policy default`` runs intake with the placeholder ``DefaultQueuePolicy`` (the
core alone); ``--policy full`` builds the services as ``serve`` does
(``build_services``: answer first, routing, SLA clock, webhooks) with the starter
FAQ loaded, so the question below is answered automatically and each follow-up
hands its ticket to a consultant. ``--profile`` prints a cProfile of the first
timed pass of each policy.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import Channel, Identity, IdentityKind, Inquiry, ThreadHints
from helpdesk.attachments import AttachmentFiles
from helpdesk.bootstrap import build_services
from helpdesk.config import load_config
from helpdesk.intake import DefaultQueuePolicy, Intake
from helpdesk.knowledge import load_starter_if_empty
from helpdesk.migrate import upgrade
from helpdesk.store import Store
from knowledge_base.defaults import starter_faq_dir

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


def make_intake(policy: str, store: Store, files: AttachmentFiles, tmp: Path,
                clock: Callable[[], datetime]) -> Intake:
    if policy == "default":
        return Intake(store, files, reopen_days=7, policy=DefaultQueuePolicy("umum"),
                      clock=clock)
    base = load_config(environ={})
    config = replace(base, base_dir=str(tmp),
                     app=replace(base.app, secret_key="bench-secret-key-0123456789abcdef0123"))
    services = build_services(config, store=store, clock=clock)
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    services.knowledge.suggest("pemanasan")  # build the matcher outside the timing
    return services.intake


def run(intake: Intake, batch: list[Inquiry], clock_now: list[datetime],
        profile: cProfile.Profile | None = None) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds (steadier on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    for inquiry in batch:
        clock_now[0] = inquiry.received_at
        intake.receive(inquiry)
    if profile is not None:
        profile.disable()
    return time.perf_counter() - start, time.process_time() - cpu


def measure(label: str, make_url: Callable[[str], str], n: int, tmp: Path, policy: str,
            profile: bool) -> None:
    batch = inquiries(n)
    files = AttachmentFiles(tmp / "files")
    clock_now = [T0]
    store = Store(make_url(f"speed-{policy}"))
    upgrade(store)
    intake = make_intake(policy, store, files, tmp, lambda: clock_now[0])
    gc.collect()
    profiler = cProfile.Profile() if profile else None
    elapsed, cpu = run(intake, batch, clock_now, profiler)
    replay, _ = run(intake, batch, clock_now)  # every one a duplicate now
    store.dispose()
    small = inquiries(min(n, 1000))
    store = Store(make_url(f"memory-{policy}"))
    upgrade(store)
    intake = make_intake(policy, store, files, tmp, lambda: clock_now[0])
    tracemalloc.start()
    run(intake, small, clock_now)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.dispose()
    print(f"{label:<11} {policy:<7} {n:>6} inquiries  {n / elapsed:7.0f} inquiries/s wall  "
          f"{n / cpu:7.0f} per CPU-second  replay {n / replay:7.0f}/s  "
          f"peak traced memory {peak / 1e6:5.1f} MB (over {len(small)})", flush=True)
    if profiler is not None:
        pstats.Stats(profiler).strip_dirs().sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true",
                        help="also run on a throwaway PostgreSQL cluster (Debian postgresql)")
    parser.add_argument("--policy", choices=("default", "full", "both"), default="both",
                        help="DefaultQueuePolicy only, the policy serve runs, or both")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the first timed pass")
    args = parser.parse_args()
    policies = ("default", "full") if args.policy == "both" else (args.policy,)
    tmp = Path(tempfile.mkdtemp(prefix="tanya-bench-"))
    try:
        for policy in policies:
            measure("SQLite", lambda name: f"sqlite:///{tmp / name}.db", args.n, tmp, policy,
                    args.profile)
        if args.postgres:
            from tests.servers.postgres import PostgresCluster

            with PostgresCluster() as cluster:
                for policy in policies:
                    measure("PostgreSQL",
                            lambda name: cluster.create_database(
                                f"bench_{name.replace('-', '_')}"),
                            args.n, tmp, policy, args.profile)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
