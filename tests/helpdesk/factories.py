"""Inquiries as channels would hand them to intake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from channels.base import Channel, Identity, IdentityKind, Inquiry, ThreadHints

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta


def email_inquiry(n: int, *, sender: str | None = None, reply_to: tuple[str, ...] = (),
                  subject: str | None = None, at: datetime | None = None,
                  text: str = "Selamat pagi, bagaimana cara mengurus NIB?") -> Inquiry:
    return Inquiry(
        channel=Channel.EMAIL, external_id=f"msg-{n}@warga.example",
        sender=Identity(IdentityKind.EMAIL, sender or f"warga{n % 100}@example.com",
                        f"Warga {n % 100}"),
        subject=subject or f"Pertanyaan {n}", text=text,
        received_at=at or T0 + timedelta(seconds=n), thread=ThreadHints(reply_to_ids=reply_to),
    )


def chat_inquiry(n: int, chat: str, *, channel: Channel = Channel.TELEGRAM,
                 at: datetime | None = None, text: str = "halo min") -> Inquiry:
    kind = IdentityKind.TELEGRAM if channel is Channel.TELEGRAM else IdentityKind.WEBCHAT
    return Inquiry(
        channel=channel, external_id=f"{chat}:{n}", sender=Identity(kind, chat, "Budi"),
        text=text, received_at=at or T0 + timedelta(seconds=n),
        thread=ThreadHints(conversation_id=chat),
    )


def phone_inquiry(n: int, number: str, *, at: datetime | None = None) -> Inquiry:
    return Inquiry(
        channel=Channel.PHONE, external_id=f"cdr:{n}",
        sender=Identity(IdentityKind.PHONE, number), text="Panggilan tak terjawab",
        received_at=at or T0 + timedelta(seconds=n),
        thread=ThreadHints(conversation_id=f"callback:{number}"),
    )
