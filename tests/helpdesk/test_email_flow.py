"""Email through the whole help desk, against a real Dovecot and a real SMTP server.

A resident's mail -> the IMAP poller -> intake -> a ticket; a consultant's reply
-> the outbox -> SMTP with our threading headers -> the resident's answer lands
on the same ticket. Then what goes wrong in real life: the intake process killed
with SIGKILL half way through a full mailbox, the IMAP server restarting, the
SMTP server down, a bounce of one of our replies, auto-replies, and every
real-world-shaped fixture in tests/data/email/.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import itertools
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, func, select

from channels.email.imap import QUARANTINE_KEYWORD, ImapPoller
from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config, EmailMailboxConfig
from helpdesk.knowledge import faq_source, load_starter_if_empty
from helpdesk.models import (
    AuthorKind,
    ChannelState,
    Direction,
    Event,
    Message,
    OutboxItem,
    OutboxStatus,
    QuarantineItem,
    Ticket,
)
from helpdesk.outbox import queue_reply
from helpdesk.runners.leader import Exclusive
from helpdesk.runners.wiring import wire_channels
from helpdesk.store import Store
from tests.channels.email.email_fakes import flags_by_uid, imap_client, stop_task
from tests.servers.dovecot import DOVECOT_BIN, DovecotServer
from tests.servers.ports import free_port
from tests.servers.smtp import SmtpServer

pytestmark = [
    pytest.mark.skipif(shutil.which(DOVECOT_BIN) is None,
                       reason="Dovecot (dovecot-imapd) is not installed"),
    # Every wait below is bounded; this is the backstop for one that is not.
    pytest.mark.timeout(120),
]

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
PASSWORD = "rahasia-uji"
OUR_ADDRESS = "konsultasi@ptsp.test"
# One mailbox per test: a module-wide Dovecot with fresh, empty mailboxes.
USERS = [f"kotak{n}@ptsp.test" for n in range(12)]
_next_user = itertools.count()


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    with DovecotServer(dict.fromkeys(USERS, PASSWORD)) as server:
        yield server


@pytest.fixture
def user(dovecot: DovecotServer) -> str:
    return USERS[next(_next_user)]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


def mail(number: int, *, sender: str | None = None, subject: str | None = None,
         text: str | None = None, headers: str = "") -> bytes:
    sender = sender or f"warga{number}@contoh.test"
    subject = subject if subject is not None else f"Tanya izin usaha {number}"
    text = text or f"Selamat siang, pertanyaan nomor {number}: bagaimana cara urus NIB?"
    return (
        f"From: Warga {number} <{sender}>\r\nTo: {OUR_ADDRESS}\r\nSubject: {subject}\r\n"
        f"Message-ID: <warga.{number}@contoh.test>\r\n"
        f"Date: Mon, 3 Mar 2025 09:00:00 +0700\r\n{headers}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{text}\r\n"
    ).encode()


def email_config(config: Config, dovecot: DovecotServer, user: str, smtp: SmtpServer,
                 **outbox: Any) -> Config:
    mailbox = EmailMailboxConfig(
        name="konsultasi", host=dovecot.host, port=dovecot.port, username=user,
        address=OUR_ADDRESS, security="none", password=PASSWORD, poll_interval_seconds=0.2)
    channels = replace(config.channels, email=(mailbox,), smtp=replace(
        config.channels.smtp, enabled=True, host=smtp.host, port=smtp.port, security="none",
        from_address=OUR_ADDRESS, timeout_seconds=5.0))
    return replace(config, channels=channels, outbox=replace(config.outbox, **outbox))


def email_services(config: Config, url: str, dovecot: DovecotServer, user: str,
                   smtp: SmtpServer, **outbox: Any) -> Services:
    services = build_services(email_config(config, dovecot, user, smtp, **outbox),
                              store=Store(url))
    wire_channels(services)
    return services


def runner_of(services: Services) -> Exclusive:
    [runner] = services.runners
    assert isinstance(runner, Exclusive)
    return runner


def poller_of(services: Services) -> ImapPoller:
    poller = runner_of(services).adapter
    assert isinstance(poller, ImapPoller)
    return poller


async def append(dovecot: DovecotServer, user: str, *messages: bytes) -> None:
    async with imap_client(dovecot.host, dovecot.port, user, PASSWORD) as client:
        for raw in messages:
            response = await client.append(raw, mailbox="INBOX")
            assert response.result == "OK", response


async def flags(dovecot: DovecotServer, user: str) -> dict[int, set[str]]:
    async with imap_client(dovecot.host, dovecot.port, user, PASSWORD) as client:
        return await flags_by_uid(client)


async def all_seen(dovecot: DovecotServer, user: str, n: int) -> bool:
    """The mailbox holds ``n`` messages and every one is flagged \\Seen.

    The poller flags mail only after storing it: a test that stops the poller
    as soon as the database shows the last one may stop it before the flag.
    """
    found = await flags(dovecot, user)
    return len(found) == n and all("\\Seen" in f for f in found.values())


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 15.0,
                     what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.05)


def count(services: Services, model: Any, *where: Any) -> int:
    with services.store.read() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def inbound(services: Services) -> list[Message]:
    with services.store.read() as session:
        return list(session.exec(select(Message).where(Message.direction == Direction.IN)
                                 .order_by(col(Message.id))))


def outbox(services: Services) -> list[OutboxItem]:
    with services.store.read() as session:
        return list(session.exec(select(OutboxItem).order_by(col(OutboxItem.id))))


def reply_to(services: Services, ticket_id: int, text: str) -> Message:
    with services.store.write() as session:
        ticket = session.get_one(Ticket, ticket_id)
        message = queue_reply(session, ticket, text, now=services.clock(),
                              mail_domain=services.mail_domain)
        session.flush()
        session.expunge(message)
        return message


@contextlib.asynccontextmanager
async def running(services: Services) -> Any:
    """The mailbox runner (under its lock) and the outbox dispatcher, as serve runs them."""
    runner = asyncio.create_task(runner_of(services).run(), name="mailbox runner")
    dispatcher = asyncio.create_task(services.dispatcher.run(), name="outbox dispatcher")
    try:
        yield [runner, dispatcher]
    finally:
        try:
            # Both must end on the first cancel, even one that lands as the
            # dispatcher's wakeup fires (the sink sets it for every stored mail).
            await stop_task(runner)
            await stop_task(dispatcher)
        finally:
            await poller_of(services).close()
            services.close()


# ---------------------------------------------------------------- the round trip


async def test_mail_reply_and_answer_thread_on_one_ticket(
        config: Config, db_url: str, dovecot: DovecotServer, user: str,
        smtp: SmtpServer) -> None:
    services = email_services(config, db_url, dovecot, user, smtp)
    poller = poller_of(services)
    try:
        await append(dovecot, user, mail(1, subject="Syarat PBG rumah tinggal"))
        report = await poller.poll_once()
        assert (report.stored, report.quarantined) == (1, 0)
        with services.store.read() as session:
            ticket = session.exec(select(Ticket)).one()
        assert ticket.channel == "email" and ticket.subject == "Syarat PBG rumah tinggal"
        assert ticket.id is not None
        number = ticket.number

        ours = reply_to(services, ticket.id, "Syarat PBG: KTP, bukti tanah, gambar rencana.")
        assert await services.dispatcher.dispatch_due() == 1
        [sent] = await smtp.wait_for_async(1)
        headers = sent.message
        assert sent.rcpt_tos == ("warga1@contoh.test",)
        assert headers["Message-ID"] == f"<{ours.external_id}>"
        assert ours.external_id.endswith("@ptsp.test")
        assert headers["In-Reply-To"] == "<warga.1@contoh.test>"
        assert "<warga.1@contoh.test>" in str(headers["References"]).split()
        assert f"[{number}]" in str(headers["Subject"])
        assert str(headers["Subject"]).startswith("Re: ")
        assert "Auto-Submitted" not in headers  # a person wrote this one
        [item] = outbox(services)
        assert item.status == OutboxStatus.SENT

        # The resident answers from a client that changed the subject and kept
        # only In-Reply-To: it still lands on the same ticket.
        answer = mail(2, sender="warga1@contoh.test", subject="pertanyaan lanjutan",
                      text="Terima kasih. Apakah IMB lama masih berlaku?",
                      headers=f"In-Reply-To: <{ours.external_id}>\r\n")
        await append(dovecot, user, answer)
        assert (await poller.poll_once()).stored == 1
        messages = inbound(services)
        assert [m.ticket_id for m in messages] == [ticket.id, ticket.id]
        assert count(services, Ticket) == 1
        assert all("\\Seen" in f for f in (await flags(dovecot, user)).values())
    finally:
        await poller.close()
        services.close()


# ---------------------------------------------------------------- crash safety


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("tanya-ptsp")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "helpdesk.cli"]


def _stored(db: Path) -> tuple[int, int]:
    """(inbound messages, distinct external ids), read the way an outsider would."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True,
                                                timeout=5)) as conn:
            row = conn.execute("SELECT count(*), count(DISTINCT external_id) FROM message "
                               "WHERE direction = 'in'").fetchone()
            return int(row[0]), int(row[1])
    except sqlite3.Error:
        return 0, 0  # not created or not migrated yet


def _serve(tmp_path: Path, config_file: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TANYA_CONFIG", "TANYA_DATABASE_URL")}
    env.update(TANYA_IMAP_PASSWORD=PASSWORD, TANYA_ADMIN_PASSWORD="admin-uji-0123456789",
               TANYA_SECRET_KEY="a-test-secret-key-that-is-long-enough-0123456789")
    with log.open("ab") as out:
        return subprocess.Popen(
            [*_serve_command(), "--config", str(config_file), "serve", "--port",
             str(free_port())],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True)


def _kill(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _seen_and_total(dovecot: DovecotServer, user: str) -> tuple[int, int]:
    imap = imaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    try:
        imap.login(user, PASSWORD)
        imap.select("INBOX", readonly=True)
        _, everything = imap.uid("SEARCH", "ALL")
        _, seen = imap.uid("SEARCH", "SEEN")
        imap.logout()
    finally:
        with contextlib.suppress(OSError):
            imap.shutdown()
    return len(seen[0].split()), len(everything[0].split())


async def test_sigkill_part_way_then_restart_stores_each_of_200_once(
        tmp_path: Path, dovecot: DovecotServer, user: str) -> None:
    total, kill_at = 200, 60
    for n in range(1, total + 1):
        dovecot.deliver(user, mail(n))  # straight into the Maildir: quicker than APPEND
    db = tmp_path / "var" / "tanya.db"
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        '[app]\ndata_dir = "var"\n\n[server]\nhost = "127.0.0.1"\n\n'
        '[[channels.email]]\nname = "konsultasi"\n'
        f'host = "{dovecot.host}"\nport = {dovecot.port}\nsecurity = "none"\n'
        f'username = "{user}"\naddress = "{OUR_ADDRESS}"\n'
        'password_env = "TANYA_IMAP_PASSWORD"\npoll_interval_seconds = 0.5\n',
        encoding="utf-8")
    log = tmp_path / "serve.log"
    first = _serve(tmp_path, config_file, log)
    try:
        deadline = time.monotonic() + 40
        # Past the first batch (acknowledged, cursor saved), inside a later one.
        while _stored(db)[0] < kill_at:
            assert first.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            await asyncio.sleep(0.005)
        _kill(first)  # SIGKILL: no cleanup, mid-batch
    finally:
        _kill(first)
    at_kill, _ = _stored(db)
    assert kill_at <= at_kill < total, f"the kill should land part way, {at_kill} were stored"
    seen_at_kill, _ = _seen_and_total(dovecot, user)
    assert seen_at_kill <= at_kill  # never acknowledged before stored

    second = _serve(tmp_path, config_file, log)
    try:
        deadline = time.monotonic() + 40
        while _stored(db)[0] < total or _seen_and_total(dovecot, user)[0] < total:
            assert second.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.6)  # one more poll round: nothing more may come in
        _kill(second, signal.SIGTERM)
        # uvicorn shuts down cleanly, then re-raises the signal it caught.
        assert second.returncode in (0, -signal.SIGTERM), log.read_text(errors="replace")
        assert "Application shutdown complete" in log.read_text(errors="replace")
    finally:
        _kill(second)
    assert _stored(db) == (total, total)
    assert _seen_and_total(dovecot, user) == (total, total)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        events = conn.execute("SELECT count(*) FROM event WHERE kind = 'message.received'")
        assert events.fetchone()[0] == total
        ids = {r[0] for r in conn.execute("SELECT external_id FROM message "
                                          "WHERE direction = 'in'")}
    assert ids == {f"warga.{n}@contoh.test" for n in range(1, total + 1)}


# ---------------------------------------------------------------- IMAP restart


async def test_the_poller_recovers_when_the_imap_server_restarts(
        config: Config, sqlite_url: str, dovecot: DovecotServer, user: str,
        smtp: SmtpServer) -> None:
    services = email_services(config, sqlite_url, dovecot, user, smtp)
    key = "email:konsultasi"

    async def state() -> ChannelState | None:
        with services.store.read() as session:
            return session.get(ChannelState, key)

    async def stored(n: int) -> bool:
        return count(services, Message, Message.direction == Direction.IN) >= n

    async def failing() -> bool:
        row = await state()
        return row is not None and not row.ok

    async def healthy() -> bool:
        row = await state()
        return row is not None and row.ok

    async with running(services) as tasks:
        await append(dovecot, user, mail(1))
        await eventually(lambda: stored(1), what="the first mail")
        dovecot.stop(graceful=False)  # a crash, as the poller sees it
        try:
            await eventually(failing, what="the outage reported as channel health")
        finally:
            dovecot.start()
        row = await state()
        assert row is not None and row.last_error and row.last_error_at is not None
        await append(dovecot, user, mail(2), mail(3))
        await eventually(lambda: stored(3), within=20, what="mail after the restart")
        await eventually(lambda: all_seen(dovecot, user, 3), what="every mail flagged \\Seen")
        await eventually(healthy, what="health back to ok")
        assert not any(task.done() for task in tasks)
    assert [m.external_id for m in inbound(services)] == [
        "warga.1@contoh.test", "warga.2@contoh.test", "warga.3@contoh.test"]
    assert all("\\Seen" in f for f in (await flags(dovecot, user)).values())


# ---------------------------------------------------------------- SMTP down


async def test_replies_wait_while_smtp_is_down_and_go_out_once(
        config: Config, sqlite_url: str, dovecot: DovecotServer, user: str,
        smtp: SmtpServer) -> None:
    services = email_services(config, sqlite_url, dovecot, user, smtp,
                              backoff_base_seconds=0.05, backoff_max_seconds=0.2,
                              max_attempts=100, poll_interval_seconds=0.05)
    poller = poller_of(services)
    try:
        await append(dovecot, user, mail(1), mail(2), mail(3))
        assert (await poller.poll_once()).stored == 3
        with services.store.read() as session:
            tickets = list(session.exec(select(Ticket.id).order_by(col(Ticket.id))))
        smtp.stop()
        ours = [reply_to(services, ticket_id, f"Jawaban untuk tiket {ticket_id}")
                for ticket_id in tickets if ticket_id is not None]
        assert await services.dispatcher.dispatch_due() == 3
        items = outbox(services)
        assert {i.status for i in items} == {OutboxStatus.PENDING}
        for item in items:
            assert item.last_error and "cannot reach SMTP server" in item.last_error
            assert item.attempts == 1
    finally:
        await poller.close()
    smtp.start()
    dispatcher = asyncio.create_task(services.dispatcher.run(), name="outbox dispatcher")
    try:
        received = await smtp.wait_for_async(3, timeout=10)
        await asyncio.sleep(0.5)  # more rounds of the dispatcher: nothing is sent again
    finally:
        try:
            await stop_task(dispatcher)
        finally:
            services.close()
    assert len(smtp.messages) == 3
    assert sorted(str(r.message["Message-ID"]) for r in received) == sorted(
        f"<{m.external_id}>" for m in ours)
    assert {i.status for i in outbox(services)} == {OutboxStatus.SENT}
    assert all(i.last_error is None for i in outbox(services))


# ---------------------------------------------------------------- bounces, robots


def dsn(original_id: str, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.contoh.test>\r\n"
        f"To: {OUR_ADDRESS}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce.1@mx.contoh.test>\r\nDate: Mon, 3 Mar 2025 10:00:00 +0700\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        "--r\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"Your message to {recipient} could not be delivered.\r\n"
        "--r\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.contoh.test\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: "
        "User unknown\r\n\r\n"
        "--r\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Tanya PTSP <{OUR_ADDRESS}>\r\nTo: {recipient}\r\n"
        f"Subject: Re: pertanyaan\r\nMessage-ID: <{original_id}>\r\n\r\n--r--\r\n"
    ).encode()


async def test_a_bounce_fails_its_outbox_item_with_the_reason(
        config: Config, sqlite_url: str, dovecot: DovecotServer, user: str,
        smtp: SmtpServer) -> None:
    services = email_services(config, sqlite_url, dovecot, user, smtp)
    poller = poller_of(services)
    try:
        await append(dovecot, user, mail(1), mail(2))
        await poller.poll_once()
        first, second = (m.ticket_id for m in inbound(services))
        gone = reply_to(services, first, "Jawaban yang tidak sampai.")
        kept = reply_to(services, second, "Jawaban yang sampai.")
        assert await services.dispatcher.dispatch_due() == 2
        await smtp.wait_for_async(2)
        assert {i.status for i in outbox(services)} == {OutboxStatus.SENT}

        await append(dovecot, user, dsn(gone.external_id, "warga1@contoh.test"))
        assert (await poller.poll_once()).stored == 1
        status = {i.message_id: i for i in outbox(services)}
        assert status[gone.id].status == OutboxStatus.FAILED
        reason = status[gone.id].last_error or ""
        assert "bounced" in reason and "5.1.1" in reason and "User unknown" in reason
        assert status[kept.id].status == OutboxStatus.SENT
        with services.store.read() as session:
            failed = session.exec(select(Event).where(Event.kind == "message.failed")).one()
            bounce = session.exec(select(Message).where(
                Message.external_id == "bounce.1@mx.contoh.test")).one()
        assert failed.ticket_id == first and failed.data["bounced"] is True
        assert bounce.meta.get("automated") is True
        # The bounce is stored, nobody answers it.
        assert len(outbox(services)) == 2
    finally:
        await poller.close()
        services.close()


async def test_an_auto_reply_is_stored_but_never_answered_automatically(
        config: Config, sqlite_url: str, dovecot: DovecotServer, user: str,
        smtp: SmtpServer) -> None:
    services = email_services(config, sqlite_url, dovecot, user, smtp)
    loaded = load_starter_if_empty(services.knowledge,
                                   faq_source(config.knowledge_base, Path(config.base_dir)))
    assert loaded is not None and loaded.added > 0
    poller = poller_of(services)
    question = "apa itu PBG?"  # the starter FAQ answers this with full confidence
    try:
        await append(
            dovecot, user,
            mail(1, text=question),
            mail(2, text=question, subject="Automatic reply: Tanya PBG",
                 headers="Auto-Submitted: auto-replied\r\n"),
            mail(3, text=question, subject="Out of office",
                 headers="X-Auto-Response-Suppress: All\r\nPrecedence: bulk\r\n"))
        assert (await poller.poll_once()).stored == 3
        person, robot, bulk = inbound(services)
        assert person.meta.get("automated") is None
        assert robot.meta.get("automated") is True and bulk.meta.get("automated") is True
        with services.store.read() as session:
            answers = list(session.exec(select(Message).where(
                Message.author_kind == AuthorKind.BOT, Message.direction == Direction.OUT)))
        assert [a.ticket_id for a in answers] == [person.ticket_id]
        assert await services.dispatcher.dispatch_due() == 1
        [sent] = await smtp.wait_for_async(1)
        assert sent.rcpt_tos == ("warga1@contoh.test",)
        assert sent.message["Auto-Submitted"] == "auto-replied"
    finally:
        await poller.close()
        services.close()


# ---------------------------------------------------------------- every fixture

EXPECTED_QUARANTINE = {
    "22-no-from.eml": "no usable sender",
    "30-no-usable-sender.eml": "no usable sender",
    "31-garbage.eml": "unparseable",
}
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


async def test_every_fixture_becomes_a_message_or_a_quarantine_item(
        config: Config, sqlite_url: str, dovecot: DovecotServer, user: str,
        smtp: SmtpServer) -> None:
    fixtures = sorted(DATA.glob("*.eml"))
    assert len(fixtures) >= 25
    config = replace(config, tickets=replace(config.tickets, attachment_max_bytes=40_000))
    services = email_services(config, sqlite_url, dovecot, user, smtp)

    def accounted() -> int:
        return count(services, Message, Message.direction == Direction.IN) + count(
            services, QuarantineItem)

    async def all_in(n: int) -> bool:
        return accounted() >= n

    async with running(services) as tasks:
        await append(dovecot, user, *(f.read_bytes() for f in fixtures))
        await eventually(lambda: all_in(len(fixtures)), what="every fixture")
        # The poller goes on with the next mail as if nothing happened.
        await append(dovecot, user, mail(99))
        await eventually(lambda: all_in(len(fixtures) + 1), what="mail after the fixtures")
        await eventually(lambda: all_seen(dovecot, user, len(fixtures) + 1),
                         what="every mail flagged \\Seen")
        assert not any(task.done() for task in tasks)
        assert accounted() == len(fixtures) + 1

    by_uid: dict[int, tuple[str, Any]] = {}
    for message in inbound(services):
        ref = str(message.meta["raw_ref"])
        by_uid[int(ref.rsplit(":", 1)[1])] = ("message", message)
    with services.store.read() as session:
        held = list(session.exec(select(QuarantineItem)))
        notices = list(session.exec(select(Event).where(Event.kind == "message.notice")))
    for item in held:
        assert item.source_ref is not None
        uid = int(item.source_ref.rsplit(":", 1)[1])
        assert uid not in by_uid
        by_uid[uid] = ("quarantine", item)
    assert sorted(by_uid) == list(range(1, len(fixtures) + 2))

    for uid, fixture in enumerate(fixtures, start=1):
        kind, row = by_uid[uid]
        if fixture.name in EXPECTED_QUARANTINE:
            assert kind == "quarantine", fixture.name
            assert EXPECTED_QUARANTINE[fixture.name] in row.reason, (fixture.name, row.reason)
            # Kept whole (as the server holds it: IMAP cannot carry NUL bytes).
            assert len(row.raw) >= len(fixture.read_bytes().strip()) > 0
            continue
        assert kind == "message", (fixture.name, getattr(row, "reason", None))
        html = row.html or ""
        assert "<script" not in html.lower(), fixture.name
        assert "javascript:" not in html.lower(), fixture.name
        assert not EVENT_HANDLER.search(html), fixture.name

    named = {f.name: by_uid[uid][1] for uid, f in enumerate(fixtures, start=1)}
    assert named["13-html-only-script.eml"].html  # sanitised, not dropped
    for robot in ("14-auto-reply-auto-submitted.eml", "15-auto-reply-x-autoreply.eml",
                  "16-precedence-bulk.eml", "17-mailing-list.eml", "18-dsn-bounce.eml",
                  "28-dsn-rfc822-headers.eml", "33-x-auto-response-suppress.eml"):
        assert named[robot].meta.get("automated") is True, robot
    oversized = named["26-oversized-attachment.eml"]
    assert any(n.data["message_id"] == oversized.id and "tidak disimpan" in n.data["text"]
               for n in notices)
    # Quarantined mail is flagged so no client or poller fetches it as new again.
    seen = await flags(dovecot, user)
    for uid, (kind, _) in by_uid.items():
        assert "\\Seen" in seen[uid]
        assert (QUARANTINE_KEYWORD in seen[uid]) == (kind == "quarantine")
