"""Business-time durations across a public holiday and a pending pause, and
automatic answers never counting as a consultant's first response."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from helpdesk import reports
from helpdesk.business_calendar import BusinessCalendar
from helpdesk.config import load_config
from helpdesk.models import Contact, Event, Ticket
from helpdesk.reports_filters import ReportFilter, T
from helpdesk.reports_rollup import refresh_store
from helpdesk.reports_summary import record_durations, refresh_durations
from helpdesk.store import Store

WIB = timedelta(hours=7)


def wib(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - WIB


@pytest.fixture
def calendar() -> BusinessCalendar:
    return BusinessCalendar(load_config(environ={}).business_hours)


def _ticket(store: Store, opened: datetime, events: list[tuple[str, str, dict[str, Any],
                                                                 datetime]]) -> int:
    with store.write() as session:
        contact = Contact(name="Warga")
        session.add(contact)
        session.flush()
        ticket = Ticket(subject="Izin", channel="email", contact_id=contact.id or 0,
                        created_at=opened, updated_at=opened, status="new")
        session.add(ticket)
        session.flush()
        session.add(Event(ticket_id=ticket.id, kind="ticket.created", actor="intake",
                          created_at=opened))
        for kind, actor, data, at in events:
            session.add(Event(ticket_id=ticket.id, kind=kind, actor=actor, data=data,
                              created_at=at))
            if kind == "ticket.status":
                ticket.status = data["to"]
                if data["to"] == "resolved":
                    ticket.resolved_at = at
        assert ticket.id is not None
        return ticket.id


def _columns(store: Store, ticket_id: int) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(T).where(T.c.id == ticket_id)).one()
        return dict(row._mapping)


def test_business_time_skips_the_holiday_lunch_and_pending_pause(
        store: Store, calendar: BusinessCalendar) -> None:
    # Friday 14 August 2026, 15:50: Friday closes at 16:30 (40 business minutes);
    # Monday 17 August is Independence Day; Tuesday opens at 08:00.
    opened = wib(8, 14, 15, 50)
    ticket_id = _ticket(store, opened, [
        # The bot's automatic answer a minute later is not a first response.
        ("message.queued", "bot", {"message_id": 1}, wib(8, 14, 15, 51)),
        ("message.queued", "consultant", {"message_id": 2}, wib(8, 18, 9, 0)),
        ("ticket.status", "consultant", {"from": "new", "to": "pending"}, wib(8, 18, 9, 0)),
        ("ticket.status", "resident", {"from": "pending", "to": "open"}, wib(8, 18, 14, 0)),
        ("ticket.status", "consultant", {"from": "open", "to": "resolved"}, wib(8, 18, 15, 0)),
    ])
    with store.write() as session:
        ticket = session.get_one(Ticket, ticket_id)
        found = record_durations(session, ticket, calendar)
    # First response: Friday 40 min + Tuesday 08:00-09:00 = 100 business minutes.
    assert found.first_response_business_seconds == 100 * 60
    # Wall: Friday 15:50 to Tuesday 09:00 = 3 days 17 h 10 min.
    assert found.first_response_seconds == 3 * 86400 + 17 * 3600 + 10 * 60
    # Resolution: 40 + 60 + (09:00-14:00 pending: nothing) + 14:00-15:00 = 160 min
    # (the lunch hour 12:00-13:00 falls inside the pause).
    assert found.resolution_business_seconds == 160 * 60
    assert found.resolution_seconds == 3 * 86400 + 23 * 3600 + 10 * 60
    stored = _columns(store, ticket_id)
    assert stored["first_response_at"] == wib(8, 18, 9, 0)
    assert stored["first_response_business_seconds"] == 6000
    report = ReportFilter(first_day=datetime(2026, 8, 14).date(),
                          last_day=datetime(2026, 8, 18).date())
    refresh_store(store)  # the summary rows the reports read
    with store.engine.connect() as conn:
        s = reports.summary(conn, report)
    assert s.first_response_business_p50 == pytest.approx(6000)
    assert s.resolution_business_p50 == pytest.approx(9600)
    assert s.first_response_p50 == pytest.approx(found.first_response_seconds)


def test_a_ticket_only_the_bot_answered_has_no_first_response(
        store: Store, calendar: BusinessCalendar) -> None:
    opened = wib(11, 23, 9, 0)
    bot_only = _ticket(store, opened, [
        ("message.queued", "bot", {"message_id": 1}, wib(11, 23, 9, 1)),
        ("ticket.status", "knowledge", {"from": "new", "to": "pending"}, wib(11, 23, 9, 1)),
    ])
    bot_then_person = _ticket(store, opened, [
        ("message.queued", "bot", {"message_id": 3}, wib(11, 23, 9, 1)),
        ("message.queued", "consultant", {"message_id": 4}, wib(11, 23, 10, 0)),
    ])
    with store.write() as session:
        for ticket_id in (bot_only, bot_then_person):
            record_durations(session, session.get_one(Ticket, ticket_id), calendar)
    assert _columns(store, bot_only)["first_response_at"] is None
    assert _columns(store, bot_only)["first_response_seconds"] is None
    assert _columns(store, bot_then_person)["first_response_seconds"] == 3600
    report = ReportFilter(first_day=datetime(2026, 11, 23).date(),
                          last_day=datetime(2026, 11, 23).date())
    refresh_store(store)  # the summary rows the reports read
    with store.engine.connect() as conn:
        s = reports.summary(conn, report)
    assert (s.tickets, s.responded, s.awaiting_response) == (2, 1, 1)
    # Only the consultant's reply counts: an hour, not the bot's minute.
    assert s.first_response_p50 == pytest.approx(3600)
    assert s.first_response_business_p50 == pytest.approx(3600)


def test_refresh_catches_up_tickets_recorded_without_durations(
        store: Store, calendar: BusinessCalendar) -> None:
    opened = wib(11, 24, 8, 0)
    ticket_id = _ticket(store, opened, [
        ("message.queued", "consultant", {"message_id": 5}, wib(11, 24, 8, 45)),
    ])
    with store.write() as session:
        session.get_one(Ticket, ticket_id).first_response_at = wib(11, 24, 8, 45)
    assert refresh_durations(store, calendar) == 1
    assert _columns(store, ticket_id)["first_response_business_seconds"] == 45 * 60
    assert refresh_durations(store, calendar) == 0
