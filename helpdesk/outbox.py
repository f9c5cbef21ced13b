"""The outbox: every reply is stored before anyone tries to send it.

``queue_reply`` writes the outbound message and its outbox item in the caller's
transaction. The :class:`Dispatcher` claims due items, hands each to the
channel's outbound adapter with an idempotency key, and records the result:
sent, retried later with exponential backoff, or failed with the reason shown
on the ticket. A claim is a lease: a worker that dies mid-send leaves the item
to be claimed again when the lease runs out; an item marked sent is never sent
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, or_, select

from channels.base import (
    Channel,
    DeliveryReceipt,
    OutboundAdapter,
    PermanentDeliveryError,
    Reply,
    ReplyButton,
    TemporaryDeliveryError,
)
from helpdesk import policy_sql
from helpdesk.config import OutboxConfig
from helpdesk.intake_sql import as_read, insert_message
from helpdesk.models import (
    AuthorKind,
    ContactIdentity,
    Direction,
    Event,
    Message,
    OutboxItem,
    OutboxStatus,
    Ticket,
    utcnow,
)
from helpdesk.store import Store

log = logging.getLogger(__name__)


class NoRecipient(ValueError):
    """The ticket's contact has no identity on the chosen channel."""


@dataclass(frozen=True, slots=True)
class Recipient:
    channel: Channel
    address: str
    conversation_id: str | None = None


def recipient_for(session: Session, ticket: Ticket, channel: Channel | None = None,
                  identity_id: int | None = None) -> Recipient:
    """Where a reply on ``ticket`` goes: the chosen identity, else the ticket's channel."""
    if identity_id is not None:
        identity = session.get(ContactIdentity, identity_id)
        if identity is None or identity.contact_id != ticket.contact_id:
            raise NoRecipient("that identity does not belong to the ticket's contact")
        return Recipient(Channel(identity.kind), identity.value)
    chosen = Channel(channel or ticket.channel)
    if chosen is Channel.API:
        raise NoRecipient("tickets from the API have no reply channel; choose an identity")
    if chosen is Channel.PHONE:
        raise NoRecipient("a phone ticket is answered by calling back; log the call instead")
    conversation = None
    if ticket.conversation_key and ticket.conversation_key.startswith(f"{chosen}:"):
        conversation = ticket.conversation_key.split(":", 1)[1]
    # Prebuilt, on the connection: asked for every automatic answer.
    value = policy_sql.recipient_identity(session, ticket.contact_id, chosen)
    if value is None and conversation is None:
        raise NoRecipient(f"the resident has no {chosen} identity")
    address = value if value is not None else conversation or ""
    return Recipient(chosen, address, conversation)


def queue_reply(session: Session, ticket: Ticket, text: str, *, now: datetime,
                author_kind: AuthorKind = AuthorKind.CONSULTANT,
                author_user_id: int | None = None, recipient: Recipient | None = None,
                html: str | None = None, buttons: Sequence[ReplyButton] = (),
                mail_domain: str = "ptsp.localhost", meta: Mapping[str, Any] | None = None,
                ) -> Message:
    """Store a reply and its outbox item in the caller's transaction."""
    assert ticket.id is not None
    target = recipient or recipient_for(session, ticket)
    token = uuid.uuid4().hex
    if target.channel is Channel.EMAIL:
        external_id = f"{token}@{mail_domain}"
    else:
        external_id = f"out:{token}"
    thread_ids: list[str] = []
    if target.channel is Channel.EMAIL:
        thread_ids = policy_sql.email_thread(session, ticket.id)
    # The message, its outbox item and event are written with prebuilt INSERTs
    # (an ORM flush of each cost more than the rest of the reply). Whatever the
    # ORM still holds goes first, so ids keep the order things happened in.
    if session.new:
        session.flush()
    values: dict[str, Any] = {
        "ticket_id": ticket.id, "direction": Direction.OUT, "channel": target.channel,
        "external_id": external_id, "author_kind": author_kind,
        "author_user_id": author_user_id, "identity_id": None, "subject": ticket.subject,
        "text": text, "html": html, "created_at": now,
        "meta": {"to": target.address, **(meta or {})},
    }
    message_id = insert_message(session.connection(), values)
    # The caller gets the stored message as a session object, without reading it back.
    message = Message(id=message_id, **as_read(values))
    make_transient_to_detached(message)
    session.add(message)
    automatic = author_kind is AuthorKind.BOT
    payload = {
        "recipient": target.address, "conversation_id": target.conversation_id,
        "subject": ticket.subject, "text": text, "html": html,
        "message_id": external_id, "ticket_number": ticket.number,
        "in_reply_to": thread_ids[0] if thread_ids else None,
        "references": list(reversed(thread_ids[:20])), "automatic": automatic,
        "buttons": [{"label": b.label, "data": b.data, "url": b.url} for b in buttons],
    }
    policy_sql.insert_outbox_item(session, {
        "kind": "reply", "message_id": message.id, "channel": target.channel,
        "idempotency_key": f"reply:{message.id}:{token}", "payload": payload,
        "next_attempt_at": now, "created_at": now})
    policy_sql.add_event(session, ticket_id=ticket.id, kind="message.queued",
                         actor_user_id=author_user_id,
                         actor="bot" if automatic else "consultant",
                         data={"message_id": message.id, "channel": target.channel,
                               "to": target.address}, created_at=now)
    ticket.updated_at = now
    return message


def reply_from_payload(item: OutboxItem) -> Reply:
    p = item.payload
    return Reply(
        channel=Channel(item.channel), recipient=p["recipient"], text=p["text"],
        idempotency_key=item.idempotency_key, ticket_number=p["ticket_number"],
        subject=p.get("subject"), html=p.get("html"), message_id=p.get("message_id"),
        in_reply_to=p.get("in_reply_to"), references=tuple(p.get("references") or ()),
        conversation_id=p.get("conversation_id"), automatic=bool(p.get("automatic")),
        buttons=tuple(ReplyButton(b["label"], b["data"], b.get("url"))
                      for b in p.get("buttons") or ()),
    )


class Dispatcher:
    """Sends due outbox items through the adapter registered for their channel."""

    def __init__(self, store: Store, adapters: Mapping[str, OutboundAdapter],
                 config: OutboxConfig, *, clock: Callable[[], datetime] = utcnow,
                 concurrency: int = 8) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.config = config
        self.clock = clock
        self.concurrency = concurrency
        self.wakeup = asyncio.Event()

    def register(self, channel: str, adapter: OutboundAdapter) -> None:
        self.adapters[channel] = adapter

    async def run(self) -> None:
        while True:
            # Cleared before the claim, not after it: a reply queued while the
            # claim runs (too late for it) sets the event again and is claimed
            # next round instead of waiting out the poll interval.
            self.wakeup.clear()
            try:
                sent = await self.dispatch_due()
            except Exception:
                log.exception("outbox dispatch failed; retrying")
                sent = 0
            if sent == 0:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a
                # cancellation that arrives as the wakeup fires, and the task runs on.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.config.poll_interval_seconds):
                        await self.wakeup.wait()

    async def dispatch_due(self, limit: int = 50) -> int:
        """Claim and send what is due now; returns how many were attempted."""
        items = await self.store.run(self._claim, limit)
        if not items:
            return 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(item: OutboxItem) -> None:
            async with gate:
                await self._deliver(item)

        await asyncio.gather(*(one(item) for item in items))
        return len(items)

    def _claim(self, limit: int) -> list[OutboxItem]:
        now = self.clock()

        def work(session: Session) -> list[OutboxItem]:
            query = (
                select(OutboxItem)
                .where(or_(
                    (col(OutboxItem.status) == OutboxStatus.PENDING)
                    & (col(OutboxItem.next_attempt_at) <= now),
                    (col(OutboxItem.status) == OutboxStatus.SENDING)
                    & (col(OutboxItem.claimed_until) < now),
                ))
                .order_by(col(OutboxItem.next_attempt_at)).limit(limit)
            )
            if self.store.is_postgres:
                query = query.with_for_update(skip_locked=True)
            items = list(session.exec(query).all())
            for item in items:
                item.status = OutboxStatus.SENDING
                item.attempts += 1
                item.claimed_until = now + timedelta(seconds=self.config.lease_seconds)
            return items

        return self.store.write_retrying(work)

    async def _deliver(self, item: OutboxItem) -> None:
        adapter = self.adapters.get(item.channel)
        try:
            if adapter is None:
                raise TemporaryDeliveryError(f"no {item.channel} channel is configured")
            receipt = await adapter.send(reply_from_payload(item))
        except PermanentDeliveryError as exc:
            await self.store.run(self._record_failure, item.id, exc.reason, None, True)
        except TemporaryDeliveryError as exc:
            await self.store.run(self._record_failure, item.id, exc.reason, exc.retry_after,
                                 False)
        except Exception as exc:  # an adapter bug must not stop the other items
            log.exception("outbox item %s: adapter error", item.id)
            await self.store.run(self._record_failure, item.id,
                                 f"{type(exc).__name__}: {exc}", None, False)
        else:
            await self.store.run(self._record_sent, item.id, receipt)

    def _record_sent(self, item_id: int, receipt: DeliveryReceipt) -> None:
        now = self.clock()

        def work(session: Session) -> None:
            item = session.get_one(OutboxItem, item_id)
            item.status = OutboxStatus.SENT
            item.sent_at = now
            item.claimed_until = None
            item.last_error = None
            item.external_ref = (receipt.external_ref or "")[:400] or None
            ticket_id = _ticket_of(session, item)
            if ticket_id is not None:
                session.add(Event(ticket_id=ticket_id, kind="message.sent", actor="outbox",
                                  data={"message_id": item.message_id,
                                        "attempts": item.attempts}, created_at=now))

        self.store.write_retrying(work)

    def _record_failure(self, item_id: int, reason: str, retry_after: float | None,
                        permanent: bool) -> None:
        now = self.clock()

        def work(session: Session) -> None:
            item = session.get_one(OutboxItem, item_id)
            item.last_error = reason[:2000]
            item.claimed_until = None
            if permanent or item.attempts >= self.config.max_attempts:
                item.status = OutboxStatus.FAILED
                ticket_id = _ticket_of(session, item)
                if ticket_id is not None:
                    session.add(Event(ticket_id=ticket_id, kind="message.failed",
                                      actor="outbox",
                                      data={"message_id": item.message_id, "reason": reason,
                                            "attempts": item.attempts}, created_at=now))
                return
            item.status = OutboxStatus.PENDING
            item.next_attempt_at = now + timedelta(seconds=self.backoff(item.attempts,
                                                                        retry_after))

        self.store.write_retrying(work)

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next try: exponential with jitter, at least retry_after."""
        base = self.config.backoff_base_seconds * float(2 ** max(attempts - 1, 0))
        delay = min(base, self.config.backoff_max_seconds) * random.uniform(0.8, 1.0)
        return max(delay, retry_after or 0.0)


def _ticket_of(session: Session, item: OutboxItem) -> int | None:
    if item.message_id is None:
        return None
    return session.exec(select(Message.ticket_id).where(Message.id == item.message_id)).first()


def fail_by_reference(session: Session, external_ref: str, reason: str, *,
                      now: datetime) -> OutboxItem | None:
    """Mark a sent item failed after the fact (an email bounce naming our Message-ID)."""
    item = session.exec(select(OutboxItem).where(
        or_(col(OutboxItem.external_ref) == external_ref,
            col(OutboxItem.idempotency_key) == external_ref))).first()
    if item is None:
        return None
    item.status = OutboxStatus.FAILED
    item.last_error = reason[:2000]
    ticket_id = _ticket_of(session, item)
    if ticket_id is not None:
        session.add(Event(ticket_id=ticket_id, kind="message.failed", actor="outbox",
                          data={"message_id": item.message_id, "reason": reason,
                                "bounced": True}, created_at=now))
    return item
