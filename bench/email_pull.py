"""Benchmark: how fast the IMAP poller pulls mail from a local Dovecot into a sink.

    python bench/email_pull.py                      # 2,000 messages, in-memory sink
    python bench/email_pull.py --count 5000 --batch-size 100
    python bench/email_pull.py --sink mypkg.module:make_sink

``--sink MODULE:FACTORY`` plugs in another sink (the real intake): FACTORY() is
called with no arguments and returns an InquirySink, or an awaitable of one.
The in-memory sink is always measured too, so both figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aioimaplib

from channels.base import HealthReport, Inquiry, InquirySink, ReceiveOutcome
from channels.email.imap import ImapPoller
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--sink", help="MODULE:FACTORY returning the sink to measure as well")
    args = parser.parse_args()
    server = DovecotServer({USER: PASSWORD}).start()
    try:
        filled = await fill(server, args.count)
        print(f"APPEND {args.count} messages: {filled:.2f} s")
        seconds = await pull(server, MemorySink(), args.count, args.batch_size)
        print(
            f"in-memory sink: {args.count} messages in {seconds:.2f} s = "
            f"{args.count / seconds:.0f} messages/s (batch {args.batch_size})"
        )
        if args.sink:
            await reset_seen(server)
            sink = await load_sink(args.sink)
            seconds = await pull(server, sink, args.count, args.batch_size)
            print(
                f"{args.sink}: {args.count} messages in {seconds:.2f} s = "
                f"{args.count / seconds:.0f} messages/s"
            )
    finally:
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
