"""An in-process SMTP server (aiosmtpd) on a free loopback port, for tests.

It records every accepted message and has switches a test flips to make the
server misbehave the way real ones do: temporary failures (4xx), permanently
rejected recipients (5xx), slowness, and being down altogether.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from .ports import free_port

if TYPE_CHECKING:
    from .dovecot import DovecotServer

__all__ = ["ReceivedMessage", "SmtpServer", "Stage"]

HOST = "127.0.0.1"


def _drop_login_data_notice(record: logging.LogRecord) -> bool:
    # aiosmtpd's own AUTH code uses its deprecated Session.login_data and logs
    # a warning about it on every login; that is noise in every test log.
    return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_drop_login_data_notice)

Stage = Literal["MAIL", "RCPT", "DATA"]


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted (answered 250 to DATA).

    ``data`` is exactly what the client sent (CRLF line ends); ``message`` is
    it parsed with ``email.policy.default`` (LF line ends).
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    message: EmailMessage
    login: str | None
    received_at: float

    def __getitem__(self, header: str) -> str | None:
        value = self.message[header]
        return None if value is None else str(value)


@dataclass
class _Failure:
    remaining: int
    code: int
    text: str
    stage: Stage


@dataclass
class _State:
    """Everything the server thread and the test share; guarded by ``cond``."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    messages: list[ReceivedMessage] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    rejected_rcpts: dict[str, tuple[int, str]] = field(default_factory=dict)
    delay: float = 0.0
    transactions: int = 0
    connections: int = 0
    refused: list[tuple[Stage, int, str]] = field(default_factory=list)


def _parse(data: bytes) -> EmailMessage:
    # The wire's CRLFs would otherwise end up inside every header value and
    # body; ``data`` keeps the bytes exactly as sent.
    unix = data.replace(b"\r\n", b"\n")
    return BytesParser(policy=email.policy.default).parsebytes(unix)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self._server = server
        self._state = server._state

    def _take_failure(self, stage: Stage) -> str | None:
        with self._state.cond:
            for failure in self._state.failures:
                if failure.stage == stage and failure.remaining > 0:
                    failure.remaining -= 1
                    self._state.refused.append((stage, failure.code, failure.text))
                    return f"{failure.code} {failure.text}"
        return None

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        with self._state.cond:
            self._state.transactions += 1
        refusal = self._take_failure("MAIL")
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._take_failure("RCPT")
        if refusal:
            return refusal
        with self._state.cond:
            rejected = self._state.rejected_rcpts.get(address.lower())
            if rejected is not None:
                self._state.refused.append(("RCPT", rejected[0], address))
                return f"{rejected[0]} {rejected[1]}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        delay = self._state.delay
        if delay:
            await asyncio.sleep(delay)
        refusal = self._take_failure("DATA")
        if refusal:
            return refusal
        data = envelope.original_content or b""
        login = (
            session.auth_data.login.decode()
            if isinstance(session.auth_data, LoginPassword)
            else None
        )
        received = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=data,
            message=_parse(data),
            login=login,
            received_at=time.time(),
        )
        self._server._route(received)
        with self._state.cond:
            self._state.messages.append(received)
            self._state.cond.notify_all()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """Keeps the live sessions so that stop() can cut them, like a dying server."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sessions: list[SMTP] = []
        self._on_connect: Any = None
        self.require_auth = False

    def factory(self) -> SMTP:
        smtpd: SMTP = super().factory()  # type: ignore[no-untyped-call]
        # Set after construction: passing auth_required=True together with
        # auth_require_tls=False makes aiosmtpd warn on every connection,
        # which the test suite (warnings are errors) would turn into failures.
        smtpd._auth_required = self.require_auth
        self.sessions.append(smtpd)
        if self._on_connect is not None:
            self._on_connect()
        return smtpd


class SmtpServer:
    """aiosmtpd in a background thread on 127.0.0.1.

    >>> smtp = SmtpServer().start()          # or SmtpServer(auth=("bot", "pw"))
    >>> smtp.fail_next(2)                    # next two DATA get 451
    >>> smtp.reject_recipient("gone@warga.test")   # 550 at RCPT
    >>> ...send with aiosmtplib to smtp.host, smtp.port...
    >>> [msg] = smtp.wait_for(1)             # or: await smtp.wait_for_async(1)
    >>> msg.message["Subject"], msg.rcpt_tos, msg.data
    >>> smtp.stop(); smtp.start()            # down, then back on the same port
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        auth: tuple[str, str] | None = None,
        require_auth: bool | None = None,
        hostname: str = "smtp.tanya.test",
    ) -> None:
        self.host = HOST
        self.port = port or free_port(HOST)
        self.auth = auth
        self.require_auth = auth is not None if require_auth is None else require_auth
        self.hostname = hostname
        self._state = _State()
        self._controller: _Controller | None = None
        self._routes: list[tuple[DovecotServer, dict[str, str] | None]] = []

    # -- life cycle --------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        """Listen (again) on the same port; idempotent."""
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": self.hostname,
            "ready_timeout": 10.0,
        }
        if self.auth is not None:
            kwargs.update(
                authenticator=self._authenticate,
                # Loopback tests have no TLS; aiosmtpd refuses AUTH without it
                # unless told otherwise.
                auth_require_tls=False,
            )
        controller = _Controller(_Handler(self), **kwargs)
        controller._on_connect = self._count_connection
        controller.require_auth = self.auth is not None and self.require_auth
        controller.start()
        self._controller = controller
        # start() opened one connection of its own to check the server.
        with self._state.cond:
            self._state.connections -= 1
        return self

    def _count_connection(self) -> None:
        with self._state.cond:
            self._state.connections += 1

    def stop(self) -> None:
        """Go down like a crashed server: close the listener and cut every
        open session; the port stays reserved for start(). Idempotent."""
        controller = self._controller
        if controller is None:
            return
        self._controller = None

        async def shut() -> None:
            if controller.server is not None:
                controller.server.close()
            for smtpd in controller.sessions:
                transport = smtpd.transport
                if isinstance(transport, asyncio.Transport) and not transport.is_closing():
                    transport.abort()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            # Let the cancelled session tasks unwind so that no transport is
            # left for the garbage collector to warn about.
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shut(), controller.loop).result(timeout=10)
        controller.stop(no_assert=True)
        controller.sessions.clear()

    close = stop

    # -- switches -----------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        code: int = 451,
        message: str = "4.3.0 Temporary failure, try again later",
        *,
        stage: Stage = "DATA",
    ) -> None:
        """Answer the next ``n`` commands of ``stage`` with ``code message``.

        A 5xx code makes it a permanent failure instead.
        """
        with self._state.cond:
            self._state.failures.append(_Failure(n, code, message, stage))

    def reject_recipient(
        self,
        *addresses: str,
        code: int = 550,
        message: str = "5.1.1 Mailbox unavailable",
    ) -> None:
        """Refuse these recipients at RCPT TO from now on (case-insensitive)."""
        with self._state.cond:
            for address in addresses:
                self._state.rejected_rcpts[address.lower()] = (code, message)

    def set_delay(self, seconds: float) -> None:
        """Wait this long before answering each DATA (a slow server)."""
        self._state.delay = seconds

    def reset(self) -> None:
        """Clear switches, received messages and counters."""
        with self._state.cond:
            self._state.messages.clear()
            self._state.failures.clear()
            self._state.rejected_rcpts.clear()
            self._state.refused.clear()
            self._state.delay = 0.0
            self._state.transactions = 0
            self._state.connections = 0

    # -- what happened ----------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMessage]:
        """Accepted messages, oldest first (a copy)."""
        with self._state.cond:
            return list(self._state.messages)

    @property
    def refused(self) -> list[tuple[Stage, int, str]]:
        """(stage, code, text or recipient) of every refusal so far."""
        with self._state.cond:
            return list(self._state.refused)

    @property
    def transactions(self) -> int:
        """MAIL FROM commands seen, accepted or not: delivery attempts."""
        with self._state.cond:
            return self._state.transactions

    @property
    def connections(self) -> int:
        with self._state.cond:
            return self._state.connections

    def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages were accepted.

        Do not call this from the event loop that is sending the mail: use
        wait_for_async() there.
        """
        with self._state.cond:
            if not self._state.cond.wait_for(lambda: len(self._state.messages) >= count, timeout):
                raise TimeoutError(
                    f"SMTP server got {len(self._state.messages)} of {count} messages "
                    f"in {timeout} s"
                )
            return list(self._state.messages)

    async def wait_for_async(
        self,
        count: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_for()
    ) -> list[ReceivedMessage]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"SMTP server got {len(messages)} of {count} messages in {timeout} s"
                )
            await asyncio.sleep(0.01)

    # -- SMTP -> IMAP ----------------------------------------------------------
    def deliver_to(self, dovecot: DovecotServer, mailboxes: dict[str, str] | None = None) -> None:
        """Also drop each accepted message into Dovecot Maildirs.

        ``mailboxes`` maps recipient address -> Dovecot user; without it a
        recipient whose address is a Dovecot user name gets the message.
        """
        self._routes.append(
            (dovecot, None if mailboxes is None else {k.lower(): v for k, v in mailboxes.items()})
        )

    def _route(self, received: ReceivedMessage) -> None:
        for dovecot, mailboxes in self._routes:
            for rcpt in received.rcpt_tos:
                user = (
                    (mailboxes or {}).get(rcpt.lower())
                    if mailboxes is not None
                    else (rcpt if rcpt in dovecot.users else None)
                )
                if user is not None:
                    dovecot.deliver(user, received.data)

    # -- AUTH ------------------------------------------------------------------
    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        ok = (
            self.auth is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password)
            == (self.auth[0].encode(), self.auth[1].encode())
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    # -- context manager ---------------------------------------------------
    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def addresses(messages: Iterable[ReceivedMessage]) -> list[str]:
    """Every recipient of the given messages, in order."""
    return [rcpt for msg in messages for rcpt in msg.rcpt_tos]
