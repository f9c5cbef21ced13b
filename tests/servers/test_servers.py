"""The real test servers themselves work: each starts, serves, stops, restarts."""

from __future__ import annotations

import asyncio
import email.policy
import threading
import time
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aioimaplib
import aiosmtplib
import psycopg
import pytest
import sqlalchemy as sa

from .browser import chromium, has_failed, save_screenshot, screenshot_on_failure
from .dovecot import DovecotServer, close_imap_client
from .postgres import PostgresCluster
from .smtp import SmtpServer

USER = "konsultasi@ptsp.test"
PASSWORD = "rahasia-uji"


def _mail(subject: str, to: str = "warga@contoh.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "PTSP <konsultasi@ptsp.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Syarat NIB: KTP dan NPWP.\n")
    return msg


# -- PostgreSQL -------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.mark.postgres
def test_postgres_database_per_test(pg: PostgresCluster) -> None:
    url = pg.create_database("servers_check")
    assert url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/servers_check"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id serial PRIMARY KEY, v text)"))
            conn.execute(sa.text("INSERT INTO t (v) VALUES ('izin'), ('nib')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        engine.dispose()
    # A second database is empty: nothing leaks between tests.
    other = pg.create_database()
    with psycopg.connect(other.replace("postgresql+psycopg", "postgresql")) as conn:
        found = conn.execute("SELECT to_regclass('t')").fetchone()
        assert found == (None,)
    pg.drop_database("servers_check")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.conninfo("servers_check")).close()


@pytest.mark.postgres
def test_postgres_down_and_back(pg: PostgresCluster) -> None:
    url = pg.create_database()
    pg.stop(keep_data=True)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg.conninfo(), connect_timeout=2).close()
    pg.start()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


# -- Dovecot ----------------------------------------------------------------------
@pytest.fixture
def imap() -> Iterator[DovecotServer]:
    with DovecotServer({USER: PASSWORD, "other@ptsp.test": "x"}) as server:
        yield server


@pytest.fixture
async def client(imap: DovecotServer) -> AsyncIterator[aioimaplib.IMAP4]:
    c = aioimaplib.IMAP4(host=imap.host, port=imap.port, timeout=10)
    await c.wait_hello_from_server()
    assert (await c.login(USER, PASSWORD)).result == "OK"
    yield c
    await close_imap_client(c)


async def test_imap_append_search_fetch_store(
    imap: DovecotServer, client: aioimaplib.IMAP4
) -> None:
    raw = _mail("Cara urus NIB?").as_bytes(policy=email.policy.SMTP)
    assert (await client.append(raw, mailbox="INBOX")).result == "OK"
    imap.deliver(USER, _mail("Berapa lama PBG?").as_bytes())
    assert (await client.select("INBOX")).result == "OK"

    search = await client.uid_search("UNSEEN")
    assert search.lines[0].split() == [b"1", b"2"]

    fetched = await client.uid("fetch", "1:*", "(UID FLAGS BODY.PEEK[])")
    bodies = [bytes(line) for line in fetched.lines if isinstance(line, bytearray)]
    assert bodies[0] == raw
    assert b"Subject: Berapa lama PBG?" in bodies[1]

    await client.uid("store", "1", "+FLAGS.SILENT", r"(\Seen)")
    assert (await client.uid_search("UNSEEN")).lines[0] == b"2"
    assert len(imap.message_files(USER)) == 2


async def test_imap_idle_push_and_wrong_password(
    imap: DovecotServer, client: aioimaplib.IMAP4
) -> None:
    await client.select("INBOX")
    idle = await client.idle_start(timeout=10)
    imap.deliver(USER, _mail("Jam buka MPP?").as_bytes())
    push = await asyncio.wait_for(client.wait_server_push(), 5)
    client.idle_done()
    await asyncio.wait_for(idle, 5)
    assert b"1 EXISTS" in push

    other = aioimaplib.IMAP4(host=imap.host, port=imap.port, timeout=10)
    await other.wait_hello_from_server()
    started = time.monotonic()
    assert (await other.login(USER, "salah")).result == "NO"
    assert (await other.login(USER, "salah")).result == "NO"
    # No growing penalty for repeated failures: later tests stay fast.
    assert time.monotonic() - started < 3
    await close_imap_client(other)


async def test_imap_server_stopped_and_started_keeps_mail(imap: DovecotServer) -> None:
    c = aioimaplib.IMAP4(host=imap.host, port=imap.port, timeout=10)
    await c.wait_hello_from_server()
    await c.login(USER, PASSWORD)
    await c.append(_mail("sebelum").as_bytes(), mailbox="INBOX")
    await c.select("INBOX")

    imap.stop()
    with pytest.raises(OSError):
        await asyncio.open_connection(imap.host, imap.port)
    # aioimaplib does not fail pending commands when the server goes away (they
    # time out); the closed transport is what shows the connection is gone.
    for _ in range(100):
        if c.protocol.transport is None or c.protocol.transport.is_closing():
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the client did not see the server go away")

    imap.start()
    c = aioimaplib.IMAP4(host=imap.host, port=imap.port, timeout=10)
    await c.wait_hello_from_server()
    await c.login(USER, PASSWORD)
    await c.select("INBOX")
    assert (await c.uid_search("ALL")).lines[0] == b"1"
    await close_imap_client(c)


# -- SMTP -------------------------------------------------------------------------
@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


async def test_smtp_records_temporary_and_permanent_failures(smtp: SmtpServer) -> None:
    await aiosmtplib.send(_mail("Balasan 1"), hostname=smtp.host, port=smtp.port)

    smtp.fail_next(1)
    with pytest.raises(aiosmtplib.SMTPDataError) as temporary:
        await aiosmtplib.send(_mail("Balasan 2"), hostname=smtp.host, port=smtp.port)
    assert temporary.value.code == 451

    smtp.reject_recipient("hilang@contoh.test")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as permanent:
        await aiosmtplib.send(
            _mail("Balasan 3", to="hilang@contoh.test"), hostname=smtp.host, port=smtp.port
        )
    assert permanent.value.recipients[0].code == 550

    [received] = await smtp.wait_for_async(1)
    assert received.rcpt_tos == ("warga@contoh.test",)
    assert received["Subject"] == "Balasan 1"
    assert received.message.get_content() == "Syarat NIB: KTP dan NPWP.\n"
    assert smtp.transactions == 3
    assert [code for _, code, _ in smtp.refused] == [451, 550]


async def test_smtp_down_and_back_on_the_same_port(smtp: SmtpServer) -> None:
    port = smtp.port
    smtp.stop()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await aiosmtplib.send(_mail("x"), hostname=smtp.host, port=port, timeout=5)
    smtp.start()
    assert smtp.port == port
    await aiosmtplib.send(_mail("y"), hostname=smtp.host, port=port)
    assert [m["Subject"] for m in smtp.messages] == ["y"]


async def test_smtp_auth_and_delivery_into_imap(imap: DovecotServer) -> None:
    with SmtpServer(auth=("ptsp-bot", "kunci")) as smtp:
        smtp.deliver_to(imap, {"konsultasi@ptsp.test": USER})
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await aiosmtplib.send(
                _mail("x"),
                hostname=smtp.host,
                port=smtp.port,
                username="ptsp-bot",
                password="salah",
            )
        await aiosmtplib.send(
            _mail("Pengaduan", to=USER),
            hostname=smtp.host,
            port=smtp.port,
            username="ptsp-bot",
            password="kunci",
        )
        [received] = await smtp.wait_for_async(1)
        assert received.login == "ptsp-bot"
    [path] = imap.message_files(USER)
    assert b"Subject: Pengaduan" in path.read_bytes()


# -- Chromium ---------------------------------------------------------------------
@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>Tanya PTSP</title><h1>Halo, Warga</h1>", encoding="utf-8"
    )

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.mark.browser
def test_chromium_opens_a_local_page(site: str, request: pytest.FixtureRequest) -> None:
    with chromium() as browser:
        page = browser.new_page()
        with screenshot_on_failure(page, request.node.nodeid):
            page.goto(site)
            assert page.title() == "Tanya PTSP"
            assert page.inner_text("h1") == "Halo, Warga"
        shot = save_screenshot(page, "servers-chromium-smoke")
        assert shot is not None and shot.stat().st_size > 0
        shot.unlink()
        shot.with_suffix(".html").unlink()
    assert not has_failed(request)
