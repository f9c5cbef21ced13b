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
    DAY,
    DURATION,
    EXACT_LIMIT,
    FAQ,
    FR_BUSINESS,
    FR_WALL,
    HOUR,
    HOURS,
    RES_BUSINESS,
    RES_WALL,
    bucket_sql,
    first_response_wall,
    histogram_percentiles,
    kept_slot,
    resolution_wall,
)
from helpdesk.reports_sql import Dialect, as_date, percentiles_of

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


def day_total(conn: Connection, report: ReportFilter, name: str) -> int:
    """One report_day count summed over the period under the filters."""
    return _sums(conn, _rows(DAY, report), name)[0]


def faq_total(conn: Connection, report: ReportFilter, entry: str, name: str) -> int:
    """One report_faq count of one FAQ entry over the period under the filters."""
    total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(FAQ.c[name]), 0))
                         .where(*_rows(FAQ, report), FAQ.c.entry == entry)).scalar_one()
    return int(total)


def hour_total(conn: Connection, report: ReportFilter, weekday: int, hour: int) -> int:
    """Tickets opened in the period on a weekday (0 = Monday) at an hour: one
    heatmap cell."""
    days = [day for day in report.days if day.weekday() == weekday]
    if not days:
        return 0
    total = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(HOUR.c[HOURS[hour]]), 0))
                         .where(*_rows(HOUR, report)[2:], HOUR.c.day.in_(days))).scalar_one()
    return int(total)


def backlog_total(conn: Connection, day: ReportFilter) -> int:
    """Tickets open at the end of a one-day report's day, as :func:`daily` counts them."""
    opened, resolved = _sums(conn, _rows(DAY, day), "opened", "resolved_all")
    return _open_at_start(conn, day) + opened - resolved


# A duration: its report_duration metric and the ticket's value in SQL.
Metric = tuple[int, ColumnElement[Any]]
# Histograms [(bucket, count)] per metric and group (a consultant, or None).
Histograms = dict[tuple[int, Hashable], list[tuple[int, int]]]


def _histograms(conn: Connection, report: ReportFilter, metrics: Sequence[Metric],
                where: Sequence[ColumnElement[bool]], expected: int, *,
                consultants: Sequence[int] | None = None) -> Histograms | None:
    """The histograms of ``metrics`` over the tickets ``where`` selects, per
    consultant when ``consultants`` are given: read from the kept rows when a
    slot serves the filters, else counted from the tickets in one scan for every
    metric (the same buckets, so the same error bound, without a sort of every
    value). None when no slot serves the filters and the summary rows count
    (``expected``) no more tickets than the exact path takes: counting the
    histograms first would only add a scan."""
    per_consultant = consultants is not None
    slot = kept_slot(report, per_consultant=per_consultant)
    out: Histograms = {}
    if slot is not None:
        where_k = [DURATION.c.day >= report.first_day, DURATION.c.day <= report.last_day,
                   *(DURATION.c[dim] == value for dim, value in slot.items()
                     if not (per_consultant and dim == "assignee"))]
        keys = [DURATION.c.bucket]
        if consultants is not None:
            # One index range per consultant of the table, not one over every
            # consultant's rows of every day.
            where_k.append(DURATION.c.assignee.in_(consultants))
            keys.append(DURATION.c.assignee)
        # One statement per metric: an equality on the index's first column
        # reads faster than a list of them on both databases.
        rows = [row for m, _ in metrics for row in conn.execute(
            sa.select(sa.literal_column(str(m), sa.Integer()),
                      DURATION.c.assignee if consultants is not None else sa.null(),
                      DURATION.c.bucket, sa.func.sum(DURATION.c.n))
            .where(DURATION.c.metric == m, *where_k).group_by(*keys))]
    elif expected <= EXACT_LIMIT:
        return None
    else:
        group = T.c.assignee_id if per_consultant else sa.cast(sa.null(), sa.Integer())
        tickets = sa.select(group.label("g"), *(value.label(f"v{m}") for m, value in metrics)
                            ).where(*where).cte("durations")
        arms = []
        for m, _ in metrics:
            bucket = bucket_sql(tickets.c[f"v{m}"])
            arms.append(sa.select(sa.literal_column(str(m), sa.Integer()), tickets.c.g, bucket,
                                  sa.func.count())
                        .where(tickets.c[f"v{m}"].is_not(None))
                        .group_by(tickets.c.g, bucket))
        rows = list(conn.execute(sa.union_all(*arms)))
    for metric, group_key, bucket_key, n in rows:
        found = out.setdefault((int(metric), None if group_key is None else int(group_key)), [])
        found.append((int(bucket_key), int(n)))
    return out


def _percentiles(conn: Connection, report: ReportFilter, metrics: Sequence[Metric],
                 where: Sequence[ColumnElement[bool]],
                 expected: int) -> dict[int, list[float | None] | None]:
    """p50 and p90 of each duration: from the histograms, or exactly from the
    tickets when few (at most EXACT_LIMIT)."""
    found = _histograms(conn, report, metrics, where, expected)
    out: dict[int, list[float | None] | None] = {}
    few: list[Metric] = []
    for metric, value in metrics:
        n, values = histogram_percentiles((found or {}).get((metric, None), []), PS)
        if found is not None and (n == 0 or n > EXACT_LIMIT):
            out[metric] = values if n else None
        else:
            few.append((metric, value))
    if few:
        exact = percentiles_of(conn, dialect_of(conn, report), [v for _, v in few], where, PS)
        for (metric, _), groups in zip(few, exact, strict=True):
            one = groups.get(None)
            out[metric] = one[1] if one else None
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
    # First responses count over the tickets opened in the period, resolutions
    # over those resolved in it. When no kept histogram serves the filters the
    # tickets are read: on SQLite once per set; on PostgreSQL once for both
    # (each value blank outside its own set), as the resolved set alone tempts
    # its planner into walking every resolution of the period instead of the
    # filter's index.
    person = T.c.answered_by_faq.is_(False)
    opened_in = sa.and_(*report.created()[:2])
    resolved_in = sa.and_(*report.resolved()[:2])
    first = ((FR_WALL, first_response_wall(d)),
             (FR_BUSINESS, T.c.first_response_business_seconds))
    last = ((RES_WALL, resolution_wall(d)), (RES_BUSINESS, T.c.resolution_business_seconds))
    if d.is_sqlite:
        found = {**_percentiles(conn, report, first, [*report.created(), person], responded),
                 **_percentiles(conn, report, last, [*report.resolved(), person], resolved)}
    else:
        found = _percentiles(
            conn, report, [*((m, sa.case((opened_in, v))) for m, v in first),
                           *((m, sa.case((resolved_in, v))) for m, v in last)],
            [sa.or_(opened_in, resolved_in), *report.scope(), person],
            max(responded, resolved))
    out.first_response_p50, out.first_response_p90 = found[FR_WALL] or (None, None)
    (out.first_response_business_p50,
     out.first_response_business_p90) = found[FR_BUSINESS] or (None, None)
    out.resolution_p50, out.resolution_p90 = found[RES_WALL] or (None, None)
    (out.resolution_business_p50,
     out.resolution_business_p90) = found[RES_BUSINESS] or (None, None)
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
    for day, *hours in conn.execute(
            sa.select(HOUR.c.day, *(sa.func.sum(HOUR.c[name]) for name in HOURS))
            .where(*_rows(HOUR, report)).group_by(HOUR.c.day)):
        row = grid[as_date(day).weekday()]
        for hour, count in enumerate(hours):
            row[hour] += int(count or 0)
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
    responded = 0
    handled_sum = sa.func.sum(DAY.c.person)
    for uid, handled, resolved, breached, rated, rating_sum, answered in conn.execute(
            sa.select(DAY.c.assignee_id, handled_sum, sa.func.sum(DAY.c.person_resolved),
                      sa.func.sum(DAY.c.breached), sa.func.sum(DAY.c.person_rated),
                      sa.func.sum(DAY.c.person_rating_sum), sa.func.sum(DAY.c.responded))
            .where(*_rows(DAY, report), DAY.c.assignee_id.is_not(None))
            .group_by(DAY.c.assignee_id).having(handled_sum > 0)):
        rows[int(uid)] = ConsultantRow(
            user_id=int(uid), name="", email="", handled=int(handled), resolved=int(resolved),
            breached=int(breached), rated=int(rated),
            satisfaction_mean=int(rating_sum) / int(rated) if rated else None)
        responded += int(answered)
    if not rows:
        return []
    medians = _consultant_medians(conn, report, list(rows), responded)
    users = table("staff_user")
    names = {int(i): (str(n), str(e)) for i, n, e in conn.execute(
        sa.select(users.c.id, users.c.name, users.c.email)
        .where(users.c.id.in_(list(rows))))}
    for uid, row in rows.items():
        row.name, row.email = names.get(uid, (f"#{uid}", ""))
        row.first_response_p50 = medians[FR_WALL].get(uid)
        row.first_response_business_p50 = medians[FR_BUSINESS].get(uid)
    return sorted(rows.values(), key=lambda r: (-r.handled, r.name))


def _consultant_medians(conn: Connection, report: ReportFilter, consultant_ids: Sequence[int],
                        expected: int) -> dict[int, dict[int, float | None]]:
    """Each consultant's median first response (wall and business): from the
    histograms, or exactly from the tickets when few (at most EXACT_LIMIT in
    all, ``expected`` as the summary rows count them)."""
    d = dialect_of(conn, report)
    metrics = ((FR_WALL, first_response_wall(d)),
               (FR_BUSINESS, T.c.first_response_business_seconds))
    where = [*report.created(), T.c.assignee_id.is_not(None), T.c.answered_by_faq.is_(False)]
    found = _histograms(conn, report, metrics, where, expected, consultants=consultant_ids)
    out: dict[int, dict[int, float | None]] = {}
    few: list[Metric] = []
    for metric, value in metrics:
        buckets = {int(str(uid)): b for (m, uid), b in (found or {}).items() if m == metric}
        if found is not None and sum(n for b in buckets.values() for _, n in b) > EXACT_LIMIT:
            out[metric] = {uid: histogram_percentiles(b, (0.5,))[1][0]
                           for uid, b in buckets.items()}
        else:
            few.append((metric, value))
    if few:
        exact = percentiles_of(conn, d, [v for _, v in few], where, (0.5,),
                               group=T.c.assignee_id)
        for (metric, _), groups in zip(few, exact, strict=True):
            out[metric] = {int(str(uid)): one[1][0] for uid, one in groups.items()}
    return out


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
