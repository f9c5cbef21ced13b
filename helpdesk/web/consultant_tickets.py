"""The ticket workspace: the conversation across channels, the resident, the
FAQ answers that fit, the history; and attachment downloads.

Resident text is untrusted. Plain text is escaped by the templates. HTML from
email was sanitised at intake and is sanitised again here with nh3 before it
is marked safe, so a page never depends on what an older version stored.
Attachments are always downloads, except images whose stored type and first
bytes agree, which may be shown inline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import nh3
from markupsafe import Markup
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response

from helpdesk.bootstrap import Services
from helpdesk.models import (
    Attachment,
    CannedReply,
    Contact,
    ContactIdentity,
    Direction,
    Event,
    Message,
    OutboxItem,
    Queue,
    Role,
    Ticket,
    User,
)
from helpdesk.tickets import merged_contacts
from helpdesk.web.auth import current_user, require_role, services_of
from helpdesk.web.templating import jakarta, render

STAFF = (Role.CONSULTANT, Role.SUPERVISOR)
MESSAGE_LIMIT = 300
EVENT_LIMIT = 150
# Image types shown inline, each with the first bytes its files start with.
INLINE_IMAGES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_ALLOWED_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em",
                 "h1", "h2", "h3", "h4", "hr", "i", "li", "ol", "p", "pre", "s", "small",
                 "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr",
                 "u", "ul"}


def safe_html(html: str) -> Markup:
    """Resident HTML made inert: no scripts, handlers, styles, images or odd URLs."""
    cleaned = nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                        url_schemes={"http", "https", "mailto"},
                        link_rel="noopener noreferrer nofollow", strip_comments=True)
    return Markup(cleaned)  # noqa: S704 - nh3 output is the sanitised form


def image_ok(content_type: str, head: bytes) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    magics = INLINE_IMAGES.get(kind)
    if not magics or not any(head.startswith(m) for m in magics):
        return False
    return kind != "image/webp" or head[8:12] == b"WEBP"


@dataclass(slots=True)
class Workspace:
    ticket: Ticket
    contact: Contact
    identities: list[ContactIdentity]
    messages: list[Message]
    earlier_hidden: bool
    attachments: dict[int, list[Attachment]]
    deliveries: dict[int, OutboxItem]
    people: dict[int, User]
    queues: list[Queue]
    staff: list[User]
    past_tickets: list[Ticket]
    merged_in: list[Contact]
    events: list[Event]
    canned: list[CannedReply]
    latest_question: str = ""
    merged_into: Ticket | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def load_workspace(session: Session, ticket_id: int) -> Workspace | None:
    # The ticket and its resident together: on PostgreSQL every statement is
    # a round trip to the server.
    found = session.exec(select(Ticket, Contact).join(
        Contact, col(Contact.id) == col(Ticket.contact_id)).where(Ticket.id == ticket_id)).first()
    if found is None:
        return None
    ticket, contact = found
    identities = list(session.exec(select(ContactIdentity)
                                   .where(ContactIdentity.contact_id == contact.id)
                                   .order_by(col(ContactIdentity.id))))
    newest = list(session.exec(select(Message).where(Message.ticket_id == ticket_id)
                               .order_by(col(Message.id).desc()).limit(MESSAGE_LIMIT + 1)))
    earlier_hidden = len(newest) > MESSAGE_LIMIT
    messages = sorted(newest[:MESSAGE_LIMIT], key=lambda m: (m.created_at, m.id or 0))
    message_ids = [m.id for m in messages if m.id is not None]
    attachments: dict[int, list[Attachment]] = {}
    deliveries: dict[int, OutboxItem] = {}
    if message_ids:
        for a in session.exec(select(Attachment).where(col(Attachment.message_id)
                                                       .in_(message_ids))):
            attachments.setdefault(a.message_id, []).append(a)
        out_ids = [m.id for m in messages if m.direction == Direction.OUT and m.id]
        if out_ids:
            for item in session.exec(select(OutboxItem).where(col(OutboxItem.message_id)
                                                              .in_(out_ids))):
                if item.message_id is not None:
                    deliveries[item.message_id] = item
    events = list(session.exec(select(Event).where(Event.ticket_id == ticket_id)
                               .order_by(col(Event.id).desc()).limit(EVENT_LIMIT)))
    staff = list(session.exec(select(User).where(col(User.active).is_(True))
                              .order_by(col(User.name), col(User.id))))
    people = {u.id: u for u in staff if u.id is not None}
    wanted = {m.author_user_id for m in messages} | {e.actor_user_id for e in events}
    missing = [i for i in wanted if i is not None and i not in people]
    if missing:
        for u in session.exec(select(User).where(col(User.id).in_(missing))):
            if u.id is not None:
                people[u.id] = u
    past = list(session.exec(select(Ticket).where(Ticket.contact_id == contact.id,
                                                  col(Ticket.id) != ticket_id)
                             .order_by(col(Ticket.id).desc()).limit(10)))
    latest = next((m.text for m in reversed(messages) if m.direction == Direction.IN
                   and m.text.strip()), "")
    return Workspace(
        ticket=ticket, contact=contact, identities=identities, messages=messages,
        earlier_hidden=earlier_hidden, attachments=attachments, deliveries=deliveries,
        people=people,
        queues=list(session.exec(select(Queue).order_by(col(Queue.name)))),
        staff=[u for u in staff if u.role in (Role.CONSULTANT, Role.SUPERVISOR, Role.ADMIN)],
        past_tickets=past, merged_in=merged_contacts(session, contact.id or 0), events=events,
        canned=list(session.exec(select(CannedReply).where(col(CannedReply.active).is_(True))
                                 .order_by(col(CannedReply.title)))),
        latest_question=latest,
        merged_into=session.get(Ticket, ticket.merged_into_id) if ticket.merged_into_id else None,
    )


def ticket_id_of(request: Request) -> int | None:
    raw = request.path_params.get("ticket_id")
    return raw if isinstance(raw, int) else None


@require_role(*STAFF)
async def ticket_page(request: Request) -> Response:
    services = services_of(request)
    ticket_id = ticket_id_of(request)
    if ticket_id is None:
        return not_found(request)
    workspace = await services.store.run(_load, services, ticket_id)
    if workspace is None:
        return not_found(request)
    suggestions = []
    if workspace.latest_question:
        suggestions = await services.store.run(services.knowledge.suggest,
                                               workspace.latest_question, 3)
    flash = request.session.pop("flash", None)
    draft = request.session.pop("draft", None)
    return render(request, "consultants/ticket.html", {
        "w": workspace, "t": workspace.ticket, "suggestions": suggestions,
        "flash": flash, "draft": draft, "active_section": "tickets",
        "safe_html": safe_html, "describe": describe_event,
        "me": current_user(request),
    })


def _load(services: Services, ticket_id: int) -> Workspace | None:
    with services.store.read() as session:
        return load_workspace(session, ticket_id)


def not_found(request: Request) -> Response:
    return render(request, "error.html", {"status": 404,
                                          "message": "There is no such ticket."},
                  status_code=404)


@require_role(*STAFF)
async def new_messages(request: Request) -> Response:
    """The messages after ``after`` as HTML pieces, for the live conversation."""
    services = services_of(request)
    ticket_id = ticket_id_of(request)
    after = request.query_params.get("after", "0")
    if ticket_id is None or not after.isdigit():
        return not_found(request)
    workspace = await services.store.run(_load, services, ticket_id)
    if workspace is None:
        return not_found(request)
    fresh = [m for m in workspace.messages if (m.id or 0) > int(after)]
    return render(request, "consultants/_messages.html", {
        "w": workspace, "messages": fresh, "safe_html": safe_html})


# -- attachments ----------------------------------------------------------------
def _attachment(services: Services, attachment_id: int) -> Attachment | None:
    with services.store.read() as session:
        return session.get(Attachment, attachment_id)


def _disposition(kind: str, filename: str) -> str:
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_"
                         for c in filename) or "lampiran"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def _stored_file(request: Request) -> tuple[Attachment, bytes] | Response:
    """The attachment the path names and its bytes, or the not-found page."""
    services = services_of(request)
    attachment = await services.store.run(_attachment, services,
                                          int(request.path_params["attachment_id"]))
    if attachment is None:
        return not_found(request)
    try:
        data = await services.store.run(services.files.read, attachment.sha256)
    except (FileNotFoundError, ValueError):
        return not_found(request)
    return attachment, data


@require_role(*STAFF)
async def download(request: Request) -> Response:
    found = await _stored_file(request)
    if isinstance(found, Response):
        return found
    attachment, data = found
    # Never rendered by the browser: a download, typed as opaque bytes.
    return Response(data, media_type="application/octet-stream", headers={
        "content-disposition": _disposition("attachment", attachment.filename),
        "content-security-policy": "default-src 'none'; sandbox",
    })


@require_role(*STAFF)
async def inline_image(request: Request) -> Response:
    found = await _stored_file(request)
    if isinstance(found, Response):
        return found
    attachment, data = found
    if not image_ok(attachment.content_type, data[:16]):
        return render(request, "error.html", {"status": 415, "message":
                      "This file is not a picture that can be shown; download it instead."},
                      status_code=415)
    kind = attachment.content_type.split(";")[0].strip().lower()
    return Response(data, media_type=kind, headers={
        "content-disposition": _disposition("inline", attachment.filename),
        "content-security-policy": "default-src 'none'; sandbox",
    })


def shows_inline(attachment: Attachment) -> bool:
    """Worth an <img>: the route checks the bytes before serving it."""
    return attachment.content_type.split(";")[0].strip().lower() in INLINE_IMAGES


# -- the history, in words ------------------------------------------------------------
def _due_text(value: Any) -> str:
    """Due times are stored in events as ISO text; show them as Jakarta time."""
    try:
        return jakarta(datetime.fromisoformat(str(value)))
    except ValueError:
        return "?"


def describe_event(event: Event, people: dict[int, User], queues: Sequence[Queue],
                   gettext: Any) -> tuple[str, str]:
    """A headline and the reason, for "why is this ticket in my queue"."""
    data = event.data or {}
    _ = gettext

    def person(uid: Any) -> str:
        user = people.get(uid) if isinstance(uid, int) else None
        return (user.name or user.email) if user else _("nobody")

    def queue(qid: Any) -> str:
        for q in queues:
            if q.id == qid or q.name == qid:
                return q.title or q.name
        return str(qid or "–")

    kind = event.kind
    why = str(data.get("why") or data.get("reason") or data.get("rule") or "")
    if kind == "ticket.created":
        return _("Ticket opened from %(channel)s") % {"channel": data.get("channel", "?")}, why
    if kind == "ticket.routed":
        return _("Routed to queue %(queue)s") % {"queue": queue(data.get("queue")
                                                               or data.get("queue_id"))}, \
            str(data.get("explanation") or why)
    if kind == "ticket.assigned":
        return _("Assigned to %(name)s") % {"name": person(data.get("to"))}, why
    if kind == "ticket.unassigned":
        return _("Returned to the queue"), why
    if kind == "ticket.status":
        return _("Status: %(from)s → %(to)s") % {"from": _(str(data.get("from", "")).title()),
                                                 "to": _(str(data.get("to", "")).title())}, why
    if kind == "message.received":
        return _("Message received (%(channel)s)") % {"channel": data.get("channel", "?")}, why
    if kind == "call.answered":
        by = str(data.get("by") or "")
        return (_("Call answered by %(by)s") % {"by": by} if by else _("Call answered")), why
    if kind == "message.queued":
        return _("Reply queued to %(to)s") % {"to": data.get("to", "?")}, why
    if kind == "message.sent":
        return _("Reply delivered"), ""
    if kind == "message.failed":
        return _("Reply failed"), why
    if kind == "note.added":
        return _("Internal note added"), ""
    if kind in ("sla.warning", "sla.breached"):
        label = _("SLA warning") if kind == "sla.warning" else _("SLA breached")
        return f"{label}: {data.get('target', '')}", _("due %(due)s") % {
            "due": _due_text(data.get("due"))}
    if kind == "ticket.merged":
        return _("Merged into another ticket"), ""
    if kind == "ticket.merged_from":
        return _("Another ticket was merged into this one"), ""
    if kind.startswith("faq."):
        return _("FAQ: %(what)s") % {"what": kind[4:].replace("_", " ")}, \
            str(data.get("entry") or data.get("entry_id") or why)
    return kind.replace(".", " ").replace("_", " ").capitalize(), why
