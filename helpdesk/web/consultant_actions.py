"""What a consultant does from the ticket workspace, as form posts.

Each handler runs one :mod:`helpdesk.tickets` action in one transaction, then
redirects back to the ticket (post/redirect/get) with a short notice. A refused
action keeps the consultant's draft so nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from helpdesk.bootstrap import Services
from helpdesk.identities import InvalidIdentity, normalise
from helpdesk.models import ContactIdentity, Event, Queue, Ticket, User
from helpdesk.outbox import NoRecipient
from helpdesk.ticket_numbers import parse_number
from helpdesk.tickets import (
    Hooks,
    TicketActionError,
    add_note,
    assign,
    change_status,
    merge_contacts,
    merge_tickets,
    reply,
    set_priority,
    undo_contact_merge,
)
from helpdesk.web.auth import current_user, require_role, services_of
from helpdesk.web.consultant_tickets import STAFF, not_found, ticket_id_of

Action = Callable[[Session, Ticket, FormData, User, datetime], str]


def hooks_of(services: Services) -> Hooks:
    """The assigner, SLA clock and ticket flow of the routing work."""
    decisions = services.decisions
    return Hooks(assigner=decisions.assigner, sla=decisions.sla, flow=decisions.flow)


def field(form: FormData, name: str, limit: int = 20_000) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def _act(request: Request, action: Action, *, keep_draft: str | None = None) -> Response:
    services = services_of(request)
    ticket_id = ticket_id_of(request)
    if ticket_id is None:
        return not_found(request)
    form = await request.form()
    user = current_user(request)

    def work(session: Session) -> str | None:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        return action(session, ticket, form, user, services.clock())

    try:
        done = await services.store.run(services.store.write_retrying, work)
    except (TicketActionError, NoRecipient, ValueError) as exc:
        request.session["flash"] = {"kind": "error", "text": str(exc)}
        if keep_draft:
            request.session["draft"] = {"kind": keep_draft, "text": field(form, "text")}
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)
    if done is None:
        return not_found(request)
    request.session["flash"] = {"kind": "ok", "text": done}
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@require_role(*STAFF)
async def post_reply(request: Request) -> Response:
    services = services_of(request)
    hooks = hooks_of(services)

    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        target = field(form, "target", 100)
        identity_id = int(target[9:]) if target.startswith("identity:") and \
            target[9:].isdigit() else None
        assert user.id is not None
        reply(session, ticket, field(form, "text"), user_id=user.id, now=now,
              identity_id=identity_id, then_status=field(form, "then_status", 20) or None,
              mail_domain=services.mail_domain, hooks=hooks)
        return "Reply queued for sending."

    response = await _act(request, action, keep_draft="reply")
    # The outbox sends at once instead of at its next poll.
    services.dispatcher.wakeup.set()
    return response


@require_role(*STAFF)
async def post_note(request: Request) -> Response:
    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        add_note(session, ticket, field(form, "text"), user_id=user.id, now=now)
        return "Note added."

    return await _act(request, action, keep_draft="note")


@require_role(*STAFF)
async def post_status(request: Request) -> Response:
    hooks = hooks_of(services_of(request))

    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        change_status(session, ticket, field(form, "status", 20), user_id=user.id, now=now,
                      hooks=hooks)
        return "Status changed."

    return await _act(request, action)


@require_role(*STAFF)
async def post_assign(request: Request) -> Response:
    hooks = hooks_of(services_of(request))

    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        chosen = field(form, "assignee", 20)
        target = user.id if chosen == "me" else int(chosen) if chosen.isdigit() else None
        assign(session, ticket, target, by_user_id=user.id, now=now, hooks=hooks,
               why=field(form, "why", 300))
        return "Assignment changed." if target is not None else "Returned to the queue."

    return await _act(request, action)


@require_role(*STAFF)
async def post_priority(request: Request) -> Response:
    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        value = field(form, "priority", 2)
        set_priority(session, ticket, int(value) if value.isdigit() else 0, user_id=user.id,
                     now=now)
        return "Priority changed."

    return await _act(request, action)


@require_role(*STAFF)
async def post_queue(request: Request) -> Response:
    hooks = hooks_of(services_of(request))

    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        value = field(form, "queue", 20)
        queue = session.get(Queue, int(value)) if value.isdigit() else None
        if queue is None:
            raise TicketActionError("No such queue.")
        if queue.id == ticket.queue_id:
            return "The ticket is already in that queue."
        session.add(Event(ticket_id=ticket.id, kind="ticket.moved", actor="consultant",
                          actor_user_id=user.id,
                          data={"from": ticket.queue_id, "to": queue.id, "queue": queue.name,
                                "why": field(form, "why", 300) or "moved by hand"},
                          created_at=now))
        ticket.queue_id = queue.id
        ticket.updated_at = now
        if hooks.sla is not None:
            session.flush()
            hooks.sla.refresh(session, ticket, now)
        return "Moved to another queue."

    return await _act(request, action)


@require_role(*STAFF)
async def post_merge(request: Request) -> Response:
    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        number = parse_number(field(form, "into", 40).strip())
        target = session.get(Ticket, number) if number is not None else None
        if target is None:
            raise TicketActionError("There is no ticket with that number.")
        moved = merge_tickets(session, ticket, target, user_id=user.id, now=now)
        return f"Merged: {moved} message(s) moved to {target.number}."

    return await _act(request, action)


def find_contact(session: Session, text: str) -> int | None:
    """A contact named by a ticket number or one of its identities."""
    text = text.strip()
    number = parse_number(text)
    if number is not None:
        ticket = session.get(Ticket, number)
        return ticket.contact_id if ticket is not None else None
    candidates: list[tuple[str, str]] = []
    for kind in ("email", "phone", "telegram", "webchat"):
        try:
            candidates.append((kind, normalise(kind, text)))
        except (InvalidIdentity, ValueError):
            continue
    for kind, value in candidates:
        found = session.exec(select(ContactIdentity.contact_id).where(
            ContactIdentity.kind == kind, col(ContactIdentity.value) == value)).first()
        if found is not None:
            return found
    return None


@require_role(*STAFF)
async def post_merge_contact(request: Request) -> Response:
    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        other = find_contact(session, field(form, "other", 320))
        if other is None:
            raise TicketActionError("No resident found with that ticket number or identity.")
        # The resident of this ticket stays; the other one is merged into them.
        merge_contacts(session, other, ticket.contact_id, user_id=user.id, now=now)
        return "Residents merged."

    return await _act(request, action)


@require_role(*STAFF)
async def post_unmerge_contact(request: Request) -> Response:
    def action(session: Session, ticket: Ticket, form: FormData, user: User,
               now: datetime) -> str:
        assert user.id is not None
        value = field(form, "contact", 20)
        if not value.isdigit():
            raise TicketActionError("No such contact.")
        undo_contact_merge(session, int(value), user_id=user.id, now=now)
        return "Merge undone."

    return await _act(request, action)


def flash_text(flash: dict[str, Any] | None) -> str:
    return str(flash.get("text", "")) if flash else ""
