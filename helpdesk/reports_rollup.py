"""Maintained summary rows for the supervisor reports.

At a million tickets a 30-day window holds about 330,000 of them; scanning and
sorting those for every figure takes seconds. The reports instead sum a few
summary rows per Jakarta day and filter combination (channel x queue x
consultant x category):

- ``report_day``: the counts (opened, answered by the FAQ, responded, breaches,
  ratings, backlog parts...) of tickets opened that day, and in separate rows
  the tickets whose latest resolution fell on that day;
- ``report_hour``: tickets opened per day, a column per hour (the heatmap);
- ``report_faq``: automatic answers and yes/no per FAQ entry;
- ``report_duration``: histograms of the four durations (first response and
  resolution, wall and business seconds) for the combinations in :data:`SLOTS`.

Histogram buckets: seconds below 128 are exact; above, a bucket is 1/64 of the
power of two it lies in, so at most 1/64 (1.6%) of its values wide. A
percentile read from a histogram is the value at its rank with the bucket's
values taken as evenly spread: off by less than one bucket width, under 1.6%
(see docs/reports.md). Small counts are computed exactly from the tickets
(:data:`EXACT_LIMIT`).

Keeping them current: every write that changes a figure marks the ticket's
days dirty in ``report_dirty`` in its own transaction (an ORM flush listener
sees every ticket change and FAQ feedback; the few bulk SQL writes call
:func:`mark_tickets`). :func:`refresh` recomputes the dirty days from the
tickets in one short transaction; the dashboard calls it before reading, and
``tanya-ptsp reports rebuild`` recomputes everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.elements import ColumnElement

from helpdesk.models import Event, Ticket, TicketStatus
from helpdesk.reports_filters import ReportFilter, T, table
from helpdesk.reports_sql import Dialect
from helpdesk.store import Store

ZONE = ZoneInfo("Asia/Jakarta")
OFFSET = timedelta(hours=7)  # Jakarta has no daylight saving
FEEDBACK_EVENT = "faq.feedback"
OPEN = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value)
DAY, HOUR, FAQ = table("report_day"), table("report_hour"), table("report_faq")
DURATION, DIRTY, EVENTS = table("report_duration"), table("report_dirty"), table("event")
DIMS = ("channel", "queue_id", "assignee_id", "category")
HOURS = tuple(f"h{h:02d}" for h in range(24))  # report_hour's columns, local hours
ALL = -1  # report_duration.assignee for the histogram over every consultant
ANY_CHANNEL = ""  # report_duration.channel for the histogram over every channel
ANY_QUEUE = -1  # report_duration.queue for the histogram over every queue
ANY_CATEGORY = ""  # report_duration.category for the histogram over every category
# report_duration's dimensions, the ticket column each comes from, and the value
# standing for "every one" in a histogram that does not keep the dimension.
SLOT_DIMS = ("assignee", "channel", "queue", "category")
TICKET_COLUMN = {"assignee": "assignee_id", "channel": "channel", "queue": "queue_id",
                 "category": "category"}
ANY: dict[str, int | str] = {"assignee": ALL, "channel": ANY_CHANNEL, "queue": ANY_QUEUE,
                             "category": ANY_CATEGORY}
# The histograms kept: each keeps these dimensions and sums over the others. A
# report filtered on exactly one of these sets reads its histogram, and the
# consultant table reads the set with the consultant added; other filters count
# the same buckets from the tickets. Each set costs rows (about one per ticket
# and metric for the finer ones), so only single filters and the consultant
# under one other filter are kept.
SLOTS: tuple[frozenset[str], ...] = tuple(frozenset(dims) for dims in (
    (), ("channel",), ("queue",), ("category",),
    ("assignee",), ("assignee", "channel"), ("assignee", "queue"), ("assignee", "category")))
FR_WALL, FR_BUSINESS, RES_WALL, RES_BUSINESS = range(4)
SUB_BUCKETS = 64  # per power of two: buckets at most 1/64 of their value wide
EXACT_BELOW = 2 * SUB_BUCKETS  # values below this have a bucket of their own
# Percentiles over at most this many tickets are computed exactly from them.
EXACT_LIMIT = 5000
# The ticket columns whose change moves a figure.
WATCHED = ("created_at", "status", "channel", "queue_id", "assignee_id", "category",
           "merged_into_id", "first_response_at", "resolved_at", "auto_answer_entry",
           "answered_by_faq", "sla_due_at", "first_response_breached",
           "resolution_breached", "satisfaction")


def local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment.astimezone(UTC) + OFFSET).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), ZONE).astimezone(UTC)


# --- buckets -----------------------------------------------------------------

def filter_dims(report: ReportFilter) -> dict[str, int | str]:
    """The histogram dimensions a report's filters fix, with their values."""
    values: dict[str, int | str | None] = {
        "assignee": report.assignee_id, "channel": report.channel or None,
        "queue": report.queue_id, "category": report.category or None}
    return {dim: value for dim, value in values.items() if value is not None}


def kept_slot(report: ReportFilter, *, per_consultant: bool = False
              ) -> dict[str, int | str] | None:
    """The report_duration key (a value per dimension) of the histogram that
    serves the report's filters, or None when none is kept. ``per_consultant``:
    the histograms per consultant under the filters (the key's assignee is left
    to the caller)."""
    fixed = filter_dims(report)
    if per_consultant:
        fixed.pop("assignee", None)
    dims = set(fixed) | ({"assignee"} if per_consultant else set())
    if frozenset(dims) not in SLOTS:
        return None
    return {dim: fixed.get(dim, ANY[dim]) for dim in SLOT_DIMS}



def bucket_sql(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """The bucket (its lower bound) of an integer number of seconds, in SQL."""
    def number(n: int) -> ColumnElement[Any]:
        return sa.literal_column(str(n), sa.Integer())

    whens: list[tuple[ColumnElement[bool], ColumnElement[Any]]] = [
        (value < number(EXACT_BELOW), value)]
    for power in range(EXACT_BELOW.bit_length() - 1, 31):  # durations fit in 32 bits
        step = number(2 ** power // SUB_BUCKETS)
        whens.append((value < number(2 ** (power + 1)), (value // step) * step))
    return sa.case(*whens, else_=value)


def bucket_width(lower: int) -> int:
    if lower < EXACT_BELOW:
        return 1
    width: int = 2 ** (lower.bit_length() - 1) // SUB_BUCKETS
    return max(1, width)


def bucket_of(value: int) -> int:
    """The same as :func:`bucket_sql`, in Python (tests)."""
    if value < EXACT_BELOW:
        return value
    step: int = 2 ** (value.bit_length() - 1) // SUB_BUCKETS
    return value // step * step


def histogram_percentiles(buckets: Sequence[tuple[int, int]],
                          ps: Sequence[float]) -> tuple[int, list[float | None]]:
    """``percentile_cont`` over a histogram [(lower bound, count)], each bucket's
    values taken as evenly spread over its width. Exact for one-second buckets."""
    ordered = sorted((b, n) for b, n in buckets if n > 0)
    total = sum(n for _, n in ordered)
    if not total:
        return 0, [None for _ in ps]

    def at(rank: int) -> float:
        seen = 0
        for lower, n in ordered:
            if rank < seen + n:
                width = bucket_width(lower)
                if width == 1:
                    return float(lower)
                return lower + (rank - seen + 0.5) * width / n
            seen += n
        lower, _ = ordered[-1]
        return float(lower + bucket_width(lower) - 1)

    out: list[float | None] = []
    for p in ps:
        position = p * (total - 1)
        low = int(position)
        fraction = position - low
        value = at(low)
        if fraction:
            value += (at(low + 1) - value) * fraction
        out.append(value)
    return total, out


# --- computing the rows ------------------------------------------------------

def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def first_response_wall(d: Dialect) -> ColumnElement[Any]:
    return sa.func.coalesce(T.c.first_response_seconds,
                            d.seconds_between(T.c.created_at, T.c.first_response_at))


def resolution_wall(d: Dialect) -> ColumnElement[Any]:
    return sa.func.coalesce(T.c.resolution_seconds,
                            d.seconds_between(T.c.created_at, T.c.resolved_at))


def _between(column: ColumnElement[Any], days: tuple[date, date] | None
             ) -> list[ColumnElement[bool]]:
    if days is None:
        return [column.is_not(None)]
    return [column >= day_start(days[0]), column < day_start(days[1] + timedelta(days=1))]


def _fill(conn: Connection, days: tuple[date, date] | None) -> None:
    """Insert the summary rows of the tickets opened / resolved in ``days``
    (first and last, inclusive; None: all)."""
    d = Dialect(conn.dialect.name, OFFSET)
    live = T.c.merged_into_id.is_(None)
    person = T.c.answered_by_faq.is_(False)
    targeted = sa.and_(T.c.sla_due_at.is_not(None), person)
    fr_breach = sa.and_(targeted, T.c.first_response_breached.is_(True))
    res_breach = sa.and_(targeted, T.c.resolution_breached.is_(True))
    created = [live, *_between(T.c.created_at, days)]
    resolved = [live, *_between(T.c.resolved_at, days)]
    dims = [T.c[name] for name in DIMS]
    opened_day = d.local_day(T.c.created_at).label("day")
    figures: dict[str, ColumnElement[Any]] = {
        "opened": sa.func.count(),
        "auto_answered": _count_if(T.c.auto_answer_entry.is_not(None)),
        "answered_by_faq": _count_if(T.c.answered_by_faq.is_(True)),
        "person": _count_if(person),
        "responded": _count_if(sa.and_(person, T.c.first_response_at.is_not(None))),
        "awaiting": _count_if(sa.and_(person, T.c.first_response_at.is_(None),
                                      T.c.status.in_(OPEN))),
        "with_target": _count_if(targeted),
        "fr_breached": _count_if(fr_breach),
        "res_breached": _count_if(res_breach),
        "breached": _count_if(sa.or_(fr_breach, res_breach)),
        "rated": sa.func.count(T.c.satisfaction),
        "rating_sum": sa.func.coalesce(sa.func.sum(T.c.satisfaction), 0),
        **{f"rating_{i}": _count_if(T.c.satisfaction == i) for i in range(1, 6)},
        "person_rated": _count_if(sa.and_(person, T.c.satisfaction.is_not(None))),
        "person_rating_sum": sa.func.coalesce(sa.func.sum(
            sa.case((person, T.c.satisfaction), else_=0)), 0),
        "person_resolved": _count_if(sa.and_(person, T.c.resolved_at.is_not(None))),
        "resolved_since": _count_if(T.c.resolved_at.is_not(None)),
        "still_open": _count_if(sa.and_(T.c.resolved_at.is_(None), T.c.status.in_(OPEN))),
    }
    conn.execute(sa.insert(DAY).from_select(
        ["day", *DIMS, *figures],
        sa.select(opened_day, *dims, *figures.values()).where(*created)
        .group_by(opened_day, *dims)))
    closed_day = d.local_day(T.c.resolved_at).label("day")
    conn.execute(sa.insert(DAY).from_select(
        ["day", *DIMS, "resolved_all", "resolved_person"],
        sa.select(closed_day, *dims, sa.func.count(), _count_if(person))
        .where(*resolved).group_by(closed_day, *dims)))
    # Counted per hour first (the local hour worked out once per ticket), then
    # turned into a row per day and combination with a column per hour.
    hour = d.local_hour(T.c.created_at).label("hour")
    per_hour = (sa.select(opened_day, hour, *dims, sa.func.count().label("opened"))
                .where(*created).group_by(opened_day, hour, *dims).subquery())
    outer_dims = [per_hour.c[name] for name in DIMS]
    conn.execute(sa.insert(HOUR).from_select(
        ["day", *DIMS, *HOURS],
        sa.select(per_hour.c.day, *outer_dims,
                  *(sa.func.coalesce(sa.func.sum(sa.case((per_hour.c.hour == h,
                                                          per_hour.c.opened))), 0)
                    for h in range(24)))
        .group_by(per_hour.c.day, *outer_dims)))
    helpful = EVENTS.c.data["helpful"].as_boolean()

    def said(answer: bool) -> ColumnElement[bool]:
        return sa.exists().where(EVENTS.c.ticket_id == T.c.id,
                                 EVENTS.c.kind == FEEDBACK_EVENT,
                                 helpful if answer else sa.not_(helpful))

    conn.execute(sa.insert(FAQ).from_select(
        ["day", "entry", *DIMS, "sent", "answered_by_faq", "helpful", "not_helpful"],
        sa.select(opened_day, T.c.auto_answer_entry, *dims, sa.func.count(),
                  _count_if(T.c.answered_by_faq.is_(True)), _count_if(said(True)),
                  _count_if(said(False)))
        .where(*created, T.c.auto_answer_entry.is_not(None))
        .group_by(opened_day, T.c.auto_answer_entry, *dims)))
    # Each histogram row counts one slot's tickets per day and bucket. The
    # buckets of the day's tickets are worked out once (a CTE used more than
    # once is materialised by both databases) and every slot's histogram of
    # both durations is grouped from them in one statement: scanning the
    # tickets and bucketing their durations once per slot and metric was most
    # of a day's refresh.
    pairs = (((FR_WALL, first_response_wall(d)),
              (FR_BUSINESS, T.c.first_response_business_seconds), created, opened_day),
             ((RES_WALL, resolution_wall(d)),
              (RES_BUSINESS, T.c.resolution_business_seconds), resolved, closed_day))
    for wall, business, where, day in pairs:
        tickets = sa.select(day, *(T.c[TICKET_COLUMN[dim]].label(dim) for dim in SLOT_DIMS),
                            *(bucket_sql(value).label(f"b{metric}")
                              for metric, value in (wall, business))
                            ).where(*where, person).cte("bucketed")
        arms: list[sa.Select[Any]] = []
        for metric, _ in (wall, business):
            bucket = tickets.c[f"b{metric}"]
            for slot in SLOTS:
                kept = [tickets.c[dim] for dim in SLOT_DIMS if dim in slot]
                keys = [tickets.c[dim] if dim in slot else _constant(ANY[dim])
                        for dim in SLOT_DIMS]
                arms.append(sa.select(tickets.c.day, _constant(metric), *keys, bucket,
                                      sa.func.count())
                            .where(bucket.is_not(None),
                                   *(_known(tickets.c[dim], dim) for dim in slot))
                            .group_by(tickets.c.day, *kept, bucket))
        conn.execute(sa.insert(DURATION).from_select(
            ["day", "metric", *SLOT_DIMS, "bucket", "n"], sa.union_all(*arms)))


def _constant(value: int | str) -> ColumnElement[Any]:
    """A constant written into the statement: the same type in every arm of a
    UNION on both databases (a bound parameter's type PostgreSQL may not infer)."""
    if isinstance(value, int):
        return sa.literal_column(str(value), sa.Integer())
    return sa.literal_column("'" + value.replace("'", "''") + "'", sa.String())


def _known(column: ColumnElement[Any], dim: str) -> ColumnElement[bool]:
    """A ticket counts in a histogram that keeps ``dim`` only with a value for
    it (an unassigned ticket has no consultant's histogram to go to)."""
    return column != "" if dim in ("channel", "category") else column.is_not(None)


def _clear(conn: Connection, days: tuple[date, date] | None) -> None:
    for summary in (DAY, HOUR, FAQ, DURATION):
        query = sa.delete(summary)
        if days is not None:
            query = query.where(summary.c.day >= days[0], summary.c.day <= days[1])
        conn.execute(query)


def rebuild(conn: Connection) -> None:
    """Recompute every summary row from the tickets (in the caller's transaction)."""
    _serialise(conn)
    conn.execute(sa.delete(DIRTY))
    _clear(conn, None)
    _fill(conn, None)


def rebuild_days(conn: Connection, days: Iterable[date]) -> int:
    """Recompute the summary rows of these days; returns how many runs of days."""
    runs = _runs(sorted(set(days)))
    for run in runs:
        _clear(conn, run)
        _fill(conn, run)
    return len(runs)


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _serialise(conn: Connection) -> None:
    """One refresh at a time: two recomputing the same day at once would each
    delete the rows they see and insert theirs. SQLite's write lock already
    serialises writers; PostgreSQL takes a transaction-scoped advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7310420)"))


def is_dirty(conn: Connection) -> bool:
    return conn.execute(sa.select(DIRTY.c.id).limit(1)).first() is not None


def refresh(conn: Connection, *, batch: int = 20000) -> int:
    """Recompute the days marked dirty (in the caller's write transaction);
    returns how many marks were cleared."""
    _serialise(conn)
    cleared = 0
    while True:
        marks = conn.execute(sa.select(DIRTY.c.id, DIRTY.c.day, DIRTY.c.ticket_id)
                             .order_by(DIRTY.c.id).limit(batch)).all()
        if not marks:
            return cleared
        days = {_as_date(m.day) for m in marks if m.day is not None}
        tickets = sorted({int(m.ticket_id) for m in marks if m.ticket_id is not None})
        for start in range(0, len(tickets), 500):
            for opened, resolved in conn.execute(
                    sa.select(T.c.created_at, T.c.resolved_at)
                    .where(T.c.id.in_(tickets[start:start + 500]))):
                days.add(local_day(opened))
                if resolved is not None:
                    days.add(local_day(resolved))
        rebuild_days(conn, days)
        ids = [int(m.id) for m in marks]
        for start in range(0, len(ids), 500):
            conn.execute(sa.delete(DIRTY).where(DIRTY.c.id.in_(ids[start:start + 500])))
        cleared += len(ids)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- marking -----------------------------------------------------------------

def mark_tickets(target: OrmSession | Connection, ticket_ids: Iterable[int]) -> None:
    """Mark these tickets' days dirty, for a write that bypassed the ORM."""
    rows = [{"ticket_id": int(i)} for i in ticket_ids]
    if rows:
        target.execute(sa.insert(DIRTY), rows)


def mark_changed(conn: Connection, ticket: Ticket) -> None:
    """Mark the days a stored ticket counted in before and after its changes,
    for a change written without the ORM's flush (the listener below does the
    same for a flushed one). Call it before the session forgets the ticket."""
    state = sa.inspect(ticket)
    if _figures_moved(state):
        days = _ticket_days(ticket, state)
        if days:
            conn.execute(sa.insert(DIRTY), [{"day": d, "ticket_id": None} for d in sorted(days)])


def _figures_moved(state: Any) -> bool:
    return any(state.attrs[name].history.has_changes() for name in WATCHED)


def _ticket_days(ticket: Ticket, state: Any) -> set[date]:
    days: set[date] = set()
    for name in ("created_at", "resolved_at"):
        history = state.attrs[name].history
        for value in (*history.unchanged, *history.added, *history.deleted):
            if isinstance(value, datetime):
                days.add(local_day(value))
    return days


@event.listens_for(OrmSession, "before_flush")
def _note_changes(session: OrmSession, _context: Any, _instances: Any) -> None:
    days: set[date] = session.info.setdefault("report_dirty_days", set())
    tickets: set[int] = session.info.setdefault("report_dirty_tickets", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Ticket):
            state = sa.inspect(obj)
            if obj in session.new or obj in session.deleted or _figures_moved(state):
                days |= _ticket_days(obj, state)
        elif (isinstance(obj, Event) and obj in session.new and obj.kind == FEEDBACK_EVENT
              and obj.ticket_id is not None):
            tickets.add(obj.ticket_id)


@event.listens_for(OrmSession, "after_flush")
def _write_marks(session: OrmSession, _context: Any) -> None:
    days: set[date] = session.info.pop("report_dirty_days", set())
    tickets: set[int] = session.info.pop("report_dirty_tickets", set())
    rows: list[dict[str, Any]] = [{"day": d, "ticket_id": None} for d in sorted(days)]
    rows += [{"day": None, "ticket_id": t} for t in sorted(tickets)]
    if rows and DIRTY.name in _tables(session):
        session.connection().execute(sa.insert(DIRTY), rows)


def _tables(session: OrmSession) -> set[str]:
    """Whether the schema has the summary tables (a database not yet migrated
    to them simply has no reports to keep). Cached per engine."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    cached: set[str] | None = _TABLES.get(id(engine))
    if cached is None or DIRTY.name not in cached:
        cached = set(sa.inspect(session.connection()).get_table_names())
        _TABLES[id(engine)] = cached
    return cached


_TABLES: dict[int, set[str]] = {}


def refresh_store(store: Store) -> int:
    """Bring the summary rows up to date before a report is read: a glance at
    the marks, and a write transaction only when some day is dirty."""
    with store.engine.connect() as conn:
        if not is_dirty(conn):
            return 0
    with store.write() as session:
        return refresh(session.connection())
