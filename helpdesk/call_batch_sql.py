"""The reads and writes of a batch of phone calls, a handful of statements per batch.

Each read takes every key of the batch at once (an expanding IN list); each
write is one multi-row INSERT, or one UPDATE executed for many rows, instead of
a statement per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from helpdesk.models import (
    OPEN_STATUSES,
    Contact,
    ContactIdentity,
    Event,
    Message,
    Queue,
    Ticket,
    UTCDateTime,
)
from helpdesk.sla import CLOCK_EVENTS, EventRecord

_c = Contact.__table__.c  # type: ignore[attr-defined]
_e = Event.__table__.c  # type: ignore[attr-defined]
_i = ContactIdentity.__table__.c  # type: ignore[attr-defined]
_m = Message.__table__.c  # type: ignore[attr-defined]
_q = Queue.__table__.c  # type: ignore[attr-defined]
_t = Ticket.__table__.c  # type: ignore[attr-defined]

# A ticket's columns as the batch keeps them (see :class:`helpdesk.call_batch.Draft`).
TICKET_COLUMNS = (
    "id", "contact_id", "channel", "subject", "status", "queue_id", "assignee_id", "priority",
    "category", "conversation_key", "linked_ticket_id", "created_at", "updated_at",
    "last_message_at", "first_response_at", "resolved_at", "closed_at", "sla_due_at",
    "resolution_due_at", "first_response_breached", "resolution_breached",
)
# What a call may change on a ticket that was already stored.
CHANGING = ("status", "queue_id", "assignee_id", "priority", "category", "updated_at",
            "last_message_at", "first_response_at", "resolved_at", "closed_at", "sla_due_at",
            "resolution_due_at", "first_response_breached", "resolution_breached")
# In one IN list: well under SQLite's limit on bound values.
CHUNK = 900

_KNOWN_MESSAGES = sa.select(_m.external_id, _m.id, _m.ticket_id).where(
    _m.channel == sa.bindparam("channel"),
    _m.external_id.in_(sa.bindparam("ids", expanding=True)))
_IDENTITIES = (
    sa.select(_i.value, _i.id, _i.contact_id, _c.merged_into_id, _c.name)
    .join_from(ContactIdentity.__table__, Contact.__table__,  # type: ignore[attr-defined]
               _c.id == _i.contact_id)
    .where(_i.kind == sa.bindparam("kind"), _i.value.in_(sa.bindparam("values", expanding=True)))
)
_CONTACT_IDENTITIES = (
    sa.select(_i.contact_id, _i.kind, _i.value)
    .where(_i.contact_id.in_(sa.bindparam("ids", expanding=True))).order_by(_i.id))
_TICKET_FIELDS = [getattr(_t, name) for name in TICKET_COLUMNS]
_BY_CONVERSATION = (
    sa.select(*_TICKET_FIELDS)
    .where(_t.conversation_key.in_(sa.bindparam("keys", expanding=True)),
           _t.merged_into_id.is_(None)).order_by(_t.id))
_OPEN_PHONE = (
    sa.select(*_TICKET_FIELDS)
    .where(_t.contact_id.in_(sa.bindparam("ids", expanding=True)), _t.channel == "phone",
           _t.status.in_([str(s) for s in OPEN_STATUSES]), _t.merged_into_id.is_(None))
    .order_by(_t.id))
# The kinds are tested through coalesce() so that SQLite walks the ticket's
# events (index ix_event_ticket) instead of every event of those kinds.
_EVENTS = (sa.select(_e.ticket_id, _e.kind, _e.data, _e.created_at, _e.actor)
           .where(_e.ticket_id.in_(sa.bindparam("ids", expanding=True)),
                  sa.func.coalesce(_e.kind, "").in_(sorted(CLOCK_EVENTS)))
           .order_by(_e.ticket_id, _e.id))
QUEUES = sa.select(_q.id, _q.name)
INSERT_QUEUE = sa.insert(Queue.__table__).returning(_q.id)  # type: ignore[attr-defined]
CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
IDENTITIES: sa.Table = ContactIdentity.__table__  # type: ignore[attr-defined]
TICKETS: sa.Table = Ticket.__table__  # type: ignore[attr-defined]
MESSAGES: sa.Table = Message.__table__  # type: ignore[attr-defined]
EVENTS: sa.Table = Event.__table__  # type: ignore[attr-defined]
LINK_TICKETS = (sa.update(Ticket.__table__)  # type: ignore[attr-defined]
                .where(_t.id == sa.bindparam("ticket_id"))
                .values(linked_ticket_id=sa.bindparam("linked")))


def chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start:start + CHUNK])


def known_messages(conn: Connection, channel: str,
                   external_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """external id -> (message id, ticket id) of the calls already stored."""
    found: dict[str, tuple[int, int]] = {}
    for part in chunks(external_ids):
        for external_id, message_id, ticket_id in conn.execute(
                _KNOWN_MESSAGES, {"channel": channel, "ids": part}):
            found[external_id] = (message_id, ticket_id)
    return found


def identities(conn: Connection, kind: str,
               values: Sequence[str]) -> dict[str, tuple[int, int, int | None, str]]:
    """value -> (identity id, contact id, merged into, contact name)."""
    found: dict[str, tuple[int, int, int | None, str]] = {}
    for part in chunks(values):
        for value, identity_id, contact_id, merged_into, name in conn.execute(
                _IDENTITIES, {"kind": kind, "values": part}):
            found[value] = (identity_id, contact_id, merged_into, name)
    return found


def contact_identities(conn: Connection,
                       contact_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for part in chunks(contact_ids):
        for contact_id, kind, value in conn.execute(_CONTACT_IDENTITIES, {"ids": part}):
            found.setdefault(contact_id, []).append((kind, value))
    return found


def tickets_by_conversation(conn: Connection, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The tickets of these conversations, oldest first."""
    return [dict(row) for part in chunks(keys)
            for row in conn.execute(_BY_CONVERSATION, {"keys": part}).mappings()]


def open_phone_tickets(conn: Connection, contact_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The open phone tickets of these contacts, oldest first."""
    return [dict(row) for part in chunks(contact_ids)
            for row in conn.execute(_OPEN_PHONE, {"ids": part}).mappings()]


def events(conn: Connection, ticket_ids: Sequence[int]) -> dict[int, list[EventRecord]]:
    """Each ticket's stored events that the SLA clock replays, oldest first."""
    found: dict[int, list[EventRecord]] = {}
    for part in chunks(ticket_ids):
        for ticket_id, kind, data, created_at, actor in conn.execute(_EVENTS, {"ids": part}):
            found.setdefault(ticket_id, []).append(EventRecord(kind, data, created_at, actor))
    return found


def insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows with ids taken beforehand; returns the ids, in the order given.

    A plain multi-row INSERT runs in the driver's own loop; asking for the new
    ids back (RETURNING) sends the rows through a slower path and cost a third
    of an import's time. SQLite allows one writer at a time, so the ids after
    the largest are free; PostgreSQL hands them out from the table's sequence.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        ids = list(conn.execute(_NEXT_IDS, {"table": table.name, "n": len(rows)}).scalars())
    else:
        start = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        ids = list(range(start + 1, start + 1 + len(rows)))
    insert_many(conn, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
    return ids


def insert_many(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """A multi-row INSERT of rows that all have the keys of the first."""
    if rows:
        names = list(rows[0])
        execute_many(conn, sa.insert(table).values(
            {n: sa.bindparam(n, type_=table.c[n].type) for n in names}), rows)


def execute_many(conn: Connection, statement: sa.Insert | sa.Update,
                 rows: list[dict[str, Any]]) -> None:
    """Run a statement for many rows, handing the driver values already converted.

    Core converts each value of each row through a generic path that cost more
    than the database's own work; here the statement is compiled once and each
    parameter's converter (times to naive UTC, JSON to text) runs in a tight
    loop. Every parameter must carry its type.
    """
    if not rows:
        return
    dialect = conn.dialect
    compiled = statement.compile(dialect=dialect)
    converters = {bind.key: _converter(bind.type, dialect) for bind in compiled.binds.values()}
    if compiled.positional:
        order = [(n, converters[n]) for n in compiled.positiontup or ()]
        params: list[Any] = [tuple(f(row[n]) if f else row[n] for n, f in order)
                             for row in rows]
    else:
        pairs = list(converters.items())
        params = [{n: f(row[n]) if f else row[n] for n, f in pairs} for row in rows]
    conn.exec_driver_sql(compiled.string, params)


def _converter(kind: Any, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    convert: Callable[[Any], Any] | None = kind._cached_bind_processor(dialect)
    if convert is None or not isinstance(kind, UTCDateTime):
        return convert
    # A batch repeats a few moments (its own time on every event) many times over;
    # converting each once halves the cost of writing its rows.
    done: dict[datetime, Any] = {}

    def remembered(value: datetime | None) -> Any:
        if value is None:
            return None
        found = done.get(value)
        if found is None:
            found = done[value] = convert(value)
        return found

    return remembered


_NEXT_IDS = sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)")


def add_queue(conn: Connection, name: str) -> int:
    return int(conn.execute(INSERT_QUEUE, {"name": name, "title": name,
                                           "active": True}).scalar_one())


def update_tickets(conn: Connection, changes: list[tuple[int, dict[str, Any]]]) -> None:
    """Write each ticket's changed columns, one statement per set of columns:
    SQLite updates the entries of every index on a column it sets, changed or
    not, and the ticket table has many indexes."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for ticket_id, changed in changes:
        if changed:
            groups.setdefault(tuple(sorted(changed)), []).append(
                {"ticket_id": ticket_id, **{f"new_{k}": v for k, v in changed.items()}})
    for names, rows in groups.items():
        execute_many(conn, sa.update(Ticket.__table__)  # type: ignore[attr-defined]
                     .where(_t.id == sa.bindparam("ticket_id", type_=_t.id.type))
                     .values({n: sa.bindparam(f"new_{n}", type_=getattr(_t, n).type)
                              for n in names}), rows)
