"""The IMAP poller against a real Dovecot: nothing lost, nothing doubled, nothing blocks."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from channels.base import Inquiry
from channels.email.imap import QUARANTINE_KEYWORD, ImapPoller
from tests.channels.email.email_fakes import (
    MemoryCursor,
    MemoryHealth,
    MemoryQuarantine,
    MemorySink,
    flags_by_uid,
    imap_client,
    stop_task,
)
from tests.servers.dovecot import DOVECOT_BIN, DovecotServer

pytestmark = pytest.mark.skipif(
    shutil.which(DOVECOT_BIN) is None, reason="Dovecot (dovecot-imapd) is not installed"
)

DATA = Path(__file__).resolve().parents[2] / "data" / "email"
USER = "konsultasi@ptsp.test"
PASSWORD = "rahasia-uji"
GOOD = [
    "01-gmail-alternative-utf8.eml",
    "03-gmail-reply-pada-menulis.eml",
    "07-attachment-pdf.eml",
    "19-unknown-8bit.eml",
    "21-8bit-backslash-paths.eml",
]


def mail(number: int, subject: str = "Tanya izin") -> bytes:
    return (
        f"From: Warga {number} <warga{number}@contoh.test>\r\n"
        f"To: {USER}\r\nSubject: {subject} {number}\r\n"
        f"Message-ID: <m{number}@contoh.test>\r\nDate: Mon, 3 Mar 2025 09:00:00 +0700\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Pertanyaan nomor {number}: bagaimana cara urus NIB?\r\n"
    ).encode()


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    with DovecotServer({USER: PASSWORD}, idle_notify_interval="2 mins") as server:
        yield server


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - the poller owns no event for this
            await asyncio.sleep(0.02)


class Harness:
    def __init__(self, server: DovecotServer, **options: Any) -> None:
        self.server = server
        self.sink = MemorySink()
        self.quarantine = MemoryQuarantine()
        self.health = MemoryHealth()
        self.cursor = MemoryCursor()
        self.options = options

    def poller(self, **changes: Any) -> ImapPoller:
        options: dict[str, Any] = {
            "name": "email:konsultasi",
            "host": self.server.host,
            "port": self.server.port,
            "username": USER,
            "password": PASSWORD,
            "security": "none",
            "sink": self.sink,
            "quarantine": self.quarantine,
            "health": self.health,
            "cursor": self.cursor,
            "timeout": 5.0,
            "batch_size": 3,
            "backoff_initial": 0.05,
            "backoff_max": 0.5,
            **self.options,
            **changes,
        }
        return ImapPoller(**options)

    async def append(self, *messages: bytes, flags: str | None = None) -> None:
        async with imap_client(self.server.host, self.server.port, USER, PASSWORD) as client:
            for raw in messages:
                response = await client.append(raw, mailbox="INBOX", flags=flags)
                assert response.result == "OK"

    async def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        async with imap_client(self.server.host, self.server.port, USER, PASSWORD) as client:
            return await flags_by_uid(client, folder)


async def test_all_mail_is_delivered_once_then_seen(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot)
    await harness.append(*[(DATA / name).read_bytes() for name in GOOD])
    poller = harness.poller()
    try:
        report = await poller.poll_once()
        assert (report.fetched, report.stored, report.quarantined) == (5, 5, 0)
        assert len(harness.sink.inquiries) == 5
        assert len(harness.sink.calls) == 5
        assert all("\\Seen" in flags for flags in (await harness.flags()).values())
        again = await poller.poll_once()
        assert again.fetched == 0
    finally:
        await poller.close()
    assert harness.cursor.values["email:konsultasi"]["last_uid"] == 5
    inquiry = harness.sink.inquiries["backslash.0321@kampus.example.ac.id"]
    assert "C:\\new\\tugas.pdf" in inquiry.text
    assert inquiry.raw_ref is not None and inquiry.raw_ref.endswith(":5")
    assert harness.health.reports[-1].ok
    assert harness.health.reports[-1].counts["stored"] == 5


async def test_seen_is_set_only_after_the_sink_returns(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot)
    await harness.append(*[mail(n) for n in range(1, 6)])
    seen_while_storing: dict[str, bool] = {}
    fail_once = {"m3@contoh.test"}

    async def before_commit(inquiry: Inquiry) -> None:
        uid = int(inquiry.external_id[1:].split("@")[0])
        seen_while_storing[inquiry.external_id] = "\\Seen" in (await harness.flags())[uid]
        if inquiry.external_id in fail_once:
            fail_once.discard(inquiry.external_id)
            raise ConnectionError("database is restarting")

    harness.sink.before_commit = before_commit
    poller = harness.poller()
    try:
        first = await poller.poll_once()
        assert first.failed and "UID 3" in first.failed
        assert sorted(harness.sink.inquiries) == ["m1@contoh.test", "m2@contoh.test"]
        flags = await harness.flags()
        assert [uid for uid in sorted(flags) if "\\Seen" in flags[uid]] == [1, 2]
        assert harness.cursor.values["email:konsultasi"]["last_uid"] == 2
        assert not harness.health.reports[-1].ok

        second = await poller.poll_once()
        assert second.failed is None and second.stored == 3
    finally:
        await poller.close()
    assert len(harness.sink.inquiries) == 5
    assert not any(seen_while_storing.values()), seen_while_storing
    assert all("\\Seen" in f for f in (await harness.flags()).values())


async def test_bad_mail_is_quarantined_flagged_and_skipped(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot)
    names = ["01-gmail-alternative-utf8.eml", "22-no-from.eml", "31-garbage.eml", GOOD[1]]
    await harness.append(*[(DATA / name).read_bytes() for name in names])
    poller = harness.poller()
    try:
        report = await poller.poll_once()
        assert (report.stored, report.quarantined) == (2, 2)
        assert (await poller.poll_once()).fetched == 0
    finally:
        await poller.close()
    reasons = [(item[2], item[3]) for item in harness.quarantine.items]
    assert "no usable sender" in reasons[0][0] and reasons[0][1] is not None
    assert reasons[0][1].endswith(":2")
    assert "unparseable" in reasons[1][0]
    assert harness.quarantine.items[0][1] == (DATA / "22-no-from.eml").read_bytes()
    flags = await harness.flags()
    assert QUARANTINE_KEYWORD in flags[2] and "\\Seen" in flags[2]
    assert QUARANTINE_KEYWORD in flags[3]
    assert QUARANTINE_KEYWORD not in flags[1] and "\\Seen" in flags[1]


async def test_poison_message_goes_to_quarantine_after_repeated_sink_failures(
    dovecot: DovecotServer,
) -> None:
    harness = Harness(dovecot, max_sink_attempts=3)
    await harness.append(mail(1), mail(2))

    async def always_fail_first(inquiry: Inquiry) -> None:
        if inquiry.external_id == "m1@contoh.test":
            raise ValueError("constraint violated")

    harness.sink.before_commit = always_fail_first
    poller = harness.poller()
    try:
        for _ in range(2):
            assert (await poller.poll_once()).failed
        final = await poller.poll_once()
    finally:
        await poller.close()
    assert final.quarantined == 1 and final.stored == 1
    assert "not stored after 3 attempts" in harness.quarantine.items[0][2]


async def test_mail_read_by_another_client_is_still_imported(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot)
    await harness.append(mail(1), flags="\\Seen")
    await harness.append(mail(2))
    poller = harness.poller()
    try:
        assert (await poller.poll_once()).stored == 2
    finally:
        await poller.close()
    assert set(harness.sink.inquiries) == {"m1@contoh.test", "m2@contoh.test"}


async def test_uidvalidity_change_reads_again_and_dedupe_keeps_it_single(
    dovecot: DovecotServer,
) -> None:
    harness = Harness(dovecot)
    await harness.append(mail(1), mail(2))
    harness.cursor.values["email:konsultasi"] = {"uidvalidity": 1, "last_uid": 99}
    poller = harness.poller()
    try:
        first = await poller.poll_once()
        assert first.stored == 2
        harness.cursor.values["email:konsultasi"]["uidvalidity"] = 2  # as if recreated
        second = await poller.poll_once()
    finally:
        await poller.close()
    assert second.duplicates == 2 and second.stored == 0
    assert len(harness.sink.inquiries) == 2


async def test_processed_folder_receives_the_mail(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot, processed_folder="Diproses")
    await harness.append(mail(1), mail(2), b"junk without headers")
    poller = harness.poller()
    try:
        report = await poller.poll_once()
    finally:
        await poller.close()
    assert (report.stored, report.quarantined) == (2, 1)
    inbox = await harness.flags("INBOX")
    assert list(inbox) == [3] and QUARANTINE_KEYWORD in inbox[3]
    processed = await harness.flags("Diproses")
    assert len(processed) == 2 and all("\\Seen" in f for f in processed.values())


async def test_idle_push_is_picked_up_quickly(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot, poll_interval=600.0)
    poller = harness.poller()
    task = asyncio.create_task(poller.run())
    try:
        await harness.append(mail(1))
        await harness.sink.wait_for(1)
        await asyncio.sleep(0.3)  # the poller is now idling
        started = time.monotonic()
        await harness.append(mail(2))
        await harness.sink.wait_for(2, within=5)
        assert time.monotonic() - started < 3.0
    finally:
        await stop_task(task)


async def test_polling_without_idle(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot, poll_interval=0.2, use_idle=False)
    task = asyncio.create_task(harness.poller().run())
    try:
        await harness.append(mail(1))
        await harness.sink.wait_for(1)
        await harness.append(mail(2))
        await harness.sink.wait_for(2, within=3)
    finally:
        await stop_task(task)


async def test_poller_recovers_when_the_server_restarts(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot, poll_interval=600.0)
    task = asyncio.create_task(harness.poller().run())
    try:
        await harness.append(mail(1))
        await harness.sink.wait_for(1)
        await asyncio.to_thread(dovecot.stop)
        await wait_until(lambda: bool(harness.health.reports) and not harness.health.reports[-1].ok)
        await asyncio.sleep(0.5)  # a few reconnect attempts fail meanwhile
        await asyncio.to_thread(dovecot.start)
        await harness.append(mail(2))
        await harness.sink.wait_for(2, within=10)
        await wait_until(lambda: harness.health.reports[-1].ok)
    finally:
        await stop_task(task)
    assert harness.health.reports[-1].counts["errors"] >= 1
    # Stopping the server between "stored" and "\\Seen" repeats a delivery; dedupe absorbs it.
    assert len(harness.sink.inquiries) == 2


async def test_server_down_at_start_is_reported_not_raised(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot)
    dovecot.stop()
    task = asyncio.create_task(harness.poller().run())
    try:
        await wait_until(lambda: bool(harness.health.reports), within=5)
        report = harness.health.reports[0]
        assert not report.ok and report.detail
        assert "Connection" in report.detail or "refused" in report.detail.lower()
    finally:
        await stop_task(task)


async def test_wrong_password_is_reported(dovecot: DovecotServer) -> None:
    harness = Harness(dovecot)
    poller = harness.poller(password="salah")
    with pytest.raises(Exception, match="LOGIN failed"):
        await poller.poll_once()
    await poller.close()


def test_bad_settings_fail_fast() -> None:
    sink, quarantine, health, cursor = (
        MemorySink(),
        MemoryQuarantine(),
        MemoryHealth(),
        MemoryCursor(),
    )
    common: dict[str, Any] = {
        "name": "x",
        "host": "127.0.0.1",
        "username": "u",
        "password": "p",
        "sink": sink,
        "quarantine": quarantine,
        "health": health,
        "cursor": cursor,
    }
    with pytest.raises(ValueError, match="security"):
        ImapPoller(port=143, security="ssl", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        ImapPoller(port=0, **common)
