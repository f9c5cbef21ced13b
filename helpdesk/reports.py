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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from helpdesk.models import TicketStatus
from helpdesk.reports_filters import ReportFilter, T, table
from helpdesk.reports_sql import Dialect, as_date, percentiles

# The resident's answer to "Apakah jawaban ini membantu?": data {"helpful": bool}.
FEEDBACK_EVENT = "faq.feedback"
OPEN = (TicketStatus.NEW.value, TicketStatus.OPEN.value, TicketStatus.PENDING.value)
PS = (0.5, 0.9)
EVENTS = table("event")


def dialect_of(conn: Connection, report: ReportFilter) -> Dialect:
    return Dialect(conn.dialect.name, report.offset)


def first_response_wall(d: Dialect) -> ColumnElement[Any]:
    # The summary column when it was kept, else the two timestamps.
    return sa.func.coalesce(T.c.first_response_seconds,
                            d.seconds_between(T.c.created_at, T.c.first_response_at))


def resolution_wall(d: Dialect) -> ColumnElement[Any]:
    return sa.func.coalesce(T.c.resolution_seconds,
                            d.seconds_between(T.c.created_at, T.c.resolved_at))


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


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
    person = T.c.answered_by_faq.is_(False)
    targeted = sa.and_(T.c.sla_due_at.is_not(None), person)
    fr_breach = sa.and_(targeted, T.c.first_response_breached.is_(True))
    res_breach = sa.and_(targeted, T.c.resolution_breached.is_(True))
    row = conn.execute(sa.select(
        sa.func.count(),
        _count_if(T.c.auto_answer_entry.is_not(None)),
        _count_if(T.c.answered_by_faq.is_(True)),
        _count_if(sa.and_(person, T.c.first_response_at.is_not(None))),
        _count_if(sa.and_(person, T.c.first_response_at.is_(None), T.c.status.in_(OPEN))),
        _count_if(targeted), _count_if(fr_breach), _count_if(res_breach),
        _count_if(sa.or_(fr_breach, res_breach)),
        sa.func.count(T.c.satisfaction), sa.func.avg(T.c.satisfaction),
    ).where(*report.created())).one()
    out = Summary(tickets=row[0], auto_answered=row[1], answered_by_faq=row[2],
                  responded=row[3], awaiting_response=row[4], with_target=row[5],
                  first_response_breached=row[6], resolution_breached=row[7],
                  breached=row[8], rated=row[9],
                  satisfaction_mean=None if row[10] is None else float(row[10]))
    out.faq_rate = _ratio(out.answered_by_faq, out.tickets)
    out.breach_rate = _ratio(out.breached, out.with_target)
    out.by_channel = {str(c): int(n) for c, n in conn.execute(
        sa.select(T.c.channel, sa.func.count()).where(*report.created())
        .group_by(T.c.channel).order_by(sa.func.count().desc()))}
    opened = [*report.created(), person]
    fr = percentiles(conn, d, first_response_wall(d), opened, PS).get(None)
    if fr:
        out.first_response_p50, out.first_response_p90 = fr[1]
    fr_b = percentiles(conn, d, T.c.first_response_business_seconds, opened, PS).get(None)
    if fr_b:
        out.first_response_business_p50, out.first_response_business_p90 = fr_b[1]
    closed = [*report.resolved(), person]
    out.resolved = conn.execute(sa.select(sa.func.count()).where(*closed)).scalar_one()
    res = percentiles(conn, d, resolution_wall(d), closed, PS).get(None)
    if res:
        out.resolution_p50, out.resolution_p90 = res[1]
    res_b = percentiles(conn, d, T.c.resolution_business_seconds, closed, PS).get(None)
    if res_b:
        out.resolution_business_p50, out.resolution_business_p90 = res_b[1]
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
    d = dialect_of(conn, report)
    days = {day: Daily(day) for day in report.days}
    day_col = d.local_day(T.c.created_at)
    for day, channel, count in conn.execute(
            sa.select(day_col, T.c.channel, sa.func.count()).where(*report.created())
            .group_by(day_col, T.c.channel)):
        entry = days.get(as_date(day))
        if entry is not None:
            entry.by_channel[str(channel)] = int(count)
            entry.created += int(count)
    resolved_day = d.local_day(T.c.resolved_at)
    for day, count in conn.execute(
            sa.select(resolved_day, sa.func.count()).where(*report.resolved())
            .group_by(resolved_day)):
        entry = days.get(as_date(day))
        if entry is not None:
            entry.resolved = int(count)
    backlog = open_at(conn, report, report.start)
    for entry in days.values():
        backlog += entry.created - entry.resolved
        entry.backlog = backlog
    return list(days.values())


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
    d = dialect_of(conn, report)
    grid = [[0] * 24 for _ in range(7)]
    weekday, hour = d.local_weekday(T.c.created_at), d.local_hour(T.c.created_at)
    for dow, hh, count in conn.execute(
            sa.select(weekday, hour, sa.func.count()).where(*report.created())
            .group_by(weekday, hour)):
        grid[(int(dow) + 6) % 7][int(hh)] = int(count)  # the databases count from Sunday
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
    opened = [*report.created(), T.c.auto_answer_entry.is_not(None)]
    counts = {str(e): (int(n), int(faq)) for e, n, faq in conn.execute(
        sa.select(T.c.auto_answer_entry, sa.func.count(), _count_if(T.c.answered_by_faq))
        .where(*opened).group_by(T.c.auto_answer_entry))}
    helpful = EVENTS.c.data["helpful"].as_boolean()
    votes: dict[tuple[str, bool], int] = {}
    for entry, yes, n in conn.execute(
            sa.select(T.c.auto_answer_entry, helpful,
                      sa.func.count(sa.distinct(EVENTS.c.ticket_id)))
            .select_from(T.join(EVENTS, EVENTS.c.ticket_id == T.c.id))
            .where(*opened, EVENTS.c.kind == FEEDBACK_EVENT)
            .group_by(T.c.auto_answer_entry, helpful)):
        votes[(str(entry), bool(yes))] = int(n)
    questions = _faq_questions(conn, list(counts))
    rows = []
    for entry, (sent, resolved) in counts.items():
        yes, no = votes.get((entry, True), 0), votes.get((entry, False), 0)
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
    out = dict.fromkeys(range(1, 6), 0)
    for rating, count in conn.execute(
            sa.select(T.c.satisfaction, sa.func.count())
            .where(*report.created(), T.c.satisfaction.is_not(None))
            .group_by(T.c.satisfaction)):
        if int(rating) in out:
            out[int(rating)] = int(count)
    return out


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
    d = dialect_of(conn, report)
    person = T.c.answered_by_faq.is_(False)
    where = [*report.created(), T.c.assignee_id.is_not(None), person]
    breach = sa.and_(T.c.sla_due_at.is_not(None), sa.or_(
        T.c.first_response_breached.is_(True), T.c.resolution_breached.is_(True)))
    rows: dict[int, ConsultantRow] = {}
    for uid, handled, resolved, breached, rated, mean in conn.execute(
            sa.select(T.c.assignee_id, sa.func.count(), _count_if(T.c.resolved_at.is_not(None)),
                      _count_if(breach), sa.func.count(T.c.satisfaction),
                      sa.func.avg(T.c.satisfaction))
            .where(*where).group_by(T.c.assignee_id)):
        rows[int(uid)] = ConsultantRow(
            user_id=int(uid), name="", email="", handled=int(handled), resolved=int(resolved),
            breached=int(breached), rated=int(rated),
            satisfaction_mean=None if mean is None else float(mean))
    wall = percentiles(conn, d, first_response_wall(d), where, (0.5,), group=T.c.assignee_id)
    business = percentiles(conn, d, T.c.first_response_business_seconds, where, (0.5,),
                           group=T.c.assignee_id)
    users = table("staff_user")
    names = {int(i): (str(n), str(e)) for i, n, e in conn.execute(
        sa.select(users.c.id, users.c.name, users.c.email)
        .where(users.c.id.in_(list(rows))))} if rows else {}
    for uid, row in rows.items():
        row.name, row.email = names.get(uid, (f"#{uid}", ""))
        if uid in wall:
            row.first_response_p50 = wall[uid][1][0]
        if uid in business:
            row.first_response_business_p50 = business[uid][1][0]
    return sorted(rows.values(), key=lambda r: (-r.handled, r.name))


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
