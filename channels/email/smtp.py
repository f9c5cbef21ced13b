"""SMTP replies: one :class:`Reply` out through aiosmtplib, errors mapped once, here."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import UTC, datetime

import aiosmtplib

from channels.base import (
    Channel,
    DeliveryReceipt,
    PermanentDeliveryError,
    Reply,
    TemporaryDeliveryError,
)

from .compose import compose_reply
from .ids import normalise_message_id
from .imap import Security

__all__ = ["SmtpSender"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _response_error(code: int, message: str, what: str) -> Exception:
    reason = f"{what}: {code} {message}".strip()
    if 500 <= code < 600:
        return PermanentDeliveryError(reason)
    return TemporaryDeliveryError(reason)


class SmtpSender:
    """Delivers email replies; implements ``OutboundAdapter``.

    4xx answers, refused connections, timeouts and dropped connections raise
    :class:`TemporaryDeliveryError` (the outbox retries); 5xx answers raise
    :class:`PermanentDeliveryError` with the server's own words. A rejected
    login is temporary: it is the mailbox settings that are wrong, not the reply,
    and the replies should go out once an administrator fixes them.
    """

    channel = Channel.EMAIL

    def __init__(
        self,
        *,
        host: str,
        port: int,
        from_address: str,
        from_name: str | None = None,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if security not in ("tls", "starttls", "none"):
            raise ValueError(f"security must be 'tls', 'starttls' or 'none', not {security!r}")
        if "@" not in from_address:
            raise ValueError(f"from_address must be an email address, not {from_address!r}")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        self._host, self._port, self._security = host, port, security
        self._from_address, self._from_name = from_address, from_name
        self._username, self._password = username, password
        self._timeout, self._ssl_context = timeout, ssl_context
        self._local_hostname, self._clock = local_hostname, clock

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            timeout=self._timeout,
            use_tls=self._security == "tls",
            start_tls=self._security == "starttls",
            tls_context=self._ssl_context,
            local_hostname=self._local_hostname,
        )

    async def send(self, reply: Reply) -> DeliveryReceipt:
        try:
            message = compose_reply(
                reply,
                from_address=self._from_address,
                from_name=self._from_name,
                now=self._clock(),
            )
        except ValueError as exc:
            raise PermanentDeliveryError(f"cannot build the email: {exc}") from exc
        message_id = normalise_message_id(str(message["Message-ID"])) or ""
        try:
            async with self._client() as client:
                errors, response = await client.send_message(
                    message, sender=self._from_address, recipients=[reply.recipient]
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusals = exc.recipients
            codes = [r.code for r in refusals]
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refusals)
            if codes and all(500 <= c < 600 for c in codes):
                raise PermanentDeliveryError(f"recipient refused: {text}") from exc
            raise TemporaryDeliveryError(f"recipient refused: {text}") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise TemporaryDeliveryError(
                f"SMTP login refused ({exc.code} {exc.message}): check the username and password"
            ) from exc
        except aiosmtplib.SMTPSenderRefused as exc:
            raise _response_error(exc.code, exc.message, "sender refused") from exc
        except aiosmtplib.SMTPDataError as exc:
            raise _response_error(exc.code, exc.message, "message refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _response_error(exc.code, exc.message, "server refused") from exc
        except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"SMTP server timed out: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            # Refused or dropped connections, TLS trouble, a server that went away.
            raise TemporaryDeliveryError(
                f"cannot reach SMTP server {self._host}:{self._port}: {exc}"
            ) from exc
        if errors:
            # Only one recipient is ever given, so a partial refusal cannot happen;
            # keep the server's words if it ever does.
            detail = "; ".join(
                f"{rcpt}: {resp.code} {resp.message}" for rcpt, resp in errors.items()
            )
            raise PermanentDeliveryError(f"recipient refused: {detail}")
        return DeliveryReceipt(external_ref=message_id, detail=response)
