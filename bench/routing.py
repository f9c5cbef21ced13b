"""Benchmark: new tickets per second through suggest -> route -> assign.

    python bench/routing.py [-n 10000] [--postgres] [--sqlite]

Each inquiry goes through ``Intake.receive`` with the answer-first policy
(FAQ suggestions on the starter FAQ base, routing rules, SLA clock, automatic
answers into the outbox where confident), then the assigner places the waiting
tickets with 50 online consultants in batches, as the serve loop does. The
messages are a mix of confident, suggested and unmatched questions.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.base import Channel, Identity, IdentityKind, Inquiry
from helpdesk.bootstrap import build_services
from helpdesk.config import load_config
from helpdesk.knowledge import load_starter_if_empty
from helpdesk.migrate import upgrade
from helpdesk.models import Presence, Queue, User, UserQueue
from helpdesk.store import Store
from knowledge_base.defaults import starter_faq_dir

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta
TEXTS = (
    "apa itu PBG?",  # confident: answered automatically
    "Selamat siang, bagaimana cara mengurus NIB melalui OSS? Terima kasih.",
    "saya mau lapor pungli di loket kecamatan",
    "cara lapor LKPM gmn ya min",
    "permohonan saya sudah 2 minggu belum selesai, mohon dicek",
    "halo, rumah saya kebanjiran, bisa minta bantuan?",
    "jam buka mal pelayanan publik hari sabtu?",
    "berapa biaya retribusi pbg dan berapa lama prosesnya",
)
QUEUES = ("umum", "pengaduan", "investasi", "telepon-balik")


def inquiries(n: int) -> list[Inquiry]:
    out = []
    for i in range(n):
        channel = (Channel.EMAIL, Channel.TELEGRAM, Channel.WEBCHAT)[i % 3]
        kind = {Channel.EMAIL: IdentityKind.EMAIL, Channel.TELEGRAM: IdentityKind.TELEGRAM,
                Channel.WEBCHAT: IdentityKind.WEBCHAT}[channel]
        value = (f"warga{i}@example.com" if channel is Channel.EMAIL
                 else str(100_000_000 + i) if channel is Channel.TELEGRAM else f"wc-{i:08d}")
        out.append(Inquiry(channel=channel, external_id=f"bench-{i}",
                           sender=Identity(kind, value, "Warga"), subject=f"Pertanyaan {i}",
                           text=TEXTS[i % len(TEXTS)], received_at=T0 + timedelta(seconds=i)))
    return out


def measure(label: str, url: str, n: int, data_dir: Path) -> None:
    store = Store(url)
    upgrade(store)
    base = load_config(environ={})
    config = replace(base, base_dir=str(data_dir),
                     app=replace(base.app, secret_key="bench-secret-key-0123456789abcdef0123"))
    clock_now = [T0]
    services = build_services(config, store=store, clock=lambda: clock_now[0])
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    with store.write() as session:
        queues = [Queue(name=q) for q in QUEUES]
        session.add_all(queues)
        session.flush()
        for c in range(50):
            user = User(email=f"petugas{c}@ptsp.test", capacity=10_000, presence=Presence.ONLINE)
            session.add(user)
            session.flush()
            session.add_all(UserQueue(user_id=user.id or 0, queue_id=q.id or 0) for q in queues)
    batch = inquiries(n)
    services.knowledge.suggest("pemanasan")  # build the matcher outside the timing
    assigner = services.decisions.assigner
    start = time.perf_counter()
    assigned = 0
    for i, inquiry in enumerate(batch, 1):
        clock_now[0] = inquiry.received_at
        services.intake.receive(inquiry)
        if i % 200 == 0:
            assigned += assigner.assign_all(clock_now[0])
    assigned += assigner.assign_all(clock_now[0])
    elapsed = time.perf_counter() - start
    print(f"{label}: {n} tickets in {elapsed:.1f} s = {n / elapsed:.0f} tickets/s "
          f"({assigned} assigned, the rest held for the resident's answer)", flush=True)
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL only")
    parser.add_argument("--sqlite", action="store_true", help="SQLite only")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    try:
        if not args.postgres:
            measure("SQLite", f"sqlite:///{tmp / 'bench.db'}", args.n, tmp)
        if not args.sqlite:
            from tests.servers.postgres import PostgresCluster

            with PostgresCluster() as cluster:
                measure("PostgreSQL", cluster.create_database("bench_routing"), args.n, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
