"""Benchmark: the consultant queue page and the ticket page over HTTP, at scale.

    python bench/queue_page.py [--tickets 1000000] [--requests 200] [--postgres]

Seeds the tickets with bulk inserts (most resolved or closed, about 7% open or
waiting, due times spread over two weeks, some without one), messages and
events for a subset, then serves the app with uvicorn on loopback and times
signed-in GETs with httpx: p50 and p99 per page, with the machine's load
average after each (the timings mean little on a busy machine). Statistics
are gathered after the load as autovacuum would (see ``settle``). The schema
comes from the models (``create_all``), so an index added there is measured
before the migration that carries it exists. Goal: p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import insert
from sqlmodel import SQLModel

from helpdesk.accounts import create_user
from helpdesk.bootstrap import build_services
from helpdesk.config import load_config
from helpdesk.models import Contact, Event, Message, Queue, Role, Ticket, UserQueue
from helpdesk.store import Store
from helpdesk.web.app import create_app
from tests.web.live_server import serve

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
BATCH = 20_000
QUEUES = ("umum", "perizinan", "pengaduan", "investasi", "telepon-balik")
CHANNELS = ("email", "telegram", "webchat", "phone")
PASSWORD = "bench-password-123"


def seed(store: Store, tickets: int, with_messages: int) -> int:
    SQLModel.metadata.create_all(store.engine)
    rng = random.Random(7)
    with store.write() as session:
        for name in QUEUES:
            session.add(Queue(name=name, title=name.title()))
        session.flush()
        staff: list[int] = []
        for i in range(50):
            user = create_user(session, email=f"petugas{i}@ptsp.example", name=f"Petugas {i}",
                               role=Role.CONSULTANT, password=PASSWORD)
            assert user.id is not None
            staff.append(user.id)
        session.add(UserQueue(user_id=staff[0], queue_id=1))
        session.add(UserQueue(user_id=staff[0], queue_id=2))
    contacts = max(tickets // 4, 1)
    started = time.perf_counter()
    with store.write() as session:
        for start in range(0, contacts, BATCH):
            session.execute(insert(Contact), [
                {"name": f"Warga {i}", "created_at": NOW} for i in range(start,
                                                                       min(start + BATCH,
                                                                           contacts))])
    with store.write() as session:
        for start in range(0, tickets, BATCH):
            rows = []
            for i in range(start, min(start + BATCH, tickets)):
                roll = rng.random()
                status = ("closed" if roll < 0.6 else "resolved" if roll < 0.93 else
                          "pending" if roll < 0.95 else "open" if roll < 0.98 else "new")
                running = status in ("new", "open", "pending")
                created = NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 90))
                rows.append({
                    "subject": f"Pertanyaan perizinan nomor {i}", "status": status,
                    "channel": CHANNELS[i % 4], "contact_id": 1 + i % contacts,
                    "queue_id": 1 + i % len(QUEUES),
                    "assignee_id": staff[i % 50] if running and rng.random() < 0.6 else None,
                    "priority": 2, "category": "umum", "created_at": created,
                    "updated_at": created, "last_message_at": created,
                    "sla_due_at": None if rng.random() < 0.1 else
                    NOW + timedelta(minutes=rng.randint(-600, 60 * 24 * 14)),
                })
            session.execute(insert(Ticket), rows)
    with store.write() as session:
        for start in range(1, with_messages + 1, BATCH // 10):
            messages: list[dict[str, object]] = []
            events: list[dict[str, object]] = []
            for t in range(start, min(start + BATCH // 10, with_messages + 1)):
                for k in range(6):
                    messages.append({
                        "ticket_id": t, "direction": "in" if k % 2 == 0 else "out",
                        "channel": "email", "external_id": f"b-{t}-{k}@x",
                        "author_kind": "resident" if k % 2 == 0 else "consultant",
                        "text": "Selamat siang, bagaimana cara mengurus NIB untuk usaha "
                                "mikro? Terima kasih.", "meta": {}, "created_at": NOW})
                    events.append({"ticket_id": t, "kind": "message.received",
                                   "actor": "resident", "data": {}, "created_at": NOW})
            session.execute(insert(Message), messages)
            session.execute(insert(Event), events)
    print(f"  seeded {tickets:,} tickets in {time.perf_counter() - started:.1f} s")
    settle(store)
    return staff[0]


def settle(store: Store) -> None:
    """Statistics as a running site has them: autovacuum analyzes (and, after
    bulk inserts, vacuums) a table, and an SQLite deployment runs ANALYZE.
    Without them both planners guess selectivities from defaults. Committed:
    an ANALYZE rolled back with its transaction leaves no statistics behind."""
    if store.is_postgres:
        # VACUUM cannot run in a transaction; it also writes the visibility
        # map that index-only scans need, as autovacuum would after the load.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with store.write_engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def timed(client: httpx.Client, url: str, n: int) -> tuple[float, float, int]:
    client.get(url)  # warm
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    samples.sort()
    return statistics.median(samples), samples[max(int(len(samples) * 0.99) - 1, 0)], \
        len(response.content)


def run(url: str, data_dir: Path, tickets: int, requests: int) -> None:
    config = replace(load_config(environ={}), base_dir=str(data_dir))
    store = Store(url)
    seed(store, tickets, with_messages=min(tickets, 2000))
    services = build_services(config, store=store, clock=lambda: NOW)
    app = create_app(services)
    with serve(app) as base, httpx.Client(base_url=base, follow_redirects=False) as client:
        page = client.get("/signin")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        signed = client.post("/signin", data={"email": "petugas0@ptsp.example",
                                              "password": PASSWORD,
                                              "csrf_token": csrf.group(1)})
        assert signed.status_code == 303
        second = client.get("/tickets?view=open")
        cursor = re.search(r'href="(/tickets\?[^"]*after=[^"]+)"', second.text)
        pages = {
            "queue: mine": "/tickets?view=mine",
            "queue: unassigned in my queues": "/tickets?view=unassigned",
            "queue: all open": "/tickets?view=open",
            "queue: all open, page 2": cursor.group(1).replace("&amp;", "&") if cursor
            else "/tickets?view=open",
            "queue: all open, email only": "/tickets?view=open&channel=email",
            # The last pages: tickets without a due time, after every dated one.
            "queue: all open, undated tail": "/tickets?view=open&after=n.0",
            "queue: waiting on resident": "/tickets?view=waiting",
            "queue: breaching soon": "/tickets?view=breaching",
            "ticket page (6 messages)": "/tickets/1500",
        }
        for label, path in pages.items():
            p50, p99, size = timed(client, path, requests)
            print(f"  {label:<32} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   ({size // 1024} KB)"
                  f"   load {os.getloadavg()[0]:.1f}")
    services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    try:
        print(f"SQLite, {args.tickets:,} tickets")
        run(f"sqlite:///{work / 'bench.db'}", work, args.tickets, args.requests)
        if args.postgres:
            from tests.servers.postgres import PostgresCluster

            with PostgresCluster() as cluster:
                print(f"PostgreSQL, {args.tickets:,} tickets")
                run(cluster.create_database("bench"), work, args.tickets, args.requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
