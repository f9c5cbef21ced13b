"""Drill-down: the tickets behind a figure.

Every figure on the dashboard links here with the same filters plus a *drill*
key naming the figure ("breached", "day:2026-11-23", "faq_no:nib-apa", ...),
so the list always holds exactly the tickets that were counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from helpdesk.reports import (
    EVENTS,
    FEEDBACK_EVENT,
    OPEN,
    backlog_total,
    day_total,
    dialect_of,
    faq_total,
    hour_total,
)
from helpdesk.reports_filters import FilterError, ReportFilter, T, table
from helpdesk.reports_rollup import first_response_wall
from helpdesk.ticket_numbers import format_number

PAGE_SIZE = 50
DRILLS = {
    "opened": "Tiket masuk",
    "responded": "Sudah ditanggapi petugas",
    "awaiting": "Menunggu tanggapan pertama",
    "resolved": "Diselesaikan petugas",
    "breached": "Melewati SLA",
    "fr_breached": "Tanggapan pertama melewati SLA",
    "res_breached": "Penyelesaian melewati SLA",
    "auto_answered": "Dijawab otomatis",
    "faq": "Selesai dengan jawaban FAQ",
    "rated": "Diberi penilaian",
}
PREFIXED = {
    "day": "Tiket masuk pada {}",
    "resolved_day": "Diselesaikan pada {}",
    "backlog": "Masih terbuka pada akhir {}",
    "hour": "Tiket masuk pada jam {}",
    "rating": "Penilaian {}",
    "faq_entry": "Dijawab otomatis dengan {}",
    "faq_yes": "Jawaban {} membantu",
    "faq_no": "Jawaban {} tidak membantu",
}


@dataclass
class TicketRow:
    id: int
    number: str
    subject: str
    channel: str
    status: str
    queue: str
    assignee: str
    created_at: datetime
    first_response_seconds: int | None
    resolved_at: datetime | None
    breached: bool
    satisfaction: int | None
    auto_answer_entry: str | None


@dataclass
class TicketPage:
    title: str
    total: int
    page: int
    pages: int
    rows: list[TicketRow]


def drill_title(drill: str) -> str:
    if drill in DRILLS:
        return DRILLS[drill]
    prefix, _, value = drill.partition(":")
    if prefix in PREFIXED and value:
        return PREFIXED[prefix].format(value)
    raise FilterError(f"drill: unknown figure {drill!r}")


def drill_conditions(conn: Connection, report: ReportFilter,
                     drill: str) -> list[ColumnElement[bool]]:
    """The conditions that select the tickets counted in figure ``drill``."""
    drill_title(drill)  # refuses unknown keys
    person = T.c.answered_by_faq.is_(False)
    targeted = sa.and_(T.c.sla_due_at.is_not(None), person)
    simple: dict[str, list[ColumnElement[bool]]] = {
        "opened": [],
        "responded": [person, T.c.first_response_at.is_not(None)],
        "awaiting": [person, T.c.first_response_at.is_(None), T.c.status.in_(OPEN)],
        "breached": [targeted, sa.or_(T.c.first_response_breached.is_(True),
                                      T.c.resolution_breached.is_(True))],
        "fr_breached": [targeted, T.c.first_response_breached.is_(True)],
        "res_breached": [targeted, T.c.resolution_breached.is_(True)],
        "auto_answered": [T.c.auto_answer_entry.is_not(None)],
        "faq": [T.c.answered_by_faq.is_(True)],
        "rated": [T.c.satisfaction.is_not(None)],
    }
    if drill == "resolved":
        return [*report.resolved(), person]
    if drill in simple:
        return [*report.created(), *simple[drill]]
    prefix, _, value = drill.partition(":")
    if prefix in ("day", "resolved_day", "backlog"):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise FilterError(f"drill: expected a date, got {value!r}") from None
        one = report.with_day(day)
        if prefix == "day":
            return one.created()
        if prefix == "resolved_day":
            return one.resolved()
        end = one.end
        return [T.c.created_at < end, *report.scope(), sa.or_(
            sa.and_(T.c.resolved_at.is_(None), T.c.status.in_(OPEN)), T.c.resolved_at >= end)]
    if prefix == "hour":
        weekday, _, hour = value.partition("-")
        if not (weekday.isdigit() and hour.isdigit()):
            raise FilterError("drill: expected hour:<weekday 0-6>-<hour 0-23>")
        d = dialect_of(conn, report)
        sunday_based = (int(weekday) + 1) % 7
        return [*report.created(), d.local_weekday(T.c.created_at) == sunday_based,
                d.local_hour(T.c.created_at) == int(hour)]
    if prefix == "rating":
        if not value.isdigit():
            raise FilterError("drill: expected rating:<1-5>")
        return [*report.created(), T.c.satisfaction == int(value)]
    opened = [*report.created(), T.c.auto_answer_entry == value]
    if prefix == "faq_entry":
        return opened
    voted = sa.select(EVENTS.c.ticket_id).where(
        EVENTS.c.kind == FEEDBACK_EVENT,
        EVENTS.c.data["helpful"].as_boolean().is_(prefix == "faq_yes"))
    return [*opened, T.c.id.in_(voted)]


# Drill-downs whose ticket count a report_day column holds, and the column.
DAY_COUNTS = {"opened": "opened", "responded": "responded", "awaiting": "awaiting",
              "resolved": "resolved_person", "breached": "breached",
              "fr_breached": "fr_breached", "res_breached": "res_breached",
              "auto_answered": "auto_answered", "faq": "answered_by_faq", "rated": "rated"}
# The same for report_faq, per FAQ entry.
FAQ_COUNTS = {"faq_entry": "sent", "faq_yes": "helpful", "faq_no": "not_helpful"}


def counted_total(conn: Connection, report: ReportFilter, drill: str) -> int | None:
    """How many tickets are behind ``drill``, read from the summary rows (the
    figure the dashboard showed, kept current by the same refresh), or None
    for a figure they do not hold. Counting the tickets instead reads every
    ticket of the period: a third of a million rows at a million tickets."""
    if drill in DAY_COUNTS:
        return day_total(conn, report, DAY_COUNTS[drill])
    prefix, _, value = drill.partition(":")
    if prefix in ("day", "resolved_day", "backlog"):
        one = report.with_day(date.fromisoformat(value))
        if prefix == "backlog":
            return backlog_total(conn, one)
        return day_total(conn, one, "opened" if prefix == "day" else "resolved_all")
    if prefix == "hour":
        weekday, _, hour = value.partition("-")
        if int(weekday) < 7 and int(hour) < 24:
            return hour_total(conn, report, int(weekday), int(hour))
    if prefix == "rating" and value in ("1", "2", "3", "4", "5"):
        return day_total(conn, report, f"rating_{value}")
    if prefix in FAQ_COUNTS:
        return faq_total(conn, report, value, FAQ_COUNTS[prefix])
    return None


def ticket_page(conn: Connection, report: ReportFilter, drill: str = "opened",
                page: int = 1, page_size: int = PAGE_SIZE) -> TicketPage:
    """One page of the tickets behind ``drill``, newest first, with the total.
    The summary rows must be current (:func:`helpdesk.reports_rollup.refresh_store`)."""
    conditions = drill_conditions(conn, report, drill)
    total = counted_total(conn, report, drill)
    if total is None:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(T)
                                 .where(*conditions)).scalar_one())
    pages = max((total + page_size - 1) // page_size, 1)
    page = min(max(page, 1), pages)
    d = dialect_of(conn, report)
    rows = conn.execute(
        sa.select(T.c.id, T.c.subject, T.c.channel, T.c.status, T.c.queue_id, T.c.assignee_id,
                  T.c.created_at, first_response_wall(d), T.c.resolved_at,
                  T.c.first_response_breached, T.c.resolution_breached, T.c.satisfaction,
                  T.c.auto_answer_entry)
        .where(*conditions).order_by(T.c.created_at.desc(), T.c.id.desc())
        .offset((page - 1) * page_size).limit(page_size)).all()
    queues, users = _names(conn, {r[4] for r in rows if r[4]}, {r[5] for r in rows if r[5]})
    return TicketPage(title=drill_title(drill), total=total, page=page, pages=pages, rows=[
        TicketRow(id=r[0], number=format_number(r[0]), subject=r[1], channel=r[2], status=r[3],
                  queue=queues.get(r[4], ""), assignee=users.get(r[5], ""), created_at=r[6],
                  first_response_seconds=None if r[7] is None else int(r[7]),
                  resolved_at=r[8], breached=bool(r[9] or r[10]), satisfaction=r[11],
                  auto_answer_entry=r[12])
        for r in rows])


def all_tickets(conn: Connection, report: ReportFilter, drill: str,
                limit: int = 100_000) -> list[TicketRow]:
    """Every ticket behind ``drill`` (for the CSV), up to ``limit``."""
    return ticket_page(conn, report, drill, 1, limit).rows


def _names(conn: Connection, queue_ids: set[Any],
           user_ids: set[Any]) -> tuple[dict[int, str], dict[int, str]]:
    queues_t, users_t = table("queue"), table("staff_user")
    queues = {int(i): str(t or n) for i, n, t in conn.execute(
        sa.select(queues_t.c.id, queues_t.c.name, queues_t.c.title)
        .where(queues_t.c.id.in_(queue_ids)))} if queue_ids else {}
    users = {int(i): str(n or e) for i, n, e in conn.execute(
        sa.select(users_t.c.id, users_t.c.name, users_t.c.email)
        .where(users_t.c.id.in_(user_ids)))} if user_ids else {}
    return queues, users
