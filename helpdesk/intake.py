"""Intake: the only way an inquiry enters the ticket store.

``receive`` stores one inquiry in one transaction: it drops a replay, finds or
creates the resident, threads the message onto the ticket it belongs to (or
opens one), records what happened as events and lets the ticket policy (the
answer-first and routing step) act inside the same transaction. Two workers
receiving the same inquiry at once store it once: the unique constraint on
(channel, external_id) decides, and the loser finds the winner's message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from channels.base import Channel, Identity, Inquiry, ReceiveOutcome, first_line
from helpdesk import intake_sql as sql
from helpdesk import policy_sql
from helpdesk.attachments import AttachmentFiles
from helpdesk.contacts import attach_identities
from helpdesk.identities import InvalidIdentity, normalise, normalise_phone
from helpdesk.models import (
    OPEN_STATUSES,
    Attachment,
    AuthorKind,
    Contact,
    Direction,
    Event,
    Message,
    Queue,
    Ticket,
    TicketStatus,
    utcnow,
)
from helpdesk.reports_rollup import WATCHED, mark_changed, mark_tickets
from helpdesk.store import Store
from helpdesk.ticket_numbers import format_number, parse_number


class RejectedInquiry(ValueError):
    """The inquiry cannot be stored as it is (an unusable sender identity)."""


@dataclass(frozen=True, slots=True)
class IntakeResult:
    ticket_id: int
    message_id: int
    created: bool
    duplicate: bool
    reopened: bool = False

    @property
    def ticket_number(self) -> str:
        return format_number(self.ticket_id)

    def outcome(self) -> ReceiveOutcome:
        return ReceiveOutcome(ticket_number=self.ticket_number, message_id=self.message_id,
                              created=self.created, duplicate=self.duplicate)


@dataclass(slots=True)
class Received:
    """What intake just stored, handed to the ticket policy in the same transaction.

    ``ticket`` is the session's own object: changes to it are saved with the
    transaction. ``message`` and ``contact`` are loaded on first use.
    """

    inquiry: Inquiry
    ticket: Ticket
    message_id: int
    contact_id: int
    created: bool
    reopened: bool
    now: datetime
    session: Session

    @property
    def message(self) -> Message:
        return self.session.get_one(Message, self.message_id)

    @property
    def contact(self) -> Contact:
        return self.session.get_one(Contact, self.contact_id)


class TicketPolicy(Protocol):
    """Decides what happens to a ticket after a resident wrote (answer first, route)."""

    def after_receive(self, session: Session, received: Received) -> None: ...


class DefaultQueuePolicy:
    """Puts every new ticket in one queue; the routing step replaces this."""

    def __init__(self, queue_name: str) -> None:
        self.queue_name = queue_name

    def after_receive(self, session: Session, received: Received) -> None:
        if received.created and received.ticket.queue_id is None:
            received.ticket.queue_id = ensure_queue(session, self.queue_name)



def ensure_queue(session: Session, name: str) -> int:
    # A prebuilt lookup on the connection: every new ticket asks, and an ORM
    # query would flush the ticket first. A queue is flushed as soon as it is
    # made, so the connection always sees it.
    queue_id = policy_sql.queue_id(session, name)
    if queue_id is None:
        queue = Queue(name=name, title=name)
        session.add(queue)
        session.flush()
        assert queue.id is not None
        return queue.id
    return queue_id


class Intake:
    def __init__(self, store: Store, files: AttachmentFiles, *, reopen_days: int,
                 policy: TicketPolicy, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.files = files
        self.reopen_window = timedelta(days=reopen_days)
        self.policy = policy
        self.clock = clock

    def receive(self, inquiry: Inquiry) -> IntakeResult:
        # Files first: content-addressed, so a retry or a duplicate costs nothing.
        digests = [self.files.save(a.data) for a in inquiry.attachments]
        return self.store.write_retrying(lambda s: self._receive(s, inquiry, digests))

    async def __call__(self, inquiry: Inquiry) -> ReceiveOutcome:
        """The :data:`channels.base.InquirySink` the channel adapters call."""
        result = await self.store.run(self.receive, inquiry)
        return result.outcome()

    def _receive(self, session: Session, inquiry: Inquiry, digests: list[str]) -> IntakeResult:
        conn = session.connection()
        existing = sql.find_message(conn, inquiry.channel, inquiry.external_id)
        if existing is not None:
            return IntakeResult(ticket_id=existing[1], message_id=existing[0], created=False,
                                duplicate=True)
        now = self.clock()
        try:
            contact_id, identity_id = self._contact(conn, inquiry.sender, now)
        except InvalidIdentity as exc:
            raise RejectedInquiry(str(exc)) from None
        ticket, created, reopened = self._thread(session, conn, inquiry, contact_id, now)
        assert ticket.id is not None
        # Executed before the ORM flushes anything: the unique constraint on
        # (channel, external_id) speaks here, and the caller retries.
        message_id = sql.insert_message(conn, {
            "ticket_id": ticket.id, "direction": Direction.IN, "channel": inquiry.channel,
            "external_id": inquiry.external_id, "author_kind": AuthorKind.RESIDENT,
            "identity_id": identity_id, "subject": (inquiry.subject or "")[:300],
            "text": inquiry.text, "html": inquiry.html, "meta": message_meta(inquiry),
            "created_at": inquiry.received_at,
        })
        for attachment, digest in zip(inquiry.attachments, digests, strict=True):
            session.add(Attachment(
                message_id=message_id, sha256=digest, size=len(attachment.data),
                content_type=attachment.content_type[:200], filename=attachment.filename[:300],
                inline=attachment.inline, content_id=attachment.content_id,
            ))
        events: list[dict[str, Any]] = [
            {"ticket_id": ticket.id, "kind": "message.received", "actor": "resident",
             "data": {"message_id": message_id, "channel": inquiry.channel},
             "created_at": now}]
        events += [{"ticket_id": ticket.id, "kind": "message.notice", "actor": "intake",
                    "data": {"message_id": message_id, "text": notice}, "created_at": now}
                   for notice in inquiry.notices]
        if not created and ticket.status == TicketStatus.PENDING:
            ticket.status = TicketStatus.OPEN
            events.append({"ticket_id": ticket.id, "kind": "ticket.status", "actor": "resident",
                           "data": {"from": "pending", "to": "open",
                                    "why": "the resident wrote again"}, "created_at": now})
        sql.insert_events(conn, events)
        if inquiry.extra_identities:
            session.add_all(attach_identities(session, contact_id, inquiry.extra_identities,
                                              ticket_id=ticket.id, now=now))
        ticket.last_message_at = max(ticket.last_message_at or now, inquiry.received_at)
        ticket.updated_at = now
        self.policy.after_receive(session, Received(
            inquiry=inquiry, ticket=ticket, message_id=message_id, contact_id=contact_id,
            created=created, reopened=reopened, now=now, session=session))
        _save_ticket(session, conn, ticket, created=created)
        return IntakeResult(ticket_id=ticket.id, message_id=message_id, created=created,
                            duplicate=False, reopened=reopened)

    def _contact(self, conn: Connection, sender: Identity, now: datetime) -> tuple[int, int]:
        """(contact id, identity id) of the sender, created on first contact.

        A concurrent creation of the same identity loses on the unique constraint;
        the caller's retry then finds the winner's row.
        """
        value = normalise(sender.kind, sender.value)
        name = (sender.name or "")[:200]
        known = sql.find_identity(conn, sender.kind, value)
        if known is not None:
            identity_id, contact_id, merged_into, contact_name = known
            contact_id = sql.current_contact(conn, contact_id, merged_into)
            if name and not contact_name and merged_into is None:
                conn.execute(sql.NAME_CONTACT, {"cid": contact_id, "new_name": name})
            return contact_id, identity_id
        contact_id = sql.insert_contact(conn, name, now)
        return contact_id, sql.insert_identity(conn, contact_id, sender.kind, value, name, now)

    def _thread(self, session: Session, conn: Connection, inquiry: Inquiry, contact_id: int,
                now: datetime) -> tuple[Ticket, bool, bool]:
        """The ticket this message belongs to: (ticket, created, reopened)."""
        found, why = self._find_thread(session, conn, inquiry, contact_id)
        if found is not None and found.status in OPEN_STATUSES:
            return found, False, False
        if found is not None and may_reopen(found, now, self.reopen_window):
            previous = found.status
            found.status = TicketStatus.OPEN
            found.resolved_at = None
            found.closed_at = None
            session.add(Event(ticket_id=found.id, kind="ticket.reopened", actor="resident",
                              data={"from": previous, "why": why}, created_at=now))
            return found, False, True
        subject = ticket_subject(inquiry)
        values: dict[str, Any] = {
            "subject": subject, "channel": inquiry.channel, "contact_id": contact_id,
            "status": TicketStatus.NEW, "conversation_key": conversation_key(inquiry),
            "linked_ticket_id": found.id if found is not None else None,
            "created_at": inquiry.received_at if inquiry.received_at < now else now,
            "updated_at": now, "last_message_at": inquiry.received_at,
        }
        ticket_id = sql.insert_ticket(conn, values)
        events: list[dict[str, Any]] = []
        data: dict[str, object] = {"channel": inquiry.channel, "subject": subject}
        if found is not None:
            assert found.id is not None
            data["follows"] = format_number(found.id)
            data["why"] = f"{why}; the earlier ticket was resolved too long ago to reopen"
            events.append({"ticket_id": found.id, "kind": "ticket.followed_up",
                           "actor": "intake", "data": {"ticket": format_number(ticket_id)},
                           "created_at": now})
        events.append({"ticket_id": ticket_id, "kind": "ticket.created", "actor": "intake",
                       "data": data, "created_at": now})
        sql.insert_events(conn, events)
        mark_tickets(conn, [ticket_id])  # the supervisor reports' summary rows
        return sql.stored_ticket(session, ticket_id, values), True, False

    def _find_thread(self, session: Session, conn: Connection, inquiry: Inquiry,
                     contact_id: int) -> tuple[Ticket | None, str]:
        hints = inquiry.thread
        if hints.reply_to_ids:
            found = sql.ticket_by_reply(conn, inquiry.channel, hints.reply_to_ids[:50])
            if found is not None:
                return _follow_merges(session, found), "it answers one of the ticket's messages"
        if hints.ticket_number:
            number = parse_number(hints.ticket_number)
            ticket = sql.load_ticket(session, number) if number else None
            # Only the resident's own tickets: a quoted number must not let a
            # stranger write into someone else's conversation.
            if ticket is not None and ticket.contact_id == contact_id:
                return _follow_merges(session, ticket.id or 0), "its subject names the ticket"
        key = conversation_key(inquiry)
        if key is not None:
            found = sql.ticket_by_conversation(conn, key)
            if found is not None:
                return _ticket(session, found), "it continues the same conversation"
        elif inquiry.channel == Channel.PHONE:
            # A call outside a callback thread belongs with the caller's open phone
            # ticket (they called back, or we reached them).
            found = sql.open_phone_ticket(conn, contact_id)
            if found is not None:
                return _ticket(session, found), "the caller has an open phone ticket"
        return None, ""


def _save_ticket(session: Session, conn: Connection, ticket: Ticket, *, created: bool) -> None:
    """Write the ticket's changed columns with one UPDATE and let the session forget it.

    Left to the ORM, the flush of this one object at commit (unit of work,
    change listeners) cost a quarter of intake's time. The supervisor reports'
    marks are written here as the flush's listener would have written them (a
    new ticket is marked already).
    """
    state = sa.inspect(ticket)
    values = state.dict
    changed = {key: values[key] for key, before in state.committed_state.items()
               if key in _COLUMNS and values.get(key) != before}
    if changed:
        names = tuple(sorted(changed))
        update = _UPDATES.get(names)
        if update is None:
            update = _UPDATES[names] = (
                sa.update(_TICKETS).where(_TICKETS.c.id == sa.bindparam("ticket_id"))
                .values({name: sa.bindparam(f"v_{name}") for name in names}))
        conn.execute(update, {"ticket_id": ticket.id,
                              **{f"v_{name}": value for name, value in changed.items()}})
        if not created and any(key in WATCHED for key in changed):
            mark_changed(conn, ticket)
    session.expunge(ticket)


_TICKETS: sa.Table = Ticket.__table__  # type: ignore[attr-defined]
_COLUMNS = frozenset(_TICKETS.c.keys())
# An UPDATE per set of changed columns, built once (a few sets recur).
_UPDATES: dict[tuple[str, ...], sa.Update] = {}


def may_reopen(ticket: Any, now: datetime, window: timedelta) -> bool:
    """A resolved ticket takes the resident's new message within ``window``;
    after that (or once closed) the message opens a new, linked ticket."""
    if ticket.status == TicketStatus.CLOSED:
        return False
    resolved: datetime = ticket.resolved_at or ticket.updated_at
    return now - resolved <= window


def _ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = sql.load_ticket(session, ticket_id)
    if ticket is None:
        raise LookupError(f"no ticket {ticket_id}")
    return ticket


def _follow_merges(session: Session, ticket_id: int) -> Ticket:
    ticket = _ticket(session, ticket_id)
    seen = {ticket_id}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        seen.add(ticket.merged_into_id)
        ticket = _ticket(session, ticket.merged_into_id)
    return ticket


def conversation_key(inquiry: Inquiry) -> str | None:
    conversation = inquiry.thread.conversation_id
    if not conversation:
        return None
    if inquiry.channel == Channel.PHONE and conversation.startswith("callback:"):
        # One callback thread per caller however the phone system wrote the number.
        with contextlib.suppress(InvalidIdentity):
            conversation = "callback:" + normalise_phone(conversation.split(":", 1)[1])
    return f"{inquiry.channel}:{conversation}"[:200]


def ticket_subject(inquiry: Inquiry) -> str:
    subject = (inquiry.subject or "").strip() or first_line(inquiry.text, 120)
    return (subject or f"Pesan {inquiry.channel}")[:300]


def message_meta(inquiry: Inquiry) -> dict[str, object]:
    meta: dict[str, object] = dict(inquiry.meta)
    if inquiry.automated:
        meta["automated"] = True
    if inquiry.raw_ref:
        meta["raw_ref"] = inquiry.raw_ref
    if inquiry.sender.name:
        meta.setdefault("sender_name", inquiry.sender.name)
    return meta
