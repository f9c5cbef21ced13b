"""The SLA clock: due times from the ticket's events on business time, pauses
while waiting on the resident, bot answers never a first response, warnings
and breaches raised once, and recomputation after a policy change."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlmodel import col, select

from helpdesk.business_calendar import BusinessCalendar
from helpdesk.config import BusinessHoursConfig, Config, SlaConfig, SlaPolicyConfig
from helpdesk.models import AuthorKind, Event, Ticket, TicketStatus
from helpdesk.outbox import queue_reply
from helpdesk.sla import EventRecord, SlaPolicies, SlaTarget, evaluate, timeline_from_events
from helpdesk.store import Store
from tests.helpdesk.desk import JAKARTA, Clock, desk, wib
from tests.helpdesk.factories import email_inquiry

CALENDAR = BusinessCalendar(BusinessHoursConfig())
TARGET = SlaTarget("test", first_response_minutes=60, resolution_minutes=420)


def local(instant: datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%a %Y-%m-%d %H:%M")


def status(to: str, at: datetime) -> EventRecord:
    return EventRecord("ticket.status", {"to": to}, at)


def test_first_response_due_on_tuesday_after_a_friday_before_the_holiday() -> None:
    created = wib(2026, 8, 14, 15, 50)
    timeline = timeline_from_events(created, [EventRecord("ticket.created", {}, created)])
    state = evaluate(TARGET, timeline, CALENDAR, created, 0.75)
    assert local(state.first_response_due) == "Tue 2026-08-18 08:20"
    # 420 minutes: 40 on Friday, 380 from Tuesday 08:00 (with the lunch hour).
    assert local(state.resolution_due) == "Tue 2026-08-18 15:20"
    late = evaluate(TARGET, timeline, CALENDAR, wib(2026, 8, 18, 8, 21), 0.75)
    assert late.first_response_breached and not late.resolution_breached


def test_pending_time_pauses_both_clocks() -> None:
    created = wib(2026, 8, 11, 9, 0)
    events = [EventRecord("ticket.created", {}, created),
              status("pending", wib(2026, 8, 11, 9, 10)),
              status("open", wib(2026, 8, 11, 9, 40))]
    state = evaluate(TARGET, timeline_from_events(created, events), CALENDAR,
                     wib(2026, 8, 11, 9, 45), 0.75)
    assert local(state.first_response_due) == "Tue 2026-08-11 10:30"
    # While still pending, the due time moves on with the pause.
    waiting = evaluate(TARGET, timeline_from_events(created, events[:2]), CALENDAR,
                       wib(2026, 8, 11, 11, 0), 0.75)
    assert waiting.paused and local(waiting.first_response_due) == "Tue 2026-08-11 11:50"
    assert not waiting.first_response_breached and waiting.due_warnings == ()


def test_bot_answers_are_not_a_first_response() -> None:
    created = wib(2026, 8, 11, 9, 0)
    events = [EventRecord("ticket.created", {}, created),
              EventRecord("message.queued", {}, wib(2026, 8, 11, 9, 1), actor="bot"),
              EventRecord("message.queued", {}, wib(2026, 8, 11, 10, 30), actor="consultant")]
    timeline = timeline_from_events(created, events)
    assert timeline.first_response_at == wib(2026, 8, 11, 10, 30)
    state = evaluate(TARGET, timeline, CALENDAR, wib(2026, 8, 11, 11, 0), 0.75)
    assert state.first_response_breached  # 90 business minutes against 60


def test_resolution_stops_the_clock_and_a_reopen_resumes_it() -> None:
    created = wib(2026, 8, 11, 9, 0)
    events = [EventRecord("ticket.created", {}, created),
              status("resolved", wib(2026, 8, 11, 10, 0)),
              EventRecord("ticket.reopened", {}, wib(2026, 8, 12, 9, 0))]
    state = evaluate(TARGET, timeline_from_events(created, events[:2]), CALENDAR,
                     wib(2026, 8, 20, 9, 0), 0.75)
    assert not state.resolution_breached  # resolved in 60 of 420 minutes
    state = evaluate(TARGET, timeline_from_events(created, events), CALENDAR,
                     wib(2026, 8, 12, 9, 0), 0.75)
    # 60 minutes used on Tuesday; 360 left from Wednesday 09:00.
    assert local(state.resolution_due) == "Wed 2026-08-12 16:00"


def test_policies_match_queue_priority_and_channel_in_order() -> None:
    policies = SlaPolicies(SlaConfig())
    assert policies.target_for("umum", 1, "email").policy == "mendesak"
    assert policies.target_for("telepon-balik", 2, "phone").policy == "telepon-balik"
    assert policies.target_for("umum", 2, "telegram").policy == "chat"
    assert policies.target_for("umum", 2, "email").policy == "standar"


def test_columns_follow_the_events_and_breaches_are_raised_once(config: Config,
                                                                store: Store) -> None:
    created = wib(2026, 8, 14, 15, 50)
    clock = Clock(created)
    services = desk(config, store, clock, faq=False)
    decisions = services.decisions
    result = services.intake.receive(email_inquiry(1, at=created, text="Mohon info jadwal"))
    with store.read() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
    # Standard email policy: 240 minutes -> Tuesday 11:20 (after the holiday).
    assert local(ticket.sla_due_at or created) == "Tue 2026-08-18 11:20"
    assert ticket.priority == 2 and not ticket.first_response_breached

    clock.now = wib(2026, 8, 18, 10, 30)  # 75% of 240 minutes has passed at 10:20
    assert decisions.sla.sweep(store, clock.now) == 1
    assert decisions.sla.sweep(store, clock.now) == 0  # warned once
    clock.now = wib(2026, 8, 18, 11, 21)
    assert decisions.sla.sweep(store, clock.now) == 1
    assert decisions.sla.sweep(store, clock.now) == 0
    with store.read() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
        kinds = [e.kind for e in session.exec(select(Event).where(
            Event.ticket_id == ticket.id).order_by(col(Event.id)))]
    assert ticket.first_response_breached and ticket.priority == 1
    assert kinds.count("sla.warning") == 1 and kinds.count("sla.breached") == 1
    assert "sla.escalated" in kinds
    # The escalation raised the priority; the policy still follows the routed one.
    assert local(ticket.sla_due_at or created) == "Tue 2026-08-18 11:20"

    # A consultant finally answers: first response recorded, the clock keeps its verdict.
    clock.now = wib(2026, 8, 18, 13, 5)
    with store.write() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
        message = queue_reply(session, ticket, "Jadwal ada di situs.", now=clock.now,
                              author_kind=AuthorKind.CONSULTANT)
        decisions.flow.after_reply(session, ticket, now=clock.now, by_user_id=None,
                                   message_id=message.id)
        assert ticket.status == TicketStatus.OPEN
        assert ticket.first_response_at == clock.now and ticket.first_response_breached


def test_a_changed_policy_is_recomputed_from_the_events(config: Config, store: Store) -> None:
    created = wib(2026, 8, 11, 9, 0)
    clock = Clock(created)
    services = desk(config, store, clock, faq=False)
    result = services.intake.receive(email_inquiry(2, at=created, text="Mohon info jadwal"))
    clock.now = wib(2026, 8, 11, 9, 30)
    faster = replace(config.sla, policies=(SlaPolicyConfig(
        name="email-cepat", channels=("email",), first_response_minutes=15,
        resolution_minutes=120),))
    services2 = desk(replace(config, sla=faster), store, clock, faq=False)
    assert services2.decisions.sla.recompute(store, clock.now) == 1
    with store.read() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
    assert local(ticket.sla_due_at or created) == "Tue 2026-08-11 09:15"
    assert ticket.first_response_breached and local(
        ticket.resolution_due_at or created) == "Tue 2026-08-11 11:00"
    assert timedelta(0) < clock.now - created
