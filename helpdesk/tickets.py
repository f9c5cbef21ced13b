"""What consultants do to tickets: reply, note, status, assign, merge.

Each action works in the caller's transaction and records an :class:`Event`,
so reports and the SLA clock see it. The web pages call these; they hold no
rules of their own. Two optional hooks come from the routing and SLA work:
an assigner (``assign(session, ticket, user_id, now=, by_user_id=, why=)``) and
an SLA clock (``refresh(session, ticket, now)``); without them the plain
column updates below apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from channels.base import Channel
from helpdesk.models import (
    OPEN_STATUSES,
    AuthorKind,
    Contact,
    ContactIdentity,
    Direction,
    Event,
    Message,
    Ticket,
    TicketStatus,
    User,
)
from helpdesk.outbox import Recipient, queue_reply, recipient_for


class TicketActionError(ValueError):
    """The action cannot be done as asked; the message says why, for the page."""


class Assigning(Protocol):
    def assign(self, session: Session, ticket: Ticket, user_id: int, *, now: datetime,
               by_user_id: int | None = None, why: str = "") -> None: ...


class SlaRefreshing(Protocol):
    def refresh(self, session: Session, ticket: Ticket, now: datetime) -> Any: ...


class Flowing(Protocol):
    """The ticket flow of the routing work: status changes with their SLA,
    webhook, survey and report consequences."""

    def set_status(self, session: Session, ticket: Ticket, to: TicketStatus, *,
                   now: datetime, actor: str = ..., actor_user_id: int | None = ...,
                   why: str = ..., survey: bool = ..., refresh_sla: bool = ...) -> bool: ...

    def after_reply(self, session: Session, ticket: Ticket, *, now: datetime,
                    by_user_id: int | None, message_id: int | None = ...) -> None: ...


@dataclass(frozen=True, slots=True)
class Hooks:
    assigner: Assigning | None = None
    sla: SlaRefreshing | None = None
    flow: Flowing | None = None


NO_HOOKS = Hooks()
STATUSES = tuple(s.value for s in TicketStatus if s is not TicketStatus.NEW)


def _refresh_sla(hooks: Hooks, session: Session, ticket: Ticket, now: datetime) -> None:
    if hooks.sla is not None:
        session.flush()  # the clock replays events, including the ones just added
        hooks.sla.refresh(session, ticket, now)


def reply(session: Session, ticket: Ticket, text: str, *, user_id: int, now: datetime,
          channel: str | None = None, identity_id: int | None = None,
          then_status: str | None = None, mail_domain: str = "ptsp.localhost",
          hooks: Hooks = NO_HOOKS) -> Message:
    """A consultant's answer, sent on the ticket's channel or a chosen identity."""
    text = text.strip()
    if not text:
        raise TicketActionError("The reply is empty.")
    if ticket.merged_into_id is not None:
        raise TicketActionError("This ticket was merged; reply on the ticket it was merged into.")
    target: Recipient = recipient_for(session, ticket, Channel(channel) if channel else None,
                                      identity_id)
    message = queue_reply(session, ticket, text, now=now, author_kind=AuthorKind.CONSULTANT,
                          author_user_id=user_id, recipient=target, mail_domain=mail_domain)
    if ticket.assignee_id is None:
        # Whoever answers an unassigned ticket has taken it.
        assign(session, ticket, user_id, by_user_id=user_id, now=now, hooks=hooks,
               why="answered it")
    if hooks.flow is not None:
        session.flush()  # the flow's clock replays events, including this reply's
        hooks.flow.after_reply(session, ticket, now=now, by_user_id=user_id,
                               message_id=message.id)
        if then_status and then_status != ticket.status:
            change_status(session, ticket, then_status, user_id=user_id, now=now, hooks=hooks)
        return message
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    if then_status and then_status != ticket.status:
        change_status(session, ticket, then_status, user_id=user_id, now=now, hooks=hooks)
    elif ticket.status == TicketStatus.NEW:
        change_status(session, ticket, TicketStatus.OPEN, user_id=user_id, now=now, hooks=hooks)
    else:
        _refresh_sla(hooks, session, ticket, now)
    return message


def add_note(session: Session, ticket: Ticket, text: str, *, user_id: int,
             now: datetime) -> Message:
    """An internal note: seen by staff only, never sent."""
    text = text.strip()
    if not text:
        raise TicketActionError("The note is empty.")
    assert ticket.id is not None
    note = Message(ticket_id=ticket.id, direction=Direction.NOTE, channel="note",
                   external_id=f"note:{uuid.uuid4().hex}", author_kind=AuthorKind.CONSULTANT,
                   author_user_id=user_id, text=text, created_at=now)
    session.add(note)
    session.flush()
    session.add(Event(ticket_id=ticket.id, kind="note.added", actor="consultant",
                      actor_user_id=user_id, data={"message_id": note.id}, created_at=now))
    ticket.updated_at = now
    return note


def change_status(session: Session, ticket: Ticket, status: str, *, user_id: int,
                  now: datetime, hooks: Hooks = NO_HOOKS) -> None:
    if status not in {s.value for s in TicketStatus}:
        raise TicketActionError(f"Unknown status {status!r}.")
    if ticket.merged_into_id is not None:
        raise TicketActionError("This ticket was merged into another; change that one.")
    previous = ticket.status
    if previous == status:
        return
    if hooks.flow is not None:
        session.flush()
        hooks.flow.set_status(session, ticket, TicketStatus(status), now=now,
                              actor_user_id=user_id)
        return
    ticket.status = status
    ticket.updated_at = now
    if status == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif status == TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
    session.add(Event(ticket_id=ticket.id, kind="ticket.status", actor="consultant",
                      actor_user_id=user_id, data={"from": previous, "to": status},
                      created_at=now))
    _refresh_sla(hooks, session, ticket, now)


def assign(session: Session, ticket: Ticket, user_id: int | None, *, by_user_id: int,
           now: datetime, hooks: Hooks = NO_HOOKS, why: str = "") -> None:
    """Give the ticket to a consultant, or back to its queue (``user_id`` None)."""
    previous = ticket.assignee_id
    if previous == user_id:
        return
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise TicketActionError("That consultant does not exist or is deactivated.")
        if hooks.assigner is not None:
            hooks.assigner.assign(session, ticket, user_id, now=now, by_user_id=by_user_id,
                                  why=why)
            return
    ticket.assignee_id = user_id
    ticket.updated_at = now
    kind = "ticket.assigned" if user_id is not None else "ticket.unassigned"
    session.add(Event(ticket_id=ticket.id, kind=kind, actor="consultant",
                      actor_user_id=by_user_id,
                      data={"to": user_id, "from": previous, "manual": True,
                            "why": why or ("reassigned" if previous else "assigned")},
                      created_at=now))


def set_priority(session: Session, ticket: Ticket, priority: int, *, user_id: int,
                 now: datetime) -> None:
    if priority not in (1, 2, 3):
        raise TicketActionError("Priority is 1 (urgent), 2 (normal) or 3 (low).")
    if ticket.priority == priority:
        return
    session.add(Event(ticket_id=ticket.id, kind="ticket.priority", actor="consultant",
                      actor_user_id=user_id, data={"from": ticket.priority, "to": priority},
                      created_at=now))
    ticket.priority = priority
    ticket.updated_at = now


def merge_tickets(session: Session, source: Ticket, target: Ticket, *, user_id: int,
                  now: datetime) -> int:
    """Move every message of ``source`` onto ``target`` and close ``source``.

    Later messages threaded to ``source`` follow ``merged_into_id`` to the target.
    Returns how many messages moved.
    """
    if source.id == target.id:
        raise TicketActionError("A ticket cannot be merged into itself.")
    if target.merged_into_id is not None:
        raise TicketActionError("The target ticket was itself merged; use the one it went into.")
    if source.merged_into_id is not None:
        raise TicketActionError("This ticket was already merged.")
    moved = session.execute(
        sa.update(Message).where(col(Message.ticket_id) == source.id)
        .values(ticket_id=target.id)).rowcount  # type: ignore[attr-defined]
    previous = source.status
    source.merged_into_id = target.id
    source.status = TicketStatus.CLOSED
    source.closed_at = now
    source.updated_at = now
    target.updated_at = now
    if source.last_message_at and (target.last_message_at is None
                                   or source.last_message_at > target.last_message_at):
        target.last_message_at = source.last_message_at
    if target.status not in OPEN_STATUSES and previous in OPEN_STATUSES:
        target.status = TicketStatus.OPEN
        target.resolved_at = None
        session.add(Event(ticket_id=target.id, kind="ticket.status", actor="consultant",
                          actor_user_id=user_id, data={"from": TicketStatus.RESOLVED,
                                                       "to": TicketStatus.OPEN,
                                                       "why": "merged an open ticket into it"},
                          created_at=now))
    session.add(Event(ticket_id=source.id, kind="ticket.merged", actor="consultant",
                      actor_user_id=user_id, data={"into": target.id, "messages": moved},
                      created_at=now))
    session.add(Event(ticket_id=source.id, kind="ticket.status", actor="consultant",
                      actor_user_id=user_id, data={"from": previous, "to": TicketStatus.CLOSED,
                                                   "why": "merged"}, created_at=now))
    session.add(Event(ticket_id=target.id, kind="ticket.merged_from", actor="consultant",
                      actor_user_id=user_id, data={"from": source.id, "messages": moved},
                      created_at=now))
    return int(moved or 0)


# -- contacts -------------------------------------------------------------------
def merge_contacts(session: Session, source_id: int, target_id: int, *, user_id: int,
                   now: datetime) -> Event:
    """One resident known twice: move the identities and tickets of ``source``
    to ``target``. The merge is recorded so :func:`undo_contact_merge` can
    restore exactly what moved."""
    if source_id == target_id:
        raise TicketActionError("A contact cannot be merged into itself.")
    source = session.get(Contact, source_id)
    target = session.get(Contact, target_id)
    if source is None or target is None:
        raise TicketActionError("No such contact.")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise TicketActionError("One of these contacts was already merged into another.")
    identities = list(session.exec(select(ContactIdentity)
                                   .where(ContactIdentity.contact_id == source_id)))
    tickets = list(session.exec(select(Ticket.id).where(Ticket.contact_id == source_id)))
    for identity in identities:
        identity.contact_id = target_id
        identity.merged_from_id = source_id
    session.execute(sa.update(Ticket).where(col(Ticket.contact_id) == source_id)
                    .values(contact_id=target_id))
    source.merged_into_id = target_id
    if not target.name and source.name:
        target.name = source.name
    data = {"source": source_id, "target": target_id,
            "identities": [i.id for i in identities], "tickets": tickets}
    merge = Event(kind="contact.merged", actor="consultant", actor_user_id=user_id,
                  data=data, created_at=now)
    session.add(merge)
    for ticket_id in tickets:
        session.add(Event(ticket_id=ticket_id, kind="contact.merged", actor="consultant",
                          actor_user_id=user_id, data=data, created_at=now))
    session.flush()
    return merge


def undo_contact_merge(session: Session, source_id: int, *, user_id: int,
                       now: datetime) -> int:
    """Split ``source`` out again: its identities and tickets go back to it.

    Returns the contact it was split from."""
    source = session.get(Contact, source_id)
    if source is None or source.merged_into_id is None:
        raise TicketActionError("This contact is not merged into another.")
    target_id = source.merged_into_id
    merge = session.exec(
        select(Event).where(Event.kind == "contact.merged", col(Event.ticket_id).is_(None),
                            Event.data["source"].as_integer() == source_id,
                            Event.data["target"].as_integer() == target_id)
        .order_by(col(Event.id).desc())).first()
    tickets: Sequence[int] = merge.data.get("tickets", []) if merge is not None else []
    identities = session.exec(select(ContactIdentity).where(
        ContactIdentity.contact_id == target_id, ContactIdentity.merged_from_id == source_id))
    for identity in identities:
        identity.contact_id = source_id
        identity.merged_from_id = None
    if tickets:
        session.execute(sa.update(Ticket).where(col(Ticket.id).in_(list(tickets)),
                                                col(Ticket.contact_id) == target_id)
                        .values(contact_id=source_id))
    source.merged_into_id = None
    data = {"source": source_id, "target": target_id, "tickets": list(tickets)}
    session.add(Event(kind="contact.unmerged", actor="consultant", actor_user_id=user_id,
                      data=data, created_at=now))
    for ticket_id in tickets:
        session.add(Event(ticket_id=ticket_id, kind="contact.unmerged", actor="consultant",
                          actor_user_id=user_id, data=data, created_at=now))
    return target_id


def merged_contacts(session: Session, contact_id: int) -> list[Contact]:
    """Contacts merged into this one (each can be split out again)."""
    return list(session.exec(select(Contact).where(Contact.merged_into_id == contact_id)
                             .order_by(col(Contact.id))))


def open_ticket_count(session: Session, user_id: int) -> int:
    return session.exec(select(func.count()).select_from(Ticket).where(
        Ticket.assignee_id == user_id, col(Ticket.status).in_(OPEN_STATUSES))).one()
