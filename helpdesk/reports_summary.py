"""The duration summary columns reports read: kept when the event happens.

``first_response_seconds`` / ``resolution_seconds`` are wall-clock seconds from
the ticket's creation to its first reply by a person / its latest resolution.
The ``*_business_seconds`` twins count only the business calendar's opening
hours (Jakarta working days and hours, lunch breaks, public holidays and cuti
bersama) and leave out the time the ticket was pending on the resident or
resolved before a reopening: the same clock the SLA targets run on, built
from the same events by :func:`helpdesk.sla.timeline_from_events`. Automatic
answers never count as a first response.

Call :func:`record_durations` in the transaction that records a person's first
reply or a resolution (the SLA clock's refresh is the natural place). Anything
recorded without it is caught up by :func:`refresh_durations`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk.business_calendar import BusinessCalendar, Interval
from helpdesk.models import Event, Ticket, TicketStatus
from helpdesk.reports_filters import T
from helpdesk.reports_rollup import mark_tickets
from helpdesk.sla import EventRecord, Timeline, timeline_from_events
from helpdesk.store import Store

RESOLVED = (TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value)


@dataclass(frozen=True, slots=True)
class Durations:
    first_response_seconds: int | None = None
    first_response_business_seconds: int | None = None
    resolution_seconds: int | None = None
    resolution_business_seconds: int | None = None


def _pauses_before(timeline: Timeline, end: datetime) -> list[Interval]:
    pauses = [(a, min(b, end)) for a, b in timeline.pauses if a < end]
    if timeline.paused_since is not None and timeline.paused_since < end:
        pauses.append((timeline.paused_since, end))
    return pauses


def durations(timeline: Timeline, calendar: BusinessCalendar, *,
              first_response_at: datetime | None = None,
              resolved_at: datetime | None = None) -> Durations:
    """The four durations of a ticket (None where the moment has not come).

    ``first_response_at``/``resolved_at`` default to the timeline's; pass the
    ticket's columns when they are the authority."""
    start = timeline.created_at
    first = first_response_at or timeline.first_response_at
    resolved = resolved_at or timeline.resolved_at
    fr = fr_b = res = res_b = None
    if first is not None and first >= start:
        fr = round((first - start).total_seconds())
        fr_b = round(calendar.minutes_between(start, first, _pauses_before(timeline, first))
                     * 60)
    if resolved is not None and resolved >= start:
        res = round((resolved - start).total_seconds())
        # The resolution clock stops at the resolution itself: a pause that
        # begins there (the resolved status) takes nothing off.
        res_b = round(calendar.minutes_between(start, resolved,
                                               _pauses_before(timeline, resolved)) * 60)
    return Durations(fr, fr_b, res, res_b)


def _timeline(session: Session, ticket: Ticket) -> Timeline:
    rows = session.exec(select(Event).where(Event.ticket_id == ticket.id)
                        .order_by(col(Event.id))).all()
    return timeline_from_events(ticket.created_at,
                                [EventRecord(e.kind, e.data, e.created_at, e.actor)
                                 for e in rows])


def record_durations(session: Session, ticket: Ticket,
                     calendar: BusinessCalendar) -> Durations:
    """Recompute the ticket's durations from its events and store them, in the
    caller's transaction. Cheap: one ticket's events."""
    assert ticket.id is not None
    session.flush()  # the events just added must be visible to the query below
    timeline = _timeline(session, ticket)
    if ticket.first_response_at is None and timeline.first_response_at is not None:
        ticket.first_response_at = timeline.first_response_at
    resolved = ticket.resolved_at if ticket.status in RESOLVED else None
    found = durations(timeline, calendar, first_response_at=ticket.first_response_at,
                      resolved_at=resolved)
    session.execute(sa.update(T).where(T.c.id == ticket.id).values(**asdict(found)))
    mark_tickets(session, [ticket.id])  # the duration histograms of its days
    return found


def refresh_durations(store: Store, calendar: BusinessCalendar, *,
                      batch: int = 500) -> int:
    """Fill the durations of tickets that have a first response or a resolution
    but no durations yet; returns how many tickets were updated. Each batch is
    its own transaction, so a long catch-up never holds the writer for long."""
    updated = 0
    after = 0  # a ticket whose durations stay unknown is passed over, not retried

    def work(session: Session) -> Sequence[int]:
        ids = _missing(session, after, batch)
        for ticket_id in ids:
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None:
                record_durations(session, ticket, calendar)
        return ids

    while True:
        done = store.write_retrying(work)
        updated += len(done)
        if len(done) < batch:
            return updated
        after = done[-1]


def _missing(session: Session, after: int, limit: int) -> Sequence[int]:
    fr_missing = sa.and_(T.c.first_response_at.is_not(None),
                         T.c.first_response_business_seconds.is_(None))
    res_missing = sa.and_(T.c.resolved_at.is_not(None), T.c.status.in_(RESOLVED),
                          T.c.resolution_business_seconds.is_(None))
    rows = session.execute(sa.select(T.c.id).where(T.c.id > after,
                                                   sa.or_(fr_missing, res_missing))
                           .order_by(T.c.id).limit(limit))
    return [int(r[0]) for r in rows]
