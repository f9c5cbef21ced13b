"""IMAP intake: new mail -> inquiries, acknowledged on the server only once stored.

The order of work is what keeps mail from being lost or doubled:

1. ``UID SEARCH UID n:*`` from the cursor (never UNSEEN alone: mail another
   client has read must still come in), then ``UID FETCH`` with ``BODY.PEEK[]``
   so fetching changes nothing on the server;
2. each message, in UID order, is parsed and handed to the sink, which returns
   only after the inquiry is committed;
3. only then is it flagged ``\\Seen`` (and moved to the processed folder);
4. only then is the cursor (UIDVALIDITY, last UID) saved.

A crash anywhere repeats at most step 2 for some messages, and the core's dedupe
on (channel, external_id) makes that harmless. Nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import aioimaplib

from channels.base import (
    Channel,
    ChannelError,
    CursorStore,
    HealthReport,
    HealthSink,
    InquirySink,
    InvalidInput,
    QuarantineSink,
)

from .imap_syntax import FetchedMessage, mailbox_arg, parse_fetch, uid_set, uidvalidity
from .parse import DEFAULT_MAX_ATTACHMENT_BYTES, parse_email

__all__ = ["QUARANTINE_KEYWORD", "ImapPoller", "MailboxUnavailable", "PassReport", "Security"]

log = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "none"]
T = TypeVar("T")

QUARANTINE_KEYWORD = "$TanyaQuarantined"
_EXISTS = re.compile(rb"\d+ EXISTS")


class MailboxUnavailable(ChannelError):
    """The IMAP server cannot be used right now (down, refused, timed out, said NO)."""


@dataclass
class PassReport:
    """What one pass over the mailbox did."""

    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    last_uid: int = 0
    # Set when the sink failed: the pass stopped there and the message stays unseen.
    failed: str | None = None
    uids: list[int] = field(default_factory=list)


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _settle(
    awaitable: Awaitable[T], lost: asyncio.Future[Any] | None, within: float | None, server: str
) -> T:
    """The result of ``awaitable``, run as a task; cancelling the caller cancels it.

    Raises :class:`MailboxUnavailable` when ``lost`` (the connection) ends first
    and ``TimeoutError`` after ``within`` seconds; either way the task is cancelled.
    (Not ``asyncio.timeout``: the library's own ``wait_for`` can swallow its cancel.)
    """
    task = asyncio.ensure_future(awaitable)
    waiting: set[asyncio.Future[Any]] = {task} if lost is None else {task, lost}
    try:
        await asyncio.wait(waiting, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task.done():
        return task.result()
    task.cancel()
    if lost is not None and lost.done():
        raise MailboxUnavailable(f"connection to {server} lost")
    raise TimeoutError(f"no answer within {within} s")


class ImapPoller:
    """Pulls one mailbox folder into the help desk until cancelled.

    Everything comes in through the constructor: server settings (the password
    already resolved by the caller), the core's sinks and cursor store, and the
    clock/sleep/random source so tests can drive time.
    """

    def __init__(
        self,
        *,
        name: str,
        host: str,
        port: int,
        username: str,
        password: str,
        sink: InquirySink,
        quarantine: QuarantineSink,
        health: HealthSink,
        cursor: CursorStore,
        security: Security = "tls",
        folder: str = "INBOX",
        poll_interval: float = 60.0,
        processed_folder: str | None = None,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        use_idle: bool = True,
        idle_renew: float = 25 * 60.0,
        timeout: float = 30.0,
        batch_size: int = 50,
        max_sink_attempts: int = 5,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if security not in ("tls", "starttls", "none"):
            raise ValueError(f"security must be 'tls', 'starttls' or 'none', not {security!r}")
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1-65535, not {port}")
        if poll_interval <= 0 or timeout <= 0 or batch_size < 1:
            raise ValueError("poll_interval and timeout must be > 0 and batch_size >= 1")
        if not username or not host:
            raise ValueError("host and username are required")
        self.name = name
        self.channel = Channel.EMAIL
        self._host, self._port, self._security = host, port, security
        self._username, self._password = username, password
        self._sink, self._quarantine, self._health, self._cursor = sink, quarantine, health, cursor
        self._folder, self._processed = folder, processed_folder
        self._poll_interval, self._idle_renew, self._timeout = poll_interval, idle_renew, timeout
        self._use_idle = use_idle
        self._batch_size, self._max_sink_attempts = batch_size, max_sink_attempts
        self._max_attachment_bytes = max_attachment_bytes
        self._backoff_initial, self._backoff_max = backoff_initial, backoff_max
        self._ssl_context = ssl_context
        self._clock, self._sleep = clock, sleep
        self._rng = rng or random.Random()
        self._client: aioimaplib.IMAP4 | None = None
        self._lost: asyncio.Future[Any] | None = None
        self._uidvalidity: int | None = None
        self._sink_failures: dict[int, int] = {}
        # Set when the server announced new mail since the last SEARCH began.
        self._announced = False
        self.counts: dict[str, int] = dict.fromkeys(
            ("fetched", "stored", "duplicates", "quarantined", "errors"), 0
        )

    # ------------------------------------------------------------ connection

    async def _call(self, awaitable: Awaitable[T], *, within: float | None = None) -> T:
        """Await an IMAP command, failing at once if the connection drops meanwhile.

        The command runs in a task of its own and is waited for with
        ``asyncio.wait``. aioimaplib wraps its commands in ``asyncio.wait_for``,
        which on Python 3.11 swallows a cancellation that arrives just as the
        command completes: awaited directly, that would let a cancelled poller
        carry on for ever. ``asyncio.wait`` never loses the cancellation.
        """
        result = await _settle(awaitable, self._lost, within, f"{self._host}:{self._port}")
        self._note_exists(result)
        return result

    def _note_exists(self, response: Any) -> None:
        """Remember that the server announced new mail in answer to some command.

        The announcement comes once, mixed into whatever command was running
        (often after a SEARCH that did not include the new message yet); IDLE
        will not repeat it, so the next pass must not wait for one.
        """
        lines = getattr(response, "lines", None)
        if isinstance(lines, list) and any(
            type(line) is bytes and _EXISTS.fullmatch(line) for line in lines
        ):
            self._announced = True

    @staticmethod
    def _check(response: Any, what: str) -> Any:
        if response.result != "OK":
            text = b" ".join(line for line in response.lines if isinstance(line, bytes))
            raise MailboxUnavailable(f"{what} failed: {text.decode(errors='replace')}")
        return response

    async def _connect(self) -> aioimaplib.IMAP4:
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[Any] = loop.create_future()

        def on_lost(exc: Exception | None) -> None:
            if not lost.done():
                lost.set_result(exc)

        if self._security == "tls":
            context = self._ssl_context or ssl.create_default_context()
            client = aioimaplib.IMAP4_SSL(
                self._host, self._port, timeout=self._timeout, ssl_context=context
            )
            client.protocol.conn_lost_cb = on_lost
        else:
            client = aioimaplib.IMAP4(
                self._host, self._port, timeout=self._timeout, conn_lost_cb=on_lost
            )
        self._client, self._lost = client, lost
        try:
            await self._call(client.wait_hello_from_server())
            if self._security == "starttls":
                await self._starttls(client)
            self._check(await self._call(client.login(self._username, self._password)), "LOGIN")
            if "IMAP4REV1" not in client.protocol.capabilities:
                await self._call(client.protocol.capability())
            if self._processed:
                # Fails harmlessly when the folder exists already.
                await self._call(client.create(mailbox_arg(self._processed)))
            selected = self._check(
                await self._call(client.select(mailbox_arg(self._folder))), "SELECT"
            )
        except BaseException:
            await self._disconnect()
            raise
        self._uidvalidity = uidvalidity(selected.lines)
        if self._uidvalidity is None:
            raise MailboxUnavailable(f"SELECT {self._folder} gave no UIDVALIDITY")
        return client

    async def _starttls(self, client: aioimaplib.IMAP4) -> None:
        protocol = client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise MailboxUnavailable(f"{self._host} does not offer STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        self._check(await self._call(protocol.execute(command)), "STARTTLS")
        context = self._ssl_context or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        protocol.transport = await loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self._host
        )
        await self._call(protocol.capability())  # RFC 3501: forget what was said in clear

    async def _disconnect(self) -> None:
        client, lost = self._client, self._lost
        self._client, self._lost = None, None
        if client is None:
            return
        transport = client.protocol.transport
        alive = lost is not None and not lost.done() and transport is not None
        try:
            with contextlib.suppress(Exception):
                if alive and client.protocol.state in ("AUTH", "SELECTED"):
                    await _settle(client.logout(), lost, min(self._timeout, 3.0), self._host)
        finally:
            # Also when stopped during LOGOUT: the socket must not leak.
            if transport is not None:
                transport.close()
            if not client._client_task.done():
                client._client_task.cancel()  # still connecting
            for task in (*client.tasks, *client.protocol.tasks):
                task.cancel()

    async def close(self) -> None:
        """Log out and close the connection (safe to call more than once)."""
        await self._disconnect()

    # ------------------------------------------------------------ one pass

    async def poll_once(self) -> PassReport:
        """Import everything new once; raise :class:`MailboxUnavailable` on server trouble."""
        try:
            client = self._client
            if client is None:
                return await self._pass(await self._connect())
            return await self._pass(client, resync=True)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            await self._disconnect()
            raise MailboxUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except MailboxUnavailable:
            await self._disconnect()
            raise

    async def _pass(self, client: aioimaplib.IMAP4, *, resync: bool = False) -> PassReport:
        if resync:
            # A server reports mail that arrived since the last command only in
            # answer to one: without this a reused connection's SEARCH misses it
            # until the following pass.
            self._check(await self._call(client.noop()), "NOOP")
        state = await self._cursor.load(self.name)
        last_uid = int(state.get("last_uid", 0))
        if state.get("uidvalidity") != self._uidvalidity:
            if state:
                log.warning(
                    "%s: UIDVALIDITY changed (%s -> %s); re-reading the folder, dedupe keeps it "
                    "single",
                    self.name,
                    state.get("uidvalidity"),
                    self._uidvalidity,
                )
            last_uid = 0
        report = PassReport(last_uid=last_uid)
        self._announced = False
        search = await self._call(
            client.uid_search(
                "UID", f"{last_uid + 1}:*", "NOT", "KEYWORD", QUARANTINE_KEYWORD, charset=None
            )
        )
        self._check(search, "UID SEARCH")
        # "n:*" always matches the last message, even when its UID is below n.
        uids = sorted(
            uid
            for line in search.lines[:1]
            if isinstance(line, bytes)
            for uid in map(int, line.split())
            if uid > last_uid
        )
        for start in range(0, len(uids), self._batch_size):
            batch = uids[start : start + self._batch_size]
            if not await self._batch(client, batch, report):
                break
        await self._report(ok=report.failed is None, detail=report.failed, report=report)
        return report

    async def _batch(self, client: aioimaplib.IMAP4, uids: list[int], report: PassReport) -> bool:
        response = await self._call(client.uid("fetch", uid_set(uids), "(UID FLAGS BODY.PEEK[])"))
        self._check(response, "UID FETCH")
        messages = sorted(parse_fetch(response.lines), key=lambda m: m.uid)
        stored: list[int] = []
        quarantined: list[int] = []
        finished = True
        for message in messages:
            report.fetched += 1
            self.counts["fetched"] += 1
            outcome = await self._deliver(message, report)
            if outcome == "stored":
                stored.append(message.uid)
            elif outcome == "quarantined":
                quarantined.append(message.uid)
            else:
                finished = False
                break
        await self._acknowledge(client, stored, quarantined)
        done = stored + quarantined
        if done:
            # Only UIDs below the first failure count as done: the cursor never skips one.
            report.last_uid = max(done)
            report.uids.extend(sorted(done))
            await self._cursor.save(
                self.name, {"uidvalidity": self._uidvalidity, "last_uid": report.last_uid}
            )
        return finished

    async def _deliver(self, message: FetchedMessage, report: PassReport) -> str:
        ref = f"{self.name}:{self._folder}:{self._uidvalidity}:{message.uid}"
        try:
            inquiry = parse_email(
                message.raw,
                now=self._clock(),
                max_attachment_bytes=self._max_attachment_bytes,
                raw_ref=ref,
            )
        except InvalidInput as exc:
            return await self._to_quarantine(message, ref, exc.reason, report)
        except Exception as exc:  # a parser bug must not block the mailbox either
            log.exception("%s: parsing UID %s failed", self.name, message.uid)
            reason = f"could not parse: {type(exc).__name__}: {exc}"
            return await self._to_quarantine(message, ref, reason, report)
        try:
            outcome = await self._sink(inquiry)
        except InvalidInput as exc:
            return await self._to_quarantine(message, ref, exc.reason, report)
        except Exception as exc:
            attempts = self._sink_failures.get(message.uid, 0) + 1
            self._sink_failures[message.uid] = attempts
            self.counts["errors"] += 1
            log.warning("%s: storing UID %s failed (%s): %s", self.name, message.uid, attempts, exc)
            if attempts >= self._max_sink_attempts:
                reason = f"not stored after {attempts} attempts: {type(exc).__name__}: {exc}"
                return await self._to_quarantine(message, ref, reason, report)
            report.failed = f"storing UID {message.uid} failed: {type(exc).__name__}: {exc}"
            return "failed"
        self._sink_failures.pop(message.uid, None)
        if outcome.duplicate:
            report.duplicates += 1
            self.counts["duplicates"] += 1
        else:
            report.stored += 1
            self.counts["stored"] += 1
        return "stored"

    async def _to_quarantine(
        self, message: FetchedMessage, ref: str, reason: str, report: PassReport
    ) -> str:
        await self._quarantine(Channel.EMAIL.value, message.raw, reason, ref)
        self._sink_failures.pop(message.uid, None)
        report.quarantined += 1
        self.counts["quarantined"] += 1
        log.info("%s: UID %s quarantined: %s", self.name, message.uid, reason)
        return "quarantined"

    async def _acknowledge(
        self, client: aioimaplib.IMAP4, stored: list[int], quarantined: list[int]
    ) -> None:
        if stored:
            uids = uid_set(stored)
            seen = await self._call(client.uid("store", uids, "+FLAGS.SILENT", r"(\Seen)"))
            self._check(seen, "UID STORE \\Seen")
            if self._processed:
                target = mailbox_arg(self._processed)
                if client.has_capability("MOVE"):
                    self._check(await self._call(client.uid("move", uids, target)), "UID MOVE")
                else:
                    # Without MOVE we copy and leave the original flagged: never delete.
                    self._check(await self._call(client.uid("copy", uids, target)), "UID COPY")
        if quarantined:
            uids = uid_set(quarantined)
            flags = f"(\\Seen {QUARANTINE_KEYWORD})"
            response = await self._call(client.uid("store", uids, "+FLAGS.SILENT", flags))
            if response.result != "OK":
                # A server without keywords: \Seen and the cursor still keep it out.
                response = await self._call(client.uid("store", uids, "+FLAGS.SILENT", r"(\Seen)"))
            self._check(response, "UID STORE quarantine flag")

    async def _report(self, *, ok: bool, detail: str | None, report: PassReport | None) -> None:
        if detail is None and report is not None:
            detail = (
                f"{self._folder}: up to UID {report.last_uid} (UIDVALIDITY {self._uidvalidity})"
            )
        try:
            await self._health(
                HealthReport(channel=self.name, ok=ok, detail=detail, counts=dict(self.counts))
            )
        except Exception:  # health is advisory; it must never stop intake
            log.exception("%s: reporting health failed", self.name)

    # ------------------------------------------------------------ the loop

    def _backoff(self, attempt: int) -> float:
        delay = min(self._backoff_max, self._backoff_initial * (2 ** min(attempt, 30)))
        return float(delay * (0.5 + self._rng.random() / 2))  # jitter: many pollers, one server

    async def run(self) -> None:
        """Poll (or IDLE) until cancelled; reconnect with backoff on any trouble."""
        failures = 0
        try:
            while True:
                try:
                    report = await self.poll_once()
                except MailboxUnavailable as exc:
                    self.counts["errors"] += 1
                    await self._report(ok=False, detail=str(exc), report=None)
                    await self._sleep(self._backoff(failures))
                    failures += 1
                    continue
                if report.failed:
                    await self._sleep(self._backoff(failures))
                    failures += 1
                    continue
                failures = 0
                try:
                    await self._wait_for_mail()
                except (
                    MailboxUnavailable,
                    OSError,
                    TimeoutError,
                    aioimaplib.AioImapException,
                ) as exc:
                    log.info("%s: waiting for mail failed, reconnecting: %s", self.name, exc)
                    await self._disconnect()
        finally:
            await self._disconnect()

    async def _wait_for_mail(self) -> None:
        client: Any = self._client
        if self._announced:
            return  # mail arrived during the pass: look again before waiting
        if client is None or not self._use_idle or not client.has_capability("IDLE"):
            await self._sleep(self._poll_interval)
            return
        idle = await self._call(client.idle_start(timeout=self._idle_renew))
        # IDLE wakes us at once for new mail; the poll interval stays the upper
        # bound, because an announcement that came in answer to an earlier command
        # (and was dropped there by the client library) is never repeated.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self._poll_interval, self._idle_renew + 60)
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return
                try:
                    push = await self._call(client.wait_server_push(timeout=remaining))
                except TimeoutError:
                    return  # the poll interval is up: look anyway
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return  # time to renew IDLE; a poll on the way is cheap
                if any(
                    isinstance(line, bytes) and (b"EXISTS" in line or b"RECENT" in line)
                    for line in push
                ):
                    return
        finally:
            # A dropped connection was already closed; DONE is only for a live one.
            current = self._client is not None and id(self._client) == id(client)
            if current and client.has_pending_idle():
                client.idle_done()
                with contextlib.suppress(Exception):
                    await self._call(idle, within=self._timeout)
