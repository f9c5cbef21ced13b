"""The consultants' ticket queues: views, filters and keyset pages.

Each view is a set of ticket statuses plus conditions. Rows come sorted by
first-response due time (``sla_due_at``; tickets without one last), then id.
A page is read per status (and per queue for "unassigned in my queues"), each
an index range already in (due time, id) order (``status, sla_due_at, id`` or
``assignee_id, status, sla_due_at, id``) cut at the page size; the ranges are
joined with UNION ALL and the database merges those few rows. No sort of the
whole backlog and no COUNT(*) of the table, so a page costs the same at a
thousand tickets or a million, and one statement brings the rows with the
names shown beside them: on PostgreSQL every statement is a round trip to the
server. Pages link forward with a cursor (the last row's due time and id)
instead of page numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from helpdesk.models import (
    Contact,
    Message,
    Queue,
    Role,
    Ticket,
    TicketStatus,
    User,
    UserQueue,
)
from helpdesk.ticket_numbers import parse_number

PAGE_SIZE = 25
BREACHING_WINDOW = timedelta(hours=1)
RUNNING = (TicketStatus.NEW, TicketStatus.OPEN)
OPEN = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


@dataclass(frozen=True, slots=True)
class View:
    key: str
    title: str
    statuses: tuple[str, ...]


VIEWS = (
    View("mine", "Mine", OPEN),
    View("unassigned", "Unassigned in my queues", RUNNING),
    View("open", "All open", OPEN),
    View("waiting", "Waiting on resident", (TicketStatus.PENDING,)),
    View("breaching", "Breaching soon", RUNNING),
)
VIEW_BY_KEY = {v.key: v for v in VIEWS}


@dataclass(frozen=True, slots=True)
class Filters:
    channel: str = ""
    status: str = ""
    category: str = ""
    queue_id: int | None = None
    text: str = ""

    def active(self) -> bool:
        return bool(self.channel or self.status or self.category or self.queue_id or self.text)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: after (due, id); ``due`` None means the
    undated tail, which comes after every dated ticket."""

    due: datetime | None
    id: int

    def encode(self) -> str:
        stamp = "n" if self.due is None else str(int(self.due.timestamp() * 1_000_000))
        return f"{stamp}.{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        stamp, _, ident = text.partition(".")
        try:
            due = None if stamp == "n" else datetime.fromtimestamp(int(stamp) / 1_000_000, UTC)
            return cls(due, int(ident))
        except (ValueError, OverflowError, OSError):
            return None


@dataclass(slots=True)
class QueuePage:
    tickets: list[Ticket]
    next_cursor: Cursor | None
    direct: Ticket | None = None  # the search named a ticket number
    notice: str = ""
    my_queue_ids: list[int] = field(default_factory=list)
    queues: list[Queue] = field(default_factory=list)  # every queue, by name
    contact_names: dict[int, str] = field(default_factory=dict)  # "" when unnamed
    assignee_names: dict[int, str] = field(default_factory=dict)


def queues_and_mine(session: Session, user: User) -> tuple[list[Queue], list[int]]:
    """Every queue by name and the ids of the user's own, in one statement."""
    member = sa.and_(col(UserQueue.queue_id) == col(Queue.id), col(UserQueue.user_id) == user.id)
    rows = session.exec(select(Queue, UserQueue.user_id).outerjoin(UserQueue, member)
                        .order_by(col(Queue.name), col(Queue.id))).all()
    return [q for q, _ in rows], [q.id for q, mine in rows if mine is not None and q.id]


def load_page(session: Session, user: User, view: View, filters: Filters,
              after: Cursor | None, now: datetime, limit: int = PAGE_SIZE) -> QueuePage:
    queues, queue_ids = queues_and_mine(session, user)
    page = QueuePage([], None, my_queue_ids=queue_ids, queues=queues)
    if filters.text:
        number = parse_number(filters.text.strip())
        if number is not None:
            page.direct = session.get(Ticket, number)
    conditions: list[Any] = []
    # One index range per (status, queue) when the view is "unassigned in my
    # queues", so the database never sorts the backlog.
    by_queue: Sequence[int | None] = [None]
    if view.key == "mine":
        conditions.append(col(Ticket.assignee_id) == user.id)
    elif view.key == "unassigned":
        conditions.append(col(Ticket.assignee_id).is_(None))
        # Supervisors and admins look after every queue.
        if user.role == Role.CONSULTANT:
            if not queue_ids:
                page.notice = "no_queues"
                return page
            by_queue = queue_ids
    elif view.key == "breaching":
        conditions.append(col(Ticket.first_response_at).is_(None))
        conditions.append(col(Ticket.sla_due_at) <= now + BREACHING_WINDOW)
    conditions += _filter_conditions(filters)
    statuses = [s for s in view.statuses if not filters.status or s == filters.status]
    dated = view.key == "breaching"  # a ticket without a due time is never breaching
    if filters.queue_id is not None and by_queue != [None]:
        # The queue filter narrows "my queues"; a queue that is not theirs shows nothing.
        by_queue = [q for q in by_queue if q == filters.queue_id]
    partitions = [[col(Ticket.status) == status,
                   *([] if queue is None else [col(Ticket.queue_id) == queue])]
                  for status in statuses for queue in by_queue]
    rows = _sorted_rows(session, partitions, conditions, after, limit + 1, dated_only=dated)
    for ticket, contact_name, assignee_name in rows[:limit]:
        page.tickets.append(ticket)
        page.contact_names[ticket.contact_id] = contact_name or ""
        if ticket.assignee_id is not None and assignee_name:
            page.assignee_names[ticket.assignee_id] = assignee_name
    if len(rows) > limit:
        last = page.tickets[-1]
        assert last.id is not None
        page.next_cursor = Cursor(last.sla_due_at, last.id)
    return page


def _filter_conditions(filters: Filters) -> list[Any]:
    conditions: list[Any] = []
    if filters.channel:
        conditions.append(col(Ticket.channel) == filters.channel)
    if filters.category:
        conditions.append(col(Ticket.category) == filters.category)
    if filters.queue_id is not None:
        conditions.append(col(Ticket.queue_id) == filters.queue_id)
    text = filters.text.strip()
    if text and parse_number(text) is None:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # Subject or any message of the ticket; the message side walks the
        # ticket's own messages through ix_message_ticket.
        in_messages = (select(Message.id)
                       .where(col(Message.ticket_id) == col(Ticket.id),
                              col(Message.text).ilike(pattern, escape="\\"))
                       .exists())
        conditions.append(sa.or_(col(Ticket.subject).ilike(pattern, escape="\\"), in_messages))
    return conditions


Row = tuple[Ticket, str | None, str | None]  # a ticket, its resident's and assignee's names


def _sorted_rows(session: Session, partitions: Sequence[Sequence[Any]],
                 conditions: Sequence[Any], after: Cursor | None, want: int, *,
                 dated_only: bool) -> list[Row]:
    """The first ``want`` tickets after the cursor: one statement, and a
    second for the undated tail only when the dated tickets run out."""
    due, ident = col(Ticket.sla_due_at), col(Ticket.id)
    found: list[Row] = []
    if after is None or after.due is not None:
        ranges = []
        for partition in partitions:
            query = select(due, ident).where(*partition, *conditions, due.is_not(None))
            if after is not None:
                query = query.where(sa.tuple_(due, ident) > sa.tuple_(
                    sa.literal(after.due, _due_type()), sa.literal(after.id)))
            ranges.append(query.order_by(due, ident).limit(want))
        found = _first_of(session, ranges, want)
    if len(found) < want and not dated_only:
        ranges = []
        for partition in partitions:
            query = select(due, ident).where(*partition, *conditions, due.is_(None))
            if after is not None and after.due is None:
                query = query.where(ident > after.id)
            # Ordered by the due time too, though it is NULL throughout: that
            # is the index's own order, so PostgreSQL reads the (status, due,
            # id) range instead of walking the primary key and filtering.
            ranges.append(query.order_by(due, ident).limit(want - len(found)))
        found += _first_of(session, ranges, want - len(found))
    return found


def _first_of(session: Session, ranges: Sequence[Select[datetime | None, int | None]],
              want: int) -> list[Row]:
    """The first ``want`` tickets of ranges of (due, id) keys, each range in
    key order, with the names the page shows beside them."""
    if not ranges:
        return []
    # The ranges carry only the key, which their indexes hold; the tickets
    # themselves are read by id for the rows that make the page. Each range
    # is a subquery: SQLite allows no ORDER BY or LIMIT on a bare member of a
    # compound select.
    merged = sa.union_all(*(select(r.subquery()) for r in ranges)).subquery()
    first = (select(merged.c.id).order_by(merged.c.sla_due_at, merged.c.id).limit(want)
             .subquery("page"))
    query = (select(Ticket, col(Contact.name),
                    sa.func.coalesce(sa.func.nullif(col(User.name), ""), col(User.email)))
             .join(first, first.c.id == col(Ticket.id))
             .outerjoin(Contact, col(Contact.id) == col(Ticket.contact_id))
             .outerjoin(User, col(User.id) == col(Ticket.assignee_id))
             .order_by(col(Ticket.sla_due_at), col(Ticket.id)))
    return [(t, contact, assignee) for t, contact, assignee in session.exec(query)]


def _due_type() -> Any:
    return Ticket.__table__.c.sla_due_at.type  # type: ignore[attr-defined]


def parse_filters(params: Any, known_channels: Iterable[str]) -> Filters:
    def text(name: str, limit: int = 100) -> str:
        value = params.get(name) or ""
        return str(value).strip()[:limit]

    channel = text("channel")
    status = text("status")
    queue = text("queue")
    return Filters(
        channel=channel if channel in set(known_channels) else "",
        status=status if status in {s.value for s in TicketStatus} else "",
        category=text("category", 64),
        queue_id=int(queue) if queue.isdigit() else None,
        text=text("q", 200),
    )


def without_text(filters: Filters) -> Filters:
    return replace(filters, text="")
