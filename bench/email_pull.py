"""Benchmark: how fast the IMAP poller pulls mail from a local Dovecot into the help desk.

    python bench/email_pull.py                      # 2,000 messages
    python bench/email_pull.py --count 5000 --batch-size 100
    python bench/email_pull.py --sink mypkg.module:make_sink
    python bench/email_pull.py --profile            # cProfile of the real intake run

2,000 messages are APPENDed to a throwaway Dovecot, then pulled three times
(the \\Seen flags cleared in between), each time until all are stored:

1. into an in-memory sink: the adapter's own cost (IMAP, parsing);
2. into the real intake on a fresh SQLite file, with the ticket policy that
   ``build_services`` builds (answer first from the starter FAQ, routing, SLA)
   -- what ``tanya-ptsp serve`` does;
3. the same with ``DefaultQueuePolicy("umum")``: intake's own storage cost.

``--sink MODULE:FACTORY`` replaces 2 and 3: FACTORY() is called with no
arguments and returns an InquirySink, or an awaitable of one.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import cProfile
import importlib
import inspect
import pstats
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aioimaplib

from channels.base import HealthReport, Inquiry, InquirySink, ReceiveOutcome
from channels.email.imap import ImapPoller
from helpdesk.bootstrap import build_services
from helpdesk.config import load_config
from helpdesk.intake import DefaultQueuePolicy, Intake, TicketPolicy
from helpdesk.knowledge import faq_source, load_starter_if_empty
from helpdesk.migrate import upgrade
from helpdesk.store import Store
from tests.servers.dovecot import DovecotServer

USER = "konsultasi@ptsp.test"
PASSWORD = "bench-only"


def sample(number: int) -> bytes:
    return (
        f"From: Warga {number} <warga{number % 500}@contoh.test>\r\n"
        f"To: {USER}\r\nSubject: Pertanyaan izin usaha nomor {number}\r\n"
        f"Message-ID: <bench.{number}@contoh.test>\r\n"
        "Date: Mon, 3 Mar 2025 09:00:00 +0700\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"Selamat pagi, saya mau tanya syarat NIB untuk usaha katering nomor {number}.=\r\n"
        " Apakah perlu sertifikat laik higiene?\r\n\r\nTerima kasih.\r\n"
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f"<p>Selamat pagi, saya mau tanya syarat NIB untuk usaha katering nomor {number}.</p>"
        "<p>Terima kasih.</p>\r\n--b--\r\n"
    ).encode()


class MemorySink:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def __call__(self, inquiry: Inquiry) -> ReceiveOutcome:
        duplicate = inquiry.external_id in self.ids
        self.ids.add(inquiry.external_id)
        return ReceiveOutcome("PTSP-000001", len(self.ids), not duplicate, duplicate)


class MemoryCursor:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    async def load(self, key: str) -> dict[str, Any]:
        return dict(self.values.get(key, {}))

    async def save(self, key: str, value: dict[str, Any]) -> None:
        self.values[key] = dict(value)


def intake_sink(policy: TicketPolicy | None = None) -> InquirySink:
    """The real intake on a fresh, migrated SQLite file in a temporary directory,
    with the starter FAQ loaded as ``tanya-ptsp serve`` loads it."""
    base = Path(tempfile.mkdtemp(prefix="tanya-bench-"))
    atexit.register(shutil.rmtree, base, True)
    defaults = load_config(environ={})
    config = replace(defaults, base_dir=str(base))
    store = Store(config.database_url)
    upgrade(store)
    services = build_services(config, store=store, policy=policy)
    load_starter_if_empty(services.knowledge, faq_source(config.knowledge_base, base))
    atexit.register(services.close)
    return services.intake


def inline(intake: Intake) -> InquirySink:
    """Intake run on the event loop's thread instead of a worker thread."""

    async def sink(inquiry: Inquiry) -> ReceiveOutcome:
        return intake.receive(inquiry).outcome()

    return sink


def make_intake_sink() -> InquirySink:
    """Factory for ``--sink``: the policy build_services chooses (what serve runs)."""
    return intake_sink()


def make_default_queue_sink() -> InquirySink:
    """Factory for ``--sink``: intake with one default queue and nothing else."""
    return intake_sink(DefaultQueuePolicy("umum"))


async def _ignore(*_: Any) -> None:
    return None


async def _health(report: HealthReport) -> None:
    return None


async def fill(server: DovecotServer, count: int) -> float:
    started = time.perf_counter()
    client = aioimaplib.IMAP4(server.host, server.port, timeout=30)
    await client.wait_hello_from_server()
    await client.login(USER, PASSWORD)
    for number in range(count):
        response = await client.append(sample(number), mailbox="INBOX")
        if response.result != "OK":
            raise RuntimeError(f"APPEND failed: {response}")
    await client.logout()
    return time.perf_counter() - started


async def pull(server: DovecotServer, sink: InquirySink, count: int, batch_size: int) -> float:
    stored = 0

    async def counting(inquiry: Inquiry) -> ReceiveOutcome:
        nonlocal stored
        outcome = await sink(inquiry)
        stored += 1
        return outcome

    poller = ImapPoller(
        name="email:bench",
        host=server.host,
        port=server.port,
        username=USER,
        password=PASSWORD,
        security="none",
        sink=counting,
        quarantine=_ignore,
        health=_health,
        cursor=MemoryCursor(),
        batch_size=batch_size,
    )
    started = time.perf_counter()
    try:
        while stored < count:
            report = await poller.poll_once()
            if report.failed:
                raise RuntimeError(report.failed)
    finally:
        await poller.close()
    return time.perf_counter() - started


async def reset_seen(server: DovecotServer) -> None:
    """Clear \\Seen so a second run finds the mailbox as the first did."""
    client = aioimaplib.IMAP4(server.host, server.port, timeout=30)
    await client.wait_hello_from_server()
    await client.login(USER, PASSWORD)
    await client.select("INBOX")
    await client.uid("store", "1:*", "-FLAGS.SILENT", r"(\Seen)")
    await client.logout()


async def load_sink(spec: str) -> InquirySink:
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "make_sink")
    sink = factory()
    if inspect.isawaitable(sink):
        sink = await sink
    return sink  # type: ignore[no-any-return]


async def measure(server: DovecotServer, label: str, sink: InquirySink, count: int,
                  batch_size: int, profile: cProfile.Profile | None = None) -> float:
    await reset_seen(server)
    if profile is not None:
        profile.enable()
    try:
        seconds = await pull(server, sink, count, batch_size)
    finally:
        if profile is not None:
            profile.disable()
    print(f"{label}: {count} messages in {seconds:.2f} s = {count / seconds:.0f} messages/s "
          f"= {seconds / count * 1000:.2f} ms each (batch {batch_size})", flush=True)
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--sink", help="MODULE:FACTORY returning the sink to measure "
                                       "instead of the real intake")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the real intake run")
    args = parser.parse_args()
    server = DovecotServer({USER: PASSWORD}).start()
    try:
        filled = await fill(server, args.count)
        print(f"APPEND {args.count} messages: {filled:.2f} s", flush=True)
        memory = await measure(server, "in-memory sink", MemorySink(), args.count,
                               args.batch_size)
        runs: list[tuple[str, InquirySink]] = (
            [(args.sink, await load_sink(args.sink))] if args.sink else
            [("real intake, SQLite, the policy build_services builds", make_intake_sink()),
             ('real intake, SQLite, DefaultQueuePolicy("umum")', make_default_queue_sink())])
        for number, (label, sink) in enumerate(runs):
            profile = cProfile.Profile() if args.profile and number == 0 else None
            if profile is not None and isinstance(sink, Intake):
                sink = inline(sink)  # the profiler sees only this thread
            seconds = await measure(server, label, sink, args.count, args.batch_size, profile)
            core = (seconds - memory) / args.count * 1000
            print(f"  the core's share: {core:.2f} ms per inquiry", flush=True)
            if profile is not None:
                stats = pstats.Stats(profile).strip_dirs().sort_stats("cumulative")
                stats.print_stats(45)
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
