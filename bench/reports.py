"""Supervisor reports at scale: seed N tickets (default 1,000,000) with their
messages and events, then time each report for a 30-day window, on SQLite and
on a throwaway PostgreSQL cluster.

    python bench/reports.py                      # both databases, 1,000,000 tickets
    python bench/reports.py --tickets 100000 --only sqlite

Seeding is set-based (INSERT ... SELECT over a generated series), the fastest
bulk path on both databases: no row passes through Python. Tickets spread over
90 days (about 11,000 a day, a third of them in the window), two messages per
ticket, and events for creation, resolution and FAQ feedback. Not a test: it
prints a table (median and worst of several warm runs). Goal: every report
<= 500 ms at 1,000,000 tickets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpdesk import reports
from helpdesk.migrate import upgrade
from helpdesk.reports_filters import ReportFilter, parse_filter
from helpdesk.reports_rollup import local_day, rebuild, rebuild_days
from helpdesk.reports_tickets import ticket_page
from helpdesk.store import Store

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DAYS = 90
RUNS = 5
CONSULTANTS = 12  # three per queue


def _rand(dialect: str, n: str, salt: int) -> str:
    """A repeatable pseudo-random 0..999 from the row number."""
    return f"(({n} * {7919 + salt} + {salt * 104729}) % 1000)"


def _hash(n: str, salt: int, modulo: int) -> str:
    """A repeatable pseudo-random 0..modulo-1 from the row number, independent of
    n's residues (Knuth's multiplicative hash, top 12 of 32 bits)."""
    return f"(((({n} + {salt * 1000003}) * 2654435761) % 4294967296) / 1048576 % {modulo})"


def _time(dialect: str, base: str, seconds: str) -> str:
    if dialect == "sqlite":
        return (f"strftime('%Y-%m-%d %H:%M:%S', {base}, '+' || ({seconds}) || ' seconds')"
                " || '.000000'")
    return f"({base} + make_interval(secs => {seconds}))"


def seed(conn: Connection, tickets: int) -> None:
    d = conn.dialect.name
    start = NOW - timedelta(days=DAYS)
    base = f"'{start.strftime('%Y-%m-%d %H:%M:%S')}'"
    if d == "postgresql":
        base = f"timestamp {base}"
    series = (f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
              f"WHERE n < {tickets}) " if d == "sqlite" else "")
    # bigint: the pseudo-random arithmetic below passes 2^31 on PostgreSQL.
    source = "s" if d == "sqlite" else f"generate_series(1::bigint, {tickets}) AS s(n)"
    step = DAYS * 86400 / tickets
    created = _time(d, base, f"CAST(n * {step} AS INTEGER)")
    r = lambda salt: _rand(d, "n", salt)  # noqa: E731
    fr = f"(60 + {r(1)} * {r(2)} / 40)"  # seconds to the first reply: 1 min to ~7 h
    res = f"({fr} + {r(3)} * 90)"
    conn.execute(sa.text(
        "INSERT INTO queue (id, name, title, active) VALUES (1, 'umum', 'Umum', true), "
        "(2, 'pengaduan', 'Pengaduan', true), (3, 'investasi', 'Investasi', true), "
        "(4, 'telepon-balik', 'Telepon balik', true)"))
    for i in range(1, CONSULTANTS + 1):
        conn.execute(sa.text(
            "INSERT INTO staff_user (id, email, name, role, password_hash, active, capacity, "
            "presence, extension, failed_logins, language, created_at) VALUES "
            f"({i}, 'petugas{i}@bench', 'Petugas {i}', 'consultant', '', true, 10, 'online', "
            f"'', 0, 'id', {_time(d, base, '0')})"))
    conn.execute(sa.text(
        f"{series}INSERT INTO contact (id, name, created_at) SELECT n, 'Warga ' || n, "
        f"{_time(d, base, '0')} FROM {source} WHERE n <= {max(tickets // 3, 1)}"))
    channel = ("CASE n % 20 WHEN 0 THEN 'phone' WHEN 1 THEN 'phone' WHEN 2 THEN 'phone' "
               "ELSE CASE n % 3 WHEN 0 THEN 'email' WHEN 1 THEN 'telegram' ELSE 'webchat' "
               "END END")
    auto = f"({r(4)} < 300 AND n % 20 > 2)"
    faq_yes = f"({auto} AND {r(5)} < 550)"
    resolved = f"({r(6)} < 900 OR n < {tickets * 2 // 3})"
    # Dimensions as routing makes them: the category picks the queue, three
    # consultants work each queue; the channel is independent of them.
    category = _hash("n", 1, 15)
    queue = f"({category} % 4)"
    assignee = f"(1 + {queue} * 3 + {_hash('n', 2, 3)})"
    yes = "true" if d == "postgresql" else "1"
    no = "false" if d == "postgresql" else "0"
    b = lambda cond: f"CASE WHEN {cond} THEN {yes} ELSE {no} END"  # noqa: E731
    conn.execute(sa.text(f"""{series}
        INSERT INTO ticket (id, subject, status, channel, contact_id, queue_id, assignee_id,
            priority, category, created_at, updated_at, first_response_at, resolved_at,
            auto_answer_entry, answered_by_faq, sla_due_at, resolution_due_at,
            first_response_breached, resolution_breached, satisfaction,
            first_response_seconds, first_response_business_seconds, resolution_seconds,
            resolution_business_seconds)
        SELECT n, 'Pertanyaan ' || n,
            CASE WHEN {faq_yes} OR {resolved} THEN 'resolved' ELSE 'open' END,
            {channel}, 1 + n % {max(tickets // 3, 1)}, 1 + {queue},
            CASE WHEN {faq_yes} THEN NULL ELSE {assignee} END,
            2, 'kategori-' || {category}, {created}, {created},
            CASE WHEN {faq_yes} THEN NULL ELSE {_time(d, created, fr)} END,
            CASE WHEN {faq_yes} THEN {_time(d, created, '300')}
                 WHEN {resolved} THEN {_time(d, created, res)} END,
            CASE WHEN {auto} THEN 'faq-' || (n % 60) END, {b(faq_yes)},
            {_time(d, created, '14400')}, {_time(d, created, '126000')},
            {b(f"{fr} > 14400 AND NOT {faq_yes}")},
            {b(f"{resolved} AND {res} > 126000 AND NOT {faq_yes}")},
            CASE WHEN {r(7)} < 300 AND {resolved} THEN 1 + ({r(8)} * {r(9)}) % 5 END,
            CASE WHEN {faq_yes} THEN NULL ELSE {fr} END,
            CASE WHEN {faq_yes} THEN NULL ELSE {fr} * 35 / 100 END,
            CASE WHEN {resolved} AND NOT {faq_yes} THEN {res} END,
            CASE WHEN {resolved} AND NOT {faq_yes} THEN {res} * 30 / 100 END
        FROM {source}"""))
    json = (lambda text: f"'{text}'") if d == "sqlite" else (lambda text: f"'{text}'::json")
    conn.execute(sa.text(f"""
        INSERT INTO message (ticket_id, direction, channel, external_id, author_kind, subject,
            text, meta, created_at)
        SELECT id, 'in', channel, 'bench:' || id, 'resident', subject,
            'Selamat pagi, bagaimana cara mengurus NIB?', {json('{}')}, created_at FROM ticket"""))
    conn.execute(sa.text(f"""
        INSERT INTO message (ticket_id, direction, channel, external_id, author_kind,
            author_user_id, subject, text, meta, created_at)
        SELECT id, 'out', channel, 'bench-out:' || id, 'consultant', assignee_id, subject,
            'Terima kasih, berikut jawabannya.', {json('{}')}, first_response_at
        FROM ticket WHERE first_response_at IS NOT NULL"""))
    for kind, actor, data, at, where in (
            ("ticket.created", "intake", "{}", "created_at", "1 = 1"),
            ("ticket.status", "consultant", '{"from": "open", "to": "resolved"}', "resolved_at",
             "resolved_at IS NOT NULL"),
            ("faq.feedback", "resident", '{"helpful": true}', "resolved_at",
             f"answered_by_faq = {yes}"),
            ("faq.feedback", "resident", '{"helpful": false}', "created_at",
             f"auto_answer_entry IS NOT NULL AND answered_by_faq = {no} AND id % 2 = 0")):
        conn.execute(sa.text(
            f"INSERT INTO event (ticket_id, kind, actor, data, created_at) "
            f"SELECT id, '{kind}', '{actor}', {json(data)}, {at} FROM ticket WHERE {where}"))
    if d == "postgresql":
        for name in ("queue", "staff_user", "contact", "ticket"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                 f"(SELECT max(id) FROM {name}))"))


def timed(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, float]:
    """Median and worst of ``runs`` warm runs, in ms."""
    fn()  # warm the caches: a supervisor's second look, not the first after a restart
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def run_reports(store: Store) -> list[tuple[str, tuple[float, float]]]:
    window = parse_filter({"period": "30d"}, NOW)
    narrowed = parse_filter({"period": "30d", "channel": "telegram", "consultant": "3"}, NOW)
    by_queue = parse_filter({"period": "30d", "queue": "2"}, NOW)
    by_category = parse_filter({"period": "30d", "category": "kategori-4"}, NOW)
    # No histogram keeps this pair: the buckets are counted from the tickets.
    category_channel = parse_filter({"period": "30d", "category": "kategori-4",
                                     "channel": "email"}, NOW)
    out = []
    with store.engine.connect() as conn:
        cases: list[tuple[str, Callable[[Connection, ReportFilter], Any], ReportFilter]] = [
            ("summary (volume, percentiles, breaches, FAQ, rating)", reports.summary, window),
            ("daily volume, resolutions and backlog", reports.daily, window),
            ("heatmap by weekday and hour", reports.heatmap, window),
            ("FAQ entries with yes/no", reports.faq_entries, window),
            ("satisfaction distribution", reports.satisfaction, window),
            ("consultant table", reports.consultants, window),
            ("drill-down: breached tickets, page 1",
             lambda c, f: ticket_page(c, f, "breached"), window),
            ("summary, channel + consultant filter", reports.summary, narrowed),
            ("consultant table, channel filter", reports.consultants, narrowed),
            ("summary, queue filter", reports.summary, by_queue),
            ("consultant table, queue filter", reports.consultants, by_queue),
            ("summary, category filter", reports.summary, by_category),
            ("consultant table, category filter", reports.consultants, by_category),
            ("summary, category + channel filter (from tickets)", reports.summary,
             category_channel),
        ]
        for name, fn, report in cases:
            out.append((name, timed(lambda fn=fn, report=report: fn(conn, report))))
            print(f"  {name}: {out[-1][1][0]:.0f} ms, worst {out[-1][1][1]:.0f} ms",
                  flush=True)
    return out


REFRESH = "refresh: one day's summary rows recomputed (rolled back)"


def refresh_cost(store: Store) -> tuple[float, float]:
    """What the dashboard's refresh pays when a busy day changed: the day's rows
    recomputed from its tickets, in a transaction that is then rolled back."""
    day = local_day(NOW - timedelta(days=3))
    samples = []
    for _ in range(3):
        with store.write_engine.connect() as conn:
            transaction = conn.begin()
            started = time.perf_counter()
            rebuild_days(conn, [day])
            samples.append((time.perf_counter() - started) * 1000)
            transaction.rollback()
    return statistics.median(samples), max(samples)


def bench(store: Store, tickets: int, label: str) -> dict[str, tuple[float, float]]:
    upgrade(store)
    started = time.perf_counter()
    with store.write_engine.begin() as conn:
        seed(conn, tickets)
        rollup_started = time.perf_counter()
        rebuild(conn)  # the summary rows, as `tanya-ptsp reports rebuild` writes them
        rolled = time.perf_counter() - rollup_started
    with store.write_engine.connect() as conn:
        conn.execute(sa.text("ANALYZE"))
        conn.commit()
    if store.is_postgres:
        # Index-only scans need the visibility map a VACUUM writes.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    seeded = time.perf_counter() - started
    with store.engine.connect() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("ticket", "message", "event", "report_day", "report_hour",
                            "report_duration")}
    print(f"{label}: seeded {counts['ticket']:,} tickets, {counts['message']:,} messages, "
          f"{counts['event']:,} events in {seeded:.0f} s (summary rows {rolled:.1f} s: "
          f"{counts['report_day']:,} day, {counts['report_hour']:,} hour, "
          f"{counts['report_duration']:,} histogram rows)", flush=True)
    figures = dict(run_reports(store))
    figures[REFRESH] = refresh_cost(store)
    print(f"  {REFRESH}: {figures[REFRESH][0]:.0f} ms, worst {figures[REFRESH][1]:.0f} ms",
          flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    results: dict[str, dict[str, tuple[float, float]]] = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{tmp}/bench.db")
            try:
                results["SQLite"] = bench(store, args.tickets, "SQLite")
            finally:
                store.dispose()
    if args.only in (None, "postgresql"):
        from tests.servers.postgres import PostgresCluster

        cluster = PostgresCluster(settings={"shared_buffers": "256MB",
                                            "work_mem": "32MB"}).start()
        try:
            store = Store(cluster.create_database("bench_reports"))
            try:
                results["PostgreSQL"] = bench(store, args.tickets, "PostgreSQL")
            finally:
                store.dispose()
        finally:
            cluster.stop()
    names = list(next(iter(results.values())))
    width = max(len(n) for n in names)
    header = (f"{f'report (30-day window), median / worst of {RUNS} warm runs':<{width}}  "
              + "  ".join(f"{db:>17}" for db in results))
    print(f"\n{args.tickets:,} tickets\n{header}\n{'-' * len(header)}")
    for name in names:
        cells = "  ".join(f"{results[db][name][0]:>6.0f} / {results[db][name][1]:>4.0f} ms"
                          for db in results)
        print(f"{name:<{width}}  {cells}")
    worst = max(v[1] for figures in results.values() for name, v in figures.items()
                if name != REFRESH)
    print(f"\nslowest: {worst:.0f} ms (goal <= 500 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
