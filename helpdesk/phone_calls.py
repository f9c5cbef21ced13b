"""What a phone call does to its ticket, whether it came from the phone system's
call log or a consultant logged it by hand.

A missed call opens (or joins) a callback ticket in the callback queue. An
answered call is a conversation that already happened: the ticket is resolved,
the consultant who took it is its assignee and first responder, and a
consultant reopens it when the resident needs more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from helpdesk.intake import ensure_queue
from helpdesk.models import Event, Ticket, TicketStatus


@dataclass(frozen=True, slots=True)
class CallOutcome:
    answered: bool
    callback_needed: bool
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    consultant_id: int | None = None
    # How the consultant is named in the event ("extension 201", a name).
    by: str = ""


def settle_call(session: Session, ticket_id: int, call: CallOutcome, *, created: bool,
                callback_queue: str, now: datetime) -> None:
    ticket = session.get_one(Ticket, ticket_id)
    if call.callback_needed:
        if created:
            ticket.queue_id = ensure_queue(session, callback_queue)
        return
    if not call.answered:
        return
    answered_at = call.answered_at or call.started_at
    if call.consultant_id is not None and ticket.assignee_id is None:
        ticket.assignee_id = call.consultant_id
    if ticket.first_response_at is None:
        ticket.first_response_at = answered_at
    if ticket.status in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING):
        previous = ticket.status
        ticket.status = TicketStatus.RESOLVED
        ticket.resolved_at = call.ended_at or answered_at
        why = "the call was answered" + (f" by {call.by}" if call.by else "")
        session.add(Event(ticket_id=ticket.id, kind="ticket.status", actor="phone",
                          actor_user_id=call.consultant_id,
                          data={"from": previous, "to": "resolved", "why": why},
                          created_at=now))
