"""The ticket policy's statements, built once and run on the transaction's connection.

The answer-first policy, routing, the SLA clock and the outbox run inside
intake's transaction for every inquiry. Written with ORM queries, each lookup
first flushed every pending change (the autoflush) and built its SELECT anew;
measured on 1,000 auto-answered inquiries that was more than half the policy's
time. These statements are prebuilt (as in :mod:`helpdesk.intake_sql`) and run on
``session.connection()``, which never autoflushes.

A Core read does not see ORM changes that are not flushed yet, so a reader
calls :func:`settle` first with the classes whose rows it reads: it flushes only
when such an object is pending or modified, which on the intake path is almost
never. Events are written with :func:`add_event`, which keeps the order in which
they were made (their ids order the SLA replay) whichever way each is stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from helpdesk.models import ContactIdentity, Event, Message, OutboxItem, Queue, Ticket

_e = Event.__table__.c  # type: ignore[attr-defined]
_i = ContactIdentity.__table__.c  # type: ignore[attr-defined]
_m = Message.__table__.c  # type: ignore[attr-defined]
_q = Queue.__table__.c  # type: ignore[attr-defined]
_t = Ticket.__table__.c  # type: ignore[attr-defined]

QUEUE_ID = sa.select(_q.id).where(_q.name == sa.bindparam("name"))
QUEUE_NAME = sa.select(_q.name).where(_q.id == sa.bindparam("id"))
CONTACT_IDENTITIES = (sa.select(_i.kind, _i.value)
                      .where(_i.contact_id == sa.bindparam("contact_id")).order_by(_i.id))
RECIPIENT_IDENTITY = (
    sa.select(_i.value)
    .where(_i.contact_id == sa.bindparam("contact_id"), _i.kind == sa.bindparam("kind"))
    .order_by(_i.id.desc()).limit(1)
)
TICKET_EVENTS = (sa.select(_e.kind, _e.data, _e.created_at, _e.actor)
                 .where(_e.ticket_id == sa.bindparam("ticket_id")).order_by(_e.id))
LAST_EVENT_DATA = (
    sa.select(_e.data)
    .where(_e.ticket_id == sa.bindparam("ticket_id"), _e.kind == sa.bindparam("kind"))
    .order_by(_e.id.desc()).limit(1)
)
AUTO_ANSWERS_SINCE = (
    sa.select(sa.func.count()).select_from(Ticket.__table__)  # type: ignore[attr-defined]
    .where(_t.contact_id == sa.bindparam("contact_id"), _t.auto_answer_entry.is_not(None),
           _t.created_at >= sa.bindparam("since"))
)
EMAIL_THREAD = (
    sa.select(_m.external_id)
    .where(_m.ticket_id == sa.bindparam("ticket_id"), _m.channel == "email",
           _m.direction != "note")
    .order_by(_m.id.desc()).limit(20)
)
INSERT_EVENT = sa.insert(Event.__table__)  # type: ignore[attr-defined]
INSERT_OUTBOX = sa.insert(OutboxItem.__table__).returning(  # type: ignore[attr-defined]
    OutboxItem.__table__.c.id)  # type: ignore[attr-defined]


# session.info key of the events held back by :func:`batched_events`.
_HELD = "tanya.held_events"


@contextmanager
def batched_events(session: Session) -> Iterator[None]:
    """Hold the events :func:`add_event` makes in this block and write them with
    one INSERT at its end (a new ticket makes five to seven; one statement each
    was a large part of a phone call's import). Readers here write them first."""
    if _HELD in session.info:
        yield
        return
    session.info[_HELD] = []
    try:
        yield
        write_held_events(session)
    finally:
        session.info.pop(_HELD, None)


def write_held_events(session: Session) -> None:
    rows: list[dict[str, Any]] | None = session.info.get(_HELD)
    if rows:
        session.connection().execute(INSERT_EVENT, list(rows))
        rows.clear()


def settle(session: Session, *classes: type[Any], skip: object = None) -> None:
    """Flush when an object of ``classes`` (other than ``skip``) is pending or
    changed, so that a Core read of their tables sees it; held events go first."""
    write_held_events(session)
    for obj in session.new:
        if isinstance(obj, classes):
            session.flush()
            return
    for obj in session.dirty:
        if obj is not skip and isinstance(obj, classes):
            session.flush()
            return


def add_event(session: Session, *, ticket_id: int | None, kind: str, actor: str,
              data: Mapping[str, Any], created_at: datetime,
              actor_user_id: int | None = None) -> None:
    """Append an event to the ticket's history.

    Written at once with a prebuilt INSERT unless ORM objects are waiting to be
    flushed: an event stored now would then get an id before an event added
    earlier, and the SLA replay reads events in id order. In that case it joins
    the session and the flush writes everything in the order it was added.
    """
    if session.new:
        write_held_events(session)  # they were made before this one
        session.add(Event(ticket_id=ticket_id, kind=kind, actor=actor,
                          actor_user_id=actor_user_id, data=dict(data), created_at=created_at))
        return
    values = {"ticket_id": ticket_id, "kind": kind, "actor": actor,
              "actor_user_id": actor_user_id, "data": dict(data), "created_at": created_at}
    held: list[dict[str, Any]] | None = session.info.get(_HELD)
    if held is not None:
        held.append(values)
    else:
        session.connection().execute(INSERT_EVENT, values)


def queue_id(session: Session, name: str) -> int | None:
    """The id of the queue called ``name``."""
    settle(session, Queue)  # a queue another caller added but did not flush yet
    found: int | None = session.connection().execute(QUEUE_ID, {"name": name}).scalar()
    return found


def queue_name(session: Session, queue_id: int) -> str | None:
    settle(session, Queue)
    found: str | None = session.connection().execute(QUEUE_NAME, {"id": queue_id}).scalar()
    return found


def contact_identities(session: Session, contact_id: int) -> tuple[tuple[str, str], ...]:
    settle(session, ContactIdentity)
    rows = session.connection().execute(CONTACT_IDENTITIES, {"contact_id": contact_id})
    return tuple((kind, value) for kind, value in rows)


def recipient_identity(session: Session, contact_id: int, kind: str) -> str | None:
    """The value of the contact's newest identity of ``kind``."""
    settle(session, ContactIdentity)
    found: str | None = session.connection().execute(
        RECIPIENT_IDENTITY, {"contact_id": contact_id, "kind": kind}).scalar()
    return found


def ticket_events(session: Session, ticket_id: int) -> list[tuple[str, Any, datetime, str]]:
    """(kind, data, created_at, actor) of the ticket's events, oldest first."""
    settle(session, Event)
    rows = session.connection().execute(TICKET_EVENTS, {"ticket_id": ticket_id})
    return [(kind, data, at, actor) for kind, data, at, actor in rows]


def last_event_data(session: Session, ticket_id: int, kind: str) -> Any:
    settle(session, Event)
    return session.connection().execute(
        LAST_EVENT_DATA, {"ticket_id": ticket_id, "kind": kind}).scalar()


def auto_answers_since(session: Session, contact_id: int, since: datetime, *,
                       ticket: Ticket) -> int:
    """Tickets of the contact with an automatic answer created since ``since``.

    ``ticket`` (the one being decided, not answered yet) need not be flushed."""
    settle(session, Ticket, skip=ticket)
    return int(session.connection().execute(
        AUTO_ANSWERS_SINCE, {"contact_id": contact_id, "since": since}).scalar_one())


def email_thread(session: Session, ticket_id: int) -> list[str]:
    """The ticket's email Message-IDs, newest first (ours and the resident's)."""
    settle(session, Message)
    rows = session.connection().execute(EMAIL_THREAD, {"ticket_id": ticket_id})
    return [external_id for (external_id,) in rows]


def insert_outbox_item(session: Session, values: dict[str, Any]) -> int:
    row = {"status": "pending", "attempts": 0, "claimed_until": None, "last_error": None,
           "external_ref": None, "sent_at": None, "message_id": None, **values}
    return int(session.connection().execute(INSERT_OUTBOX, row).scalar_one())
