"""Supervisor reports: every figure is one or a few SQL aggregates.

Nothing here loads tickets into Python: the database counts, groups and ranks,
and only the figures come back. The definitions (docs/reports.md says the same):

- **Volume**: tickets opened in the period (merged duplicates excluded).
- **First response time**: from the ticket's creation to the first reply by a
  person (a message written by a consultant, ``author_kind`` consultant).
  Automatic answers (``bot``) and system messages never count: a ticket the FAQ
  answered has no first response unless a consultant also replied, and such
  tickets are left out of response-time figures so the bot never improves a
  consultant's numbers. Measured over tickets opened in the period that have
  had a first response; shown as median and 90th percentile.
- **Resolution time**: from creation to the latest resolution, over tickets
  resolved in the period by a person (tickets resolved by an FAQ "yes" are
  counted separately as answered by the FAQ).
- Both come in **wall time** (clock seconds) and **business time** (seconds
  inside Jakarta opening hours, outside holidays, cuti bersama and the time the
  ticket was pending on the resident), the latter from the summary columns that
  :mod:`helpdesk.reports_summary` keeps.
- **SLA breach**: the SLA clock's flags on the ticket (``first_response_breached``,
  ``resolution_breached``); the rate is over tickets opened in the period that
  had an SLA target and were not answered by the FAQ.
- **Backlog**: tickets open at the end of each day: created by then and not
  resolved by then.
- **Answered-by-FAQ rate**: tickets resolved by an automatic FAQ answer the
  resident confirmed ("yes"), over all tickets opened; per FAQ entry also the
  "yes" and "no" answers and the silences.
- **Satisfaction**: the residents' 1-5 ratings of tickets opened in the period:
  the mean and how many gave each rating.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from helpdesk.models import TicketStatus
from helpdesk.reports_filters import ReportFilter, T, table
from helpdesk.reports_rollup import (
    ALL,
    ANY_CHANNEL,
    ANY_QUEUE,
    DAY,
    DURATION,
    EXACT_LIMIT,
    FAQ,
    FR_BUSINESS,
    FR_WALL,
    HOUR,
    RES_BUSINESS,
    RES_WALL,
    bucket_sql,
    first_response_wall,
    histogram_percentiles,
    resolution_wall,
)
from helpdesk.reports_sql import Dialect, as_date, percentiles

# The resident's answer to "Apakah jawaban ini membantu?": data {"helpful": bool}.
FEEDBACK_EVENT = "faq.feedback"
OPEN = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value)
PS = (0.5, 0.9)
EVENTS = table("event")


def dialect_of(conn: Connection, report: ReportFilter) -> Dialect:
    return Dialect(conn.dialect.name, report.offset)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _rows(summary: sa.Table, report: ReportFilter, *,
          before_start: bool = False) -> list[ColumnElement[bool]]:
    """The summary rows of the period (or of every day before it) under the filters."""
    where: list[ColumnElement[bool]] = (
        [summary.c.day < report.first_day] if before_start
        else [summary.c.day >= report.first_day, summary.c.day <= report.last_day])
    if report.channel:
        where.append(summary.c.channel == report.channel)
    if report.queue_id is not None:
        where.append(summary.c.queue_id == report.queue_id)
    if report.assignee_id is not None:
        where.append(summary.c.assignee_id == report.assignee_id)
    if report.category:
        where.append(summary.c.category == report.category)
    return where


def _sums(conn: Connection, where: Sequence[ColumnElement[bool]],
          *names: str) -> list[int]:
    row = conn.execute(sa.select(*[sa.func.coalesce(sa.func.sum(DAY.c[n]), 0) for n in names])
                       .where(*where)).one()
    return [int(v) for v in row]


def _slot(report: ReportFilter) -> tuple[int, str, int] | None:
    """The duration histogram (assignee, channel, queue) for the filters, or
    None when the histograms do not keep them: consultant and channel in any
    combination, or the queue alone; never the category."""
    if report.category:
        return None
    if report.queue_id is not None:
        if report.channel or report.assignee_id is not None:
            return None
        return ALL, ANY_CHANNEL, report.queue_id
    return (ALL if report.assignee_id is None else report.assignee_id,
            report.channel or ANY_CHANNEL, ANY_QUEUE)


def _durations(conn: Connection, report: ReportFilter, metric: int, value: ColumnElement[Any],
               where: Sequence[ColumnElement[bool]]) -> list[float | None] | None:
    """p50 and p90 of one duration: exactly from the tickets when few (at most
    EXACT_LIMIT), else from the kept histograms, or from histograms grouped
    from the tickets under a filter the kept ones lack (the same buckets, so
    the same error bound, without a sort of every value)."""
    slot = _slot(report)
    if slot is not None:
        assignee, channel, queue = slot
        bucket_rows = conn.execute(
            sa.select(DURATION.c.bucket, sa.func.sum(DURATION.c.n))
            .where(DURATION.c.metric == metric, DURATION.c.assignee == assignee,
                   DURATION.c.channel == channel, DURATION.c.queue == queue,
                   DURATION.c.day >= report.first_day, DURATION.c.day <= report.last_day)
            .group_by(DURATION.c.bucket)).all()
        found = [(int(b), int(c)) for b, c in bucket_rows]
    else:
        found = _ticket_histograms(conn, value, where).get(None, [])
    n, values = histogram_percentiles(found, PS)
    if n == 0:
        return None
    if n > EXACT_LIMIT:
        return values
    exact = percentiles(conn, dialect_of(conn, report), value, where, PS).get(None)
    return exact[1] if exact else None


def _ticket_histograms(conn: Connection, value: ColumnElement[Any],
                       where: Sequence[ColumnElement[bool]],
                       group: ColumnElement[Any] | None = None
                       ) -> dict[Hashable, list[tuple[int, int]]]:
    """Duration histograms counted from the tickets (same buckets as the kept
    ones): one GROUP BY, no ranking of every value."""
    key = group if group is not None else sa.literal(None)
    bucket = bucket_sql(value)
    out: dict[Hashable, list[tuple[int, int]]] = {}
    for k, b, n in conn.execute(sa.select(key, bucket, sa.func.count())
                                .where(value.is_not(None), *where).group_by(key, bucket)):
        out.setdefault(k, []).append((int(b), int(n)))
    return out


@dataclass
class Summary:
    tickets: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    auto_answered: int = 0
    answered_by_faq: int = 0
    faq_rate: float | None = None
    responded: int = 0
    awaiting_response: int = 0
    first_response_p50: float | None = None
    first_response_p90: float | None = None
    first_response_business_p50: float | None = None
    first_response_business_p90: float | None = None
    resolved: int = 0
    resolution_p50: float | None = None
    resolution_p90: float | None = None
    resolution_business_p50: float | None = None
    resolution_business_p90: float | None = None
    with_target: int = 0
    first_response_breached: int = 0
    resolution_breached: int = 0
    breached: int = 0
    breach_rate: float | None = None
    rated: int = 0
    satisfaction_mean: float | None = None


def summary(conn: Connection, report: ReportFilter) -> Summary:
    """The headline figures of the period."""
    d = dialect_of(conn, report)
    (tickets, auto, faq, responded, awaiting, with_target, fr_breached, res_breached,
     breached, rated, rating_sum, resolved) = _sums(
        conn, _rows(DAY, report), "opened", "auto_answered", "answered_by_faq", "responded",
        "awaiting", "with_target", "fr_breached", "res_breached", "breached", "rated",
        "rating_sum", "resolved_person")
    out = Summary(tickets=tickets, auto_answered=auto, answered_by_faq=faq,
                  responded=responded, awaiting_response=awaiting, with_target=with_target,
                  first_response_breached=fr_breached, resolution_breached=res_breached,
                  breached=breached, rated=rated, resolved=resolved,
                  satisfaction_mean=rating_sum / rated if rated else None)
    out.faq_rate = _ratio(out.answered_by_faq, out.tickets)
    out.breach_rate = _ratio(out.breached, out.with_target)
    opened_sum = sa.func.sum(DAY.c.opened)
    out.by_channel = {str(c): int(n) for c, n in conn.execute(
        sa.select(DAY.c.channel, opened_sum).where(*_rows(DAY, report))
        .group_by(DAY.c.channel).having(opened_sum > 0).order_by(opened_sum.desc(),
                                                                 DAY.c.channel))}
    person = T.c.answered_by_faq.is_(False)
    opened = [*report.created(), person]
    closed = [*report.resolved(), person]
    fr = _durations(conn, report, FR_WALL, first_response_wall(d), opened)
    if fr:
        out.first_response_p50, out.first_response_p90 = fr
    fr_b = _durations(conn, report, FR_BUSINESS, T.c.first_response_business_seconds, opened)
    if fr_b:
        out.first_response_business_p50, out.first_response_business_p90 = fr_b
    res = _durations(conn, report, RES_WALL, resolution_wall(d), closed)
    if res:
        out.resolution_p50, out.resolution_p90 = res
    res_b = _durations(conn, report, RES_BUSINESS, T.c.resolution_business_seconds, closed)
    if res_b:
        out.resolution_business_p50, out.resolution_business_p90 = res_b
    return out


@dataclass
class Daily:
    day: date
    created: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    resolved: int = 0
    backlog: int = 0


def daily(conn: Connection, report: ReportFilter) -> list[Daily]:
    """Per Jakarta day: tickets opened (per channel), resolved, and the backlog
    (open tickets) at the end of the day.

    backlog(end of day) = open at the start of the period + opened since -
    resolved since; a ticket is resolved after it is created, so no ticket is
    taken away before it was added. A ticket reopened and resolved again counts
    as open from its creation to its latest resolution.
    """
    days = {day: Daily(day) for day in report.days}
    for day, channel, opened, resolved in conn.execute(
            sa.select(DAY.c.day, DAY.c.channel, sa.func.sum(DAY.c.opened),
                      sa.func.sum(DAY.c.resolved_all))
            .where(*_rows(DAY, report)).group_by(DAY.c.day, DAY.c.channel)):
        entry = days.get(as_date(day))
        if entry is not None:
            if opened:
                entry.by_channel[str(channel)] = int(opened)
                entry.created += int(opened)
            entry.resolved += int(resolved)
    backlog = _open_at_start(conn, report)
    for entry in days.values():
        backlog += entry.created - entry.resolved
        entry.backlog = backlog
    return list(days.values())


def _open_at_start(conn: Connection, report: ReportFilter) -> int:
    """:func:`open_at` the period's start from the summary rows: tickets opened
    before it and open now, plus those resolved since the start (by their latest
    resolution) less those of them opened since the start."""
    (still_open,) = _sums(conn, _rows(DAY, report, before_start=True), "still_open")
    since = [DAY.c.day >= report.first_day, *_rows(DAY, report)[2:]]
    resolved_since, opened_and_resolved = _sums(conn, since, "resolved_all", "resolved_since")
    return still_open + resolved_since - opened_and_resolved


def open_at(conn: Connection, report: ReportFilter, instant: datetime) -> int:
    """Tickets open at ``instant``: created before it, not resolved before it.
    Two counts, each over a short range of the resolved_at index."""
    before = [T.c.created_at < instant, *report.scope()]
    still_open = conn.execute(sa.select(sa.func.count()).where(
        *before, T.c.resolved_at.is_(None), T.c.status.in_(OPEN))).scalar_one()
    resolved_later = conn.execute(sa.select(sa.func.count()).where(
        *before, T.c.resolved_at >= instant)).scalar_one()
    return int(still_open) + int(resolved_later)


def heatmap(conn: Connection, report: ReportFilter) -> list[list[int]]:
    """Tickets opened per Jakarta weekday (0 = Monday) and hour: 7 rows of 24."""
    grid = [[0] * 24 for _ in range(7)]
    for day, hour, count in conn.execute(
            sa.select(HOUR.c.day, HOUR.c.hour, sa.func.sum(HOUR.c.opened))
            .where(*_rows(HOUR, report)).group_by(HOUR.c.day, HOUR.c.hour)):
        grid[as_date(day).weekday()][int(hour)] += int(count)
    return grid


@dataclass
class FaqRow:
    entry: str
    question: str
    auto_answered: int
    helpful: int
    not_helpful: int
    no_answer: int
    answered_by_faq: int
    helpful_rate: float | None


def faq_entries(conn: Connection, report: ReportFilter) -> list[FaqRow]:
    """Per FAQ entry sent as an automatic answer: how often, and what residents said."""
    sums = [sa.func.sum(FAQ.c[n]) for n in ("sent", "answered_by_faq", "helpful",
                                            "not_helpful")]
    counts = {str(e): (int(n), int(faq), int(yes), int(no)) for e, n, faq, yes, no in
              conn.execute(sa.select(FAQ.c.entry, *sums).where(*_rows(FAQ, report))
                           .group_by(FAQ.c.entry).having(sums[0] > 0))}
    questions = _faq_questions(conn, list(counts))
    rows = []
    for entry, (sent, resolved, yes, no) in counts.items():
        rows.append(FaqRow(entry=entry, question=questions.get(entry, ""), auto_answered=sent,
                           helpful=yes, not_helpful=no, no_answer=max(sent - yes - no, 0),
                           answered_by_faq=resolved, helpful_rate=_ratio(yes, yes + no)))
    rows.sort(key=lambda r: (-r.auto_answered, r.entry))
    return rows


def _faq_questions(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    if not ids:
        return {}
    faq = table("faq_entry")
    return {str(i): str(q) for i, q in conn.execute(
        sa.select(faq.c.id, faq.c.question).where(faq.c.id.in_(ids)))}


def satisfaction(conn: Connection, report: ReportFilter) -> dict[int, int]:
    """How many tickets got each rating, 1 to 5."""
    counts = _sums(conn, _rows(DAY, report), *(f"rating_{i}" for i in range(1, 6)))
    return {i + 1: n for i, n in enumerate(counts)}


@dataclass
class ConsultantRow:
    user_id: int
    name: str
    email: str
    handled: int = 0
    resolved: int = 0
    first_response_p50: float | None = None
    first_response_business_p50: float | None = None
    breached: int = 0
    rated: int = 0
    satisfaction_mean: float | None = None


def consultants(conn: Connection, report: ReportFilter) -> list[ConsultantRow]:
    """Per consultant (the ticket's assignee) over tickets opened in the period:
    handled, resolved, median first response, breaches, satisfaction."""
    rows: dict[int, ConsultantRow] = {}
    handled_sum = sa.func.sum(DAY.c.person)
    for uid, handled, resolved, breached, rated, rating_sum in conn.execute(
            sa.select(DAY.c.assignee_id, handled_sum, sa.func.sum(DAY.c.person_resolved),
                      sa.func.sum(DAY.c.breached), sa.func.sum(DAY.c.person_rated),
                      sa.func.sum(DAY.c.person_rating_sum))
            .where(*_rows(DAY, report), DAY.c.assignee_id.is_not(None))
            .group_by(DAY.c.assignee_id).having(handled_sum > 0)):
        rows[int(uid)] = ConsultantRow(
            user_id=int(uid), name="", email="", handled=int(handled), resolved=int(resolved),
            breached=int(breached), rated=int(rated),
            satisfaction_mean=int(rating_sum) / int(rated) if rated else None)
    wall = _consultant_medians(conn, report, FR_WALL)
    business = _consultant_medians(conn, report, FR_BUSINESS)
    users = table("staff_user")
    names = {int(i): (str(n), str(e)) for i, n, e in conn.execute(
        sa.select(users.c.id, users.c.name, users.c.email)
        .where(users.c.id.in_(list(rows))))} if rows else {}
    for uid, row in rows.items():
        row.name, row.email = names.get(uid, (f"#{uid}", ""))
        row.first_response_p50 = wall.get(uid)
        row.first_response_business_p50 = business.get(uid)
    return sorted(rows.values(), key=lambda r: (-r.handled, r.name))


def _consultant_medians(conn: Connection, report: ReportFilter,
                        metric: int) -> dict[int, float | None]:
    """Each consultant's median first response: exactly from the tickets when
    few (at most EXACT_LIMIT in all), else from the kept histograms or, under a
    filter they lack, from histograms grouped from the tickets."""
    buckets: dict[int, list[tuple[int, int]]] = {}
    if not (report.category or report.queue_id is not None):
        where = [DURATION.c.metric == metric, DURATION.c.channel == (
                     report.channel or ANY_CHANNEL), DURATION.c.queue == ANY_QUEUE,
                 DURATION.c.day >= report.first_day,
                 DURATION.c.day <= report.last_day,
                 DURATION.c.assignee != ALL if report.assignee_id is None
                 else DURATION.c.assignee == report.assignee_id]
        for uid, bucket, n in conn.execute(
                sa.select(DURATION.c.assignee, DURATION.c.bucket, sa.func.sum(DURATION.c.n))
                .where(*where).group_by(DURATION.c.assignee, DURATION.c.bucket)):
            buckets.setdefault(int(uid), []).append((int(bucket), int(n)))
    d = dialect_of(conn, report)
    value = (first_response_wall(d) if metric == FR_WALL
             else T.c.first_response_business_seconds)
    where_t = [*report.created(), T.c.assignee_id.is_not(None),
               T.c.answered_by_faq.is_(False)]
    if report.category or report.queue_id is not None:
        buckets = {int(str(k)): found for k, found in
                   _ticket_histograms(conn, value, where_t, T.c.assignee_id).items()}
    if sum(n for found in buckets.values() for _, n in found) > EXACT_LIMIT:
        return {uid: histogram_percentiles(found, (0.5,))[1][0]
                for uid, found in buckets.items()}
    return {int(str(uid)): found[1][0] for uid, found in
            percentiles(conn, d, value, where_t, (0.5,), group=T.c.assignee_id).items()}


def choices(conn: Connection) -> dict[str, list[tuple[str, str]]]:
    """The values the filter menus offer: queues, consultants, categories."""
    queues, users, faq = table("queue"), table("staff_user"), table("faq_entry")
    return {
        "queues": [(str(i), str(t or n)) for i, n, t in conn.execute(
            sa.select(queues.c.id, queues.c.name, queues.c.title).order_by(queues.c.name))],
        "consultants": [(str(i), str(n or e)) for i, n, e in conn.execute(
            sa.select(users.c.id, users.c.name, users.c.email)
            .where(users.c.role == "consultant").order_by(users.c.name))],
        # Categories come from the FAQ base: a short table, unlike the tickets.
        "categories": [(str(c), str(c)) for (c,) in conn.execute(
            sa.select(faq.c.category).distinct().order_by(faq.c.category))],
    }
