"""The contract between channel adapters and the help desk core.

An adapter turns one wire message into an :class:`Inquiry` and one :class:`Reply`
into a wire message. It knows nothing of tickets, contacts or the database: the
core decides. Adapters import the standard library, their client library and
this module only.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


class Channel(enum.StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"
    WEBCHAT = "webchat"
    PHONE = "phone"
    API = "api"
    # Not a resident's channel: signed event calls to integrations, sent through
    # the outbox like replies so they are retried the same way.
    WEBHOOK = "webhook"


class IdentityKind(enum.StrEnum):
    """How a resident is recognised; one contact may have several identities."""

    EMAIL = "email"
    TELEGRAM = "telegram"
    PHONE = "phone"
    WEBCHAT = "webchat"


@dataclass(frozen=True, slots=True)
class Identity:
    kind: IdentityKind
    value: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AttachmentData:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadHints:
    """What the wire message says about the conversation it belongs to.

    ``reply_to_ids``: ids of earlier messages on the same channel that this one
    answers (email In-Reply-To and References, newest first).
    ``ticket_number``: a ticket number the resident quoted (an email subject tag).
    ``conversation_id``: a channel conversation that maps to one open ticket
    (a Telegram chat, a web chat token, a phone number's callback thread).
    """

    reply_to_ids: tuple[str, ...] = ()
    ticket_number: str | None = None
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One message from a resident, as a channel received it."""

    channel: Channel
    external_id: str
    sender: Identity
    text: str
    received_at: datetime
    subject: str | None = None
    html: str | None = None
    thread: ThreadHints = ThreadHints()
    attachments: tuple[AttachmentData, ...] = ()
    # Extra identities the resident shared (a Telegram contact card's phone).
    extra_identities: tuple[Identity, ...] = ()
    # Automatic mail, bulk mail and bounces are stored but never auto-answered.
    automated: bool = False
    # Wire details worth keeping on the message (headers, call duration...).
    meta: Mapping[str, Any] = field(default_factory=dict)
    # Notes the adapter wants shown on the ticket (a dropped oversized attachment).
    notices: tuple[str, ...] = ()
    # Where the original lives (an IMAP uid, a Telegram update id, a CSV line).
    raw_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyButton:
    label: str
    # Callback data for chat buttons; a signed URL for email links.
    data: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to a resident, as the outbox hands it to a channel."""

    channel: Channel
    recipient: str
    text: str
    idempotency_key: str
    ticket_number: str
    subject: str | None = None
    html: str | None = None
    # Our own id for this message (email Message-ID); the core threads on it.
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    conversation_id: str | None = None
    automatic: bool = False
    buttons: tuple[ReplyButton, ...] = ()
    attachments: tuple[AttachmentData, ...] = ()
    sender_name: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What the channel said when it took the reply."""

    external_ref: str | None = None
    detail: str | None = None


class ChannelError(Exception):
    """Base of every error a channel adapter raises."""


class TemporaryDeliveryError(ChannelError):
    """Sending failed in a way that may pass: retry later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentDeliveryError(ChannelError):
    """Sending can never succeed (address rejected, bot blocked): stop retrying."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidInput(ChannelError):
    """A wire message that cannot become an inquiry; it goes to quarantine."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ReceiveOutcome:
    """What the core did with an inquiry, as far as a channel needs to know."""

    ticket_number: str
    message_id: int
    created: bool
    duplicate: bool


InquirySink = Callable[[Inquiry], Awaitable[ReceiveOutcome]]
"""Stores an inquiry in one committed transaction, then returns."""

QuarantineSink = Callable[[str, bytes, str, str | None], Awaitable[None]]
"""Keeps input that could not become an inquiry: (channel, raw, reason, source_ref)."""


@dataclass(frozen=True, slots=True)
class HealthReport:
    channel: str
    ok: bool
    detail: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


HealthSink = Callable[[HealthReport], Awaitable[None]]


class CursorStore(Protocol):
    """Durable per-channel position (an IMAP UID, a Telegram update offset)."""

    async def load(self, key: str) -> dict[str, Any]: ...

    async def save(self, key: str, value: dict[str, Any]) -> None: ...


@runtime_checkable
class InboundAdapter(Protocol):
    """Pulls inquiries from one source until cancelled."""

    name: str

    async def run(self) -> None: ...


@runtime_checkable
class OutboundAdapter(Protocol):
    """Delivers replies on one channel."""

    channel: Channel

    async def send(self, reply: Reply) -> DeliveryReceipt: ...


def first_line(text: str, limit: int = 120) -> str:
    """A one-line summary of a message, for a subject when the channel has none."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""


__all__: Sequence[str] = (
    "AttachmentData",
    "Channel",
    "ChannelError",
    "CursorStore",
    "DeliveryReceipt",
    "HealthReport",
    "HealthSink",
    "Identity",
    "IdentityKind",
    "InboundAdapter",
    "Inquiry",
    "InquirySink",
    "InvalidInput",
    "OutboundAdapter",
    "PermanentDeliveryError",
    "QuarantineSink",
    "ReceiveOutcome",
    "Reply",
    "ReplyButton",
    "TemporaryDeliveryError",
    "ThreadHints",
    "first_line",
)
