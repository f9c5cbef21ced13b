"""The JSON API for trusted integrations: inquiries in, tickets out.

Every refusal is a 4xx whose body names the problem; a refused request changes
nothing.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.base import Channel, Identity, Inquiry, ThreadHints
from helpdesk.bootstrap import Services
from helpdesk.intake import RejectedInquiry
from helpdesk.models import (
    Attachment,
    Contact,
    Message,
    Queue,
    Ticket,
    TicketStatus,
    User,
)
from helpdesk.ticket_numbers import parse_number
from helpdesk.web.api_schemas import InquiryIn, received_or
from helpdesk.web.responses import error

Handler = Callable[[Request], Awaitable[Response]]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def require_token(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        expected = services_of(request).config.server.api_token
        if not expected:
            return error(403, "the API is disabled: the server has no API token "
                              "(set the environment variable named by server.api_token_env)")
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return error(401, "missing bearer token (send 'Authorization: Bearer <token>')")
        if not hmac.compare_digest(token.strip().encode(), expected.encode()):
            return error(401, "invalid bearer token")
        return await handler(request)

    return guarded


async def read_json(request: Request, limit: int) -> Any | Response:
    """The request's JSON body, or the error response that refuses it."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return error(415, "send the body as JSON with 'Content-Type: application/json'")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return error(413, f"body too large: {declared} bytes, the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return error(413, f"body too large: the limit is {limit} bytes")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return error(400, f"body is not valid JSON: {exc}")


def validation_error(exc: ValidationError) -> Response:
    problems = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
                for e in exc.errors()]
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    return error(422, f"invalid inquiry: {summary}", problems=problems)


@require_token
async def post_inquiry(request: Request) -> Response:
    services = services_of(request)
    body = await read_json(request, services.config.server.max_body_bytes)
    if isinstance(body, Response):
        return body
    try:
        data = InquiryIn.model_validate(body)
    except ValidationError as exc:
        return validation_error(exc)
    inquiry = Inquiry(
        channel=data.channel, external_id=data.external_id,
        sender=Identity(data.sender.kind, data.sender.value, data.sender.name),
        subject=data.subject, text=data.text,
        received_at=received_or(data.received_at, services.clock()),
        thread=ThreadHints(reply_to_ids=tuple(data.thread.reply_to_ids),
                           ticket_number=data.thread.ticket_number,
                           conversation_id=data.thread.conversation_id),
        raw_ref="api",
    )
    try:
        result = await services.store.run(services.intake.receive, inquiry)
    except RejectedInquiry as exc:
        return error(422, f"invalid inquiry: sender.value: {exc}")
    return JSONResponse(
        {"ticket": result.ticket_number, "created": result.created,
         "duplicate": result.duplicate, "message_id": result.message_id},
        status_code=200 if result.duplicate else 201,
    )


_STATUSES = {s.value for s in TicketStatus}
_CHANNELS = {c.value for c in Channel}


@require_token
async def list_tickets(request: Request) -> Response:
    services = services_of(request)
    params = request.query_params
    unknown = set(params) - {"status", "channel", "queue", "page", "per_page"}
    if unknown:
        return error(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    status, channel, queue = params.get("status"), params.get("channel"), params.get("queue")
    if status and status not in _STATUSES:
        return error(400, f"status must be one of {', '.join(sorted(_STATUSES))}")
    if channel and channel not in _CHANNELS:
        return error(400, f"channel must be one of {', '.join(sorted(_CHANNELS))}")
    page = _positive(params.get("page", "1"))
    per_page = _positive(params.get("per_page", "25"))
    if page is None:
        return error(400, "page must be a positive integer")
    if per_page is None or per_page > 100:
        return error(400, "per_page must be an integer from 1 to 100")
    result = await services.store.run(_list_tickets, services, status, channel, queue, page,
                                      per_page)
    return JSONResponse(result)


def _list_tickets(services: Services, status: str | None, channel: str | None,
                  queue: str | None, page: int, per_page: int) -> dict[str, Any]:
    with services.store.read() as session:
        conditions: list[Any] = [col(Ticket.merged_into_id).is_(None)]
        if status:
            conditions.append(Ticket.status == status)
        if channel:
            conditions.append(Ticket.channel == channel)
        if queue:
            queue_id = session.exec(select(Queue.id).where(Queue.name == queue)).first()
            conditions.append(Ticket.queue_id == (queue_id or -1))
        total = session.exec(select(func.count()).select_from(Ticket).where(*conditions)).one()
        rows = session.exec(
            select(Ticket).where(*conditions).order_by(col(Ticket.id).desc())
            .offset((page - 1) * per_page).limit(per_page)
        ).all()
        names = _names(session, rows)
        return {"total": total, "page": page, "per_page": per_page,
                "tickets": [ticket_json(t, names) for t in rows]}


@require_token
async def get_ticket(request: Request) -> Response:
    services = services_of(request)
    number = request.path_params["number"]
    ticket_id = parse_number(number)
    if ticket_id is None:
        return error(404, f"no ticket {number!r}: ticket numbers look like PTSP-000123")
    found = await services.store.run(_ticket_detail, services, ticket_id)
    if found is None:
        return error(404, f"no ticket {number}")
    return JSONResponse(found)


def _ticket_detail(services: Services, ticket_id: int) -> dict[str, Any] | None:
    with services.store.read() as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None:
            return None
        names = _names(session, [ticket])
        messages = session.exec(select(Message).where(Message.ticket_id == ticket_id)
                                .order_by(col(Message.created_at), col(Message.id))).all()
        files: dict[int, list[dict[str, Any]]] = {}
        ids = [m.id for m in messages if m.id is not None]
        for a in session.exec(select(Attachment).where(col(Attachment.message_id).in_(ids))):
            files.setdefault(a.message_id, []).append(
                {"id": a.id, "filename": a.filename, "content_type": a.content_type,
                 "size": a.size})
        contact = session.get(Contact, ticket.contact_id)
        data = ticket_json(ticket, names)
        data["contact"] = {"id": ticket.contact_id, "name": contact.name if contact else ""}
        data["messages"] = [
            {"id": m.id, "direction": m.direction, "channel": m.channel,
             "author": m.author_kind, "subject": m.subject, "text": m.text,
             "created_at": _iso(m.created_at), "attachments": files.get(m.id or 0, [])}
            for m in messages
        ]
        return data


def _names(session: Session, tickets: Any) -> dict[str, dict[int, str]]:
    queue_ids = {t.queue_id for t in tickets if t.queue_id}
    user_ids = {t.assignee_id for t in tickets if t.assignee_id}
    queues: dict[int, str] = {
        (row[0] or 0): row[1] for row in session.exec(
            select(Queue.id, Queue.name).where(col(Queue.id).in_(queue_ids)))}
    users: dict[int, str] = {
        (row[0] or 0): row[1] for row in session.exec(
            select(User.id, User.name).where(col(User.id).in_(user_ids)))}
    return {"queue": queues, "user": users}


def ticket_json(ticket: Ticket, names: dict[str, dict[int, str]]) -> dict[str, Any]:
    return {
        "number": ticket.number, "subject": ticket.subject, "status": ticket.status,
        "channel": ticket.channel, "priority": ticket.priority, "category": ticket.category,
        "queue": names["queue"].get(ticket.queue_id or 0),
        "assignee": names["user"].get(ticket.assignee_id or 0),
        "created_at": _iso(ticket.created_at),
        "first_response_at": _iso(ticket.first_response_at),
        "resolved_at": _iso(ticket.resolved_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _positive(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


routes = [
    Route("/api/v1/inquiries", post_inquiry, methods=["POST"]),
    Route("/api/v1/tickets", list_tickets, methods=["GET"]),
    Route("/api/v1/tickets/{number}", get_ticket, methods=["GET"]),
]
