"""The consultants' pages: the ticket queues, and every consultant route.

Consultants, supervisors and administrators use these pages; supervisors and
administrators see every queue. The workspace and its actions live in
:mod:`helpdesk.web.consultant_tickets` and :mod:`helpdesk.web.consultant_actions`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session, col, func, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from channels.base import Channel
from helpdesk.bootstrap import Services
from helpdesk.models import OPEN_STATUSES, Contact, ContactIdentity, Ticket, User
from helpdesk.web import consultant_actions as actions
from helpdesk.web.auth import current_user, require_role, services_of
from helpdesk.web.consultant_queues import (
    VIEW_BY_KEY,
    VIEWS,
    Cursor,
    Filters,
    QueuePage,
    load_page,
    parse_filters,
)
from helpdesk.web.consultant_tickets import (
    STAFF,
    download,
    inline_image,
    new_messages,
    shows_inline,
    ticket_page,
)
from helpdesk.web.templating import render

CHANNELS = tuple(c.value for c in Channel)


@require_role(*STAFF)
async def queue_page(request: Request) -> Response:
    services = services_of(request)
    user = current_user(request)
    view = VIEW_BY_KEY.get(request.query_params.get("view", "mine"), VIEWS[0])
    filters = parse_filters(request.query_params, CHANNELS)
    after = Cursor.decode(request.query_params.get("after"))
    page, context = await services.store.run(_queue_data, services, user, view.key, filters,
                                             after)
    if page.direct is not None and not request.query_params.get("after"):
        # A ticket number typed in the search box opens that ticket.
        return RedirectResponse(f"/tickets/{page.direct.id}", status_code=303)
    base = {k: v for k, v in {"view": view.key, **_filter_params(filters)}.items() if v}
    next_url = None
    if page.next_cursor is not None:
        next_url = "/tickets?" + urlencode({**base, "after": page.next_cursor.encode()})
    return render(request, "consultants/queue.html", {
        "views": VIEWS, "view": view, "filters": filters, "page": page,
        "channels": CHANNELS, "next_url": next_url,
        "first_url": "/tickets?" + urlencode(base) if after is not None else None,
        "active_section": "tickets", **context,
    })


def _filter_params(filters: Filters) -> dict[str, Any]:
    params = asdict(filters)
    params["queue"] = params.pop("queue_id") or ""
    params["q"] = params.pop("text")
    return params


def _queue_data(services: Services, user: User, view_key: str, filters: Filters,
                after: Cursor | None) -> tuple[QueuePage, dict[str, Any]]:
    now = services.clock()
    with services.store.read() as session:
        page = load_page(session, user, VIEW_BY_KEY[view_key], filters, after, now)
        return page, _row_context(session, page, user, now)


def _row_context(session: Session, page: QueuePage, user: User,
                 now: datetime) -> dict[str, Any]:
    # Names came with the rows; only residents without a name need their
    # identities (an address or a phone number) looked up.
    contacts = dict(page.contact_names)
    unnamed = [cid for cid, name in contacts.items() if not name]
    if unnamed:
        for identity in session.exec(select(ContactIdentity).where(
                col(ContactIdentity.contact_id).in_(unnamed))
                .order_by(col(ContactIdentity.id))):
            contacts[identity.contact_id] = contacts[identity.contact_id] or identity.value
    # Index-backed (assignee, status): a consultant's own open tickets are few.
    mine = session.exec(select(func.count()).select_from(Ticket).where(
        Ticket.assignee_id == user.id, col(Ticket.status).in_(OPEN_STATUSES))).one()
    return {"contacts": contacts, "people": page.assignee_names, "queues": page.queues,
            "queue_names": {q.id: q.title or q.name for q in page.queues}, "mine_count": mine,
            "soon": now.timestamp() + 3600}


@require_role(*STAFF)
async def contact_page(request: Request) -> Response:
    """A resident's card: identities, merges and every ticket, newest first."""
    services = services_of(request)
    contact_id = int(request.path_params["contact_id"])
    data = await services.store.run(_contact_data, services, contact_id)
    if data is None:
        return render(request, "error.html", {"status": 404,
                                              "message": "There is no such resident."},
                      status_code=404)
    return render(request, "consultants/contact.html", {**data, "active_section": "tickets"})


def _contact_data(services: Services, contact_id: int) -> dict[str, Any] | None:
    with services.store.read() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            return None
        return {
            "contact": contact,
            "merged_into": session.get(Contact, contact.merged_into_id)
            if contact.merged_into_id else None,
            "identities": list(session.exec(select(ContactIdentity).where(
                ContactIdentity.contact_id == contact_id).order_by(col(ContactIdentity.id)))),
            "tickets": list(session.exec(select(Ticket).where(Ticket.contact_id == contact_id)
                                         .order_by(col(Ticket.id).desc()).limit(100))),
        }


routes = [
    Route("/tickets", queue_page, methods=["GET"]),
    Route("/tickets/{ticket_id:int}", ticket_page, methods=["GET"]),
    Route("/tickets/{ticket_id:int}/messages", new_messages, methods=["GET"]),
    Route("/tickets/{ticket_id:int}/reply", actions.post_reply, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/note", actions.post_note, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/status", actions.post_status, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/assign", actions.post_assign, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/priority", actions.post_priority, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/queue", actions.post_queue, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/merge", actions.post_merge, methods=["POST"]),
    Route("/tickets/{ticket_id:int}/merge-contact", actions.post_merge_contact,
          methods=["POST"]),
    Route("/tickets/{ticket_id:int}/unmerge-contact", actions.post_unmerge_contact,
          methods=["POST"]),
    Route("/contacts/{contact_id:int}", contact_page, methods=["GET"]),
    Route("/attachments/{attachment_id:int}", download, methods=["GET"]),
    Route("/attachments/{attachment_id:int}/inline", inline_image, methods=["GET"]),
]

__all__ = ["routes", "shows_inline"]
