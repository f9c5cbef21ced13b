"""The SLA clock: first-response and resolution targets in business minutes.

Due times and breaches are computed from the ticket's events (created, status
changes, the first reply by a person, resolution), never kept as a running
counter, so a changed policy can be recomputed at any time. The results are
copied into the ticket's summary columns (``sla_due_at``, ``resolution_due_at``,
``first_response_breached``, ``resolution_breached``) for queues and reports.

The clock pauses while the ticket waits on the resident (pending) and stops
while it is resolved or closed; a reopened ticket's clock runs on from where
it stopped. Automatic answers never count as a first response.

:class:`SlaPolicies`, :func:`timeline_from_events` and :func:`evaluate` are
pure; :class:`SlaClock` is the thin layer that reads events and writes columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session, col, or_, select

from helpdesk import policy_sql
from helpdesk.business_calendar import BusinessCalendar, Interval
from helpdesk.config import SlaConfig
from helpdesk.models import Ticket, TicketStatus
from helpdesk.store import Store

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
# Statuses in which the clock does not run.
PAUSED = frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED, TicketStatus.CLOSED})
STOPPED = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
# Events that are a person answering the resident (a bot's are marked actor "bot").
RESPONSE_EVENTS = frozenset({"message.queued", "call.answered", "ticket.responded"})
# Every event the replay below reads; the others may be left unread.
CLOCK_EVENTS = RESPONSE_EVENTS | {"ticket.status", "ticket.reopened", "ticket.created",
                                  "sla.warning", "sla.breached", "sla.escalated"}

# Called for every breach, so webhooks and notifications can follow. The ticket is
# a Ticket, or a bulk import's row with the same attributes.
BreachListener = Callable[[Session, Any, str, datetime], None]


@dataclass(frozen=True, slots=True)
class SlaTarget:
    policy: str
    first_response_minutes: int
    resolution_minutes: int


class SlaPolicies:
    """Chooses the target for a ticket: the first configured policy that matches."""

    def __init__(self, config: SlaConfig) -> None:
        self.config = config
        self.default = SlaTarget("standar", config.first_response_minutes,
                                 config.resolution_minutes)

    def target_for(self, queue: str | None, priority: int, channel: str) -> SlaTarget:
        for p in self.config.policies:
            if p.queues and queue not in p.queues:
                continue
            if p.priorities and priority not in p.priorities:
                continue
            if p.channels and channel not in p.channels:
                continue
            return SlaTarget(p.name, p.first_response_minutes, p.resolution_minutes)
        return self.default

    @property
    def longest(self) -> SlaTarget:
        every = [self.default, *(SlaTarget(p.name, p.first_response_minutes,
                                           p.resolution_minutes) for p in self.config.policies)]
        return SlaTarget("longest", max(t.first_response_minutes for t in every),
                         max(t.resolution_minutes for t in every))


class ClockEvent(Protocol):
    """What the replay reads of an event (an :class:`EventRecord` fits)."""

    @property
    def kind(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...


@dataclass(frozen=True, slots=True)
class EventRecord:
    """The parts of an event the clock reads (an :class:`Event` row fits)."""

    kind: str
    data: Mapping[str, Any]
    created_at: datetime
    actor: str = "system"


@dataclass(frozen=True, slots=True)
class Timeline:
    created_at: datetime
    status: str
    # Closed intervals during which the clock did not run.
    pauses: tuple[Interval, ...]
    # Start of the pause still going on (pending, resolved, closed), if any.
    paused_since: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    warned: frozenset[str]
    breached: frozenset[str]
    # The priority before an SLA escalation raised it (the policy keeps using it).
    priority_before_escalation: int | None = None


def _status_change(event: ClockEvent) -> str | None:
    if event.kind == "ticket.status":
        to = event.data.get("to")
        return str(to) if to else None
    if event.kind == "ticket.reopened":
        return TicketStatus.OPEN
    if event.kind == "ticket.created":
        return TicketStatus.NEW
    return None


def timeline_from_events(created_at: datetime, events: Iterable[ClockEvent], *,
                         priority: int | None = None) -> Timeline:
    """Replay a ticket's events (oldest first) into the facts the clock needs."""
    status: str = TicketStatus.NEW
    pauses: list[Interval] = []
    paused_since: datetime | None = None
    first_response: datetime | None = None
    resolved_at: datetime | None = None
    warned: set[str] = set()
    breached: set[str] = set()
    escalation: tuple[int, int] | None = None
    for event in events:
        to = _status_change(event)
        if to is not None and to != status:
            at = max(event.created_at, created_at)
            if to in PAUSED and status not in PAUSED:
                paused_since = at
            elif to not in PAUSED and status in PAUSED and paused_since is not None:
                pauses.append((paused_since, at))
                paused_since = None
            if to not in STOPPED:
                resolved_at = None
            elif status not in STOPPED:  # resolved -> closed keeps the resolution time
                resolved_at = at
            status = to
        elif event.kind in RESPONSE_EVENTS and event.actor not in ("bot", "system"):
            if first_response is None:
                first_response = event.created_at
        elif event.kind == "sla.warning":
            warned.add(str(event.data.get("target")))
        elif event.kind == "sla.breached":
            breached.add(str(event.data.get("target")))
        elif event.kind == "sla.escalated":
            escalation = (int(event.data.get("from_priority", 2)),
                          int(event.data.get("to_priority", 1)))
    before = None
    if escalation is not None and priority == escalation[1]:
        before = escalation[0]
    return Timeline(created_at=created_at, status=status, pauses=tuple(pauses),
                    paused_since=paused_since, first_response_at=first_response,
                    resolved_at=resolved_at, warned=frozenset(warned),
                    breached=frozenset(breached), priority_before_escalation=before)


@dataclass(frozen=True, slots=True)
class SlaState:
    policy: str
    first_response_due: datetime
    resolution_due: datetime
    first_response_breached: bool
    resolution_breached: bool
    # Targets whose warning share has passed without a breach (not while paused).
    due_warnings: tuple[str, ...]
    paused: bool


class SlaSubject(Protocol):
    """The parts of a ticket the clock reads (a :class:`Ticket` fits)."""

    @property
    def priority(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def queue_id(self) -> int | None: ...
    @property
    def assignee_id(self) -> int | None: ...
    @property
    def first_response_at(self) -> datetime | None: ...


@dataclass(slots=True)
class SlaOutcome:
    """The clock's verdict on one ticket: columns to set and events to record."""

    state: SlaState
    priority: int
    first_response_at: datetime | None
    # (kind, data) of the sla.* events to record now, in order.
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Targets breached by this verdict (listeners hear of each).
    breached: list[str] = field(default_factory=list)
    escalations: int = 0

    def apply(self, ticket: Any) -> None:
        ticket.sla_due_at = self.state.first_response_due
        ticket.resolution_due_at = self.state.resolution_due
        ticket.first_response_breached = self.state.first_response_breached
        ticket.resolution_breached = self.state.resolution_breached
        ticket.first_response_at = self.first_response_at
        ticket.priority = self.priority


def _clipped(timeline: Timeline, end: datetime) -> list[Interval]:
    pauses = [(a, min(b, end)) for a, b in timeline.pauses if a < end]
    if timeline.paused_since is not None and timeline.paused_since < end:
        pauses.append((timeline.paused_since, end))
    return pauses


def evaluate(target: SlaTarget, timeline: Timeline, calendar: BusinessCalendar,
             now: datetime, warn_share: float) -> SlaState:
    """Due times, breaches and warnings at ``now``.

    Each clock runs from creation to its end (the first response, the
    resolution, or ``now`` while still open), minus the pauses before that end.
    While a ticket is paused its due times are what they would be if it
    resumed now: they move on as the pause lasts.
    """
    start = timeline.created_at
    fr_end = timeline.first_response_at or now
    res_end = timeline.resolved_at or now
    fr_pauses = _clipped(timeline, fr_end)
    res_pauses = _clipped(timeline, res_end)
    fr_due = calendar.add_minutes(start, target.first_response_minutes, fr_pauses)
    res_due = calendar.add_minutes(start, target.resolution_minutes, res_pauses)
    fr_breached = fr_end > fr_due
    res_breached = res_end > res_due
    paused = timeline.status in PAUSED
    warnings: list[str] = []
    if not paused:
        if timeline.first_response_at is None and not fr_breached:
            left = calendar.minutes_between(now, fr_due)
            if left <= (1 - warn_share) * target.first_response_minutes:
                warnings.append(FIRST_RESPONSE)
        if not res_breached:
            left = calendar.minutes_between(now, res_due)
            if left <= (1 - warn_share) * target.resolution_minutes:
                warnings.append(RESOLUTION)
    return SlaState(policy=target.policy, first_response_due=fr_due, resolution_due=res_due,
                    first_response_breached=fr_breached, resolution_breached=res_breached,
                    due_warnings=tuple(warnings), paused=paused)


class SlaClock:
    """Keeps a ticket's SLA columns in step with its events, and raises the
    warnings and breaches as events when their moment has come."""

    def __init__(self, calendar: BusinessCalendar, config: SlaConfig, *,
                 on_breach: BreachListener | None = None) -> None:
        self.calendar = calendar
        self.config = config
        self.policies = SlaPolicies(config)
        self.on_breach = on_breach
        self._queue_names: dict[int, str] = {}

    def queue_name(self, session: Session, queue_id: int | None) -> str | None:
        if queue_id is None:
            return None
        name = self._queue_names.get(queue_id)
        if name is None:
            name = policy_sql.queue_name(session, queue_id)
            if name is None:
                return None
            self._queue_names[queue_id] = name
        return name

    def timeline(self, session: Session, ticket: Ticket) -> Timeline:
        assert ticket.id is not None
        # Prebuilt and on the connection: an ORM query would flush the ticket's
        # pending column changes first, which the replay does not read.
        events = [EventRecord(kind, data, at, actor)
                  for kind, data, at, actor in policy_sql.ticket_events(session, ticket.id)]
        return timeline_from_events(ticket.created_at, events, priority=ticket.priority)

    def refresh(self, session: Session, ticket: Ticket, now: datetime, *,
                timeline: Timeline | None = None) -> SlaState:
        """Recompute from the events, update the columns, record new warnings and
        breaches (each once per target). A caller that knows the whole history
        (a ticket opened in this transaction) may pass the timeline."""
        return self._refresh(session, ticket, now, timeline)[0]

    def _refresh(self, session: Session, ticket: Ticket, now: datetime,
                 known: Timeline | None = None) -> tuple[SlaState, int]:
        assert ticket.id is not None
        timeline = known or self.timeline(session, ticket)
        outcome = self.assess(ticket, timeline, self.queue_name(session, ticket.queue_id), now)
        outcome.apply(ticket)
        for kind, data in outcome.events:
            policy_sql.add_event(session, ticket_id=ticket.id, kind=kind, actor="sla",
                                 data=data, created_at=now)
        if self.on_breach is not None:
            for name in outcome.breached:
                self.on_breach(session, ticket, name, now)
        return outcome.state, len(outcome.events) - outcome.escalations

    def assess(self, ticket: SlaSubject, timeline: Timeline, queue: str | None,
               now: datetime) -> SlaOutcome:
        """What the clock says of a ticket at ``now``: its columns, and the
        warnings and breaches to record (each once per target). Pure, so a bulk
        import can judge many tickets without loading them."""
        priority = timeline.priority_before_escalation or ticket.priority
        target = self.policies.target_for(queue, priority, ticket.channel)
        state = evaluate(target, timeline, self.calendar, now, self.config.warn_share)
        outcome = SlaOutcome(state=state, priority=ticket.priority,
                             first_response_at=ticket.first_response_at
                             or timeline.first_response_at)
        for name in state.due_warnings:
            if name not in timeline.warned:
                due = state.first_response_due if name == FIRST_RESPONSE else state.resolution_due
                outcome.events.append(("sla.warning", {
                    "target": name, "policy": target.policy, "due": due.isoformat(),
                    "assignee_id": ticket.assignee_id, "notify": "assignee"}))
        breaches = [(FIRST_RESPONSE, state.first_response_breached, state.first_response_due),
                    (RESOLUTION, state.resolution_breached, state.resolution_due)]
        for name, breached, due in breaches:
            if not breached or name in timeline.breached:
                continue
            outcome.breached.append(name)
            outcome.events.append(("sla.breached", {
                "target": name, "policy": target.policy, "due": due.isoformat(),
                "assignee_id": ticket.assignee_id, "queue_id": ticket.queue_id}))
            if ticket.status in STOPPED:
                continue
            data: dict[str, Any] = {"target": name, "notify": "supervisors",
                                    "assignee_id": ticket.assignee_id,
                                    "queue_id": ticket.queue_id}
            raised = self.config.breach_priority
            if raised < outcome.priority:
                data.update(from_priority=outcome.priority, to_priority=raised)
                outcome.priority = raised
            outcome.events.append(("sla.escalated", data))
            outcome.escalations += 1
        return outcome

    # -- sweeps -------------------------------------------------------------

    def candidates(self, session: Session, now: datetime, limit: int) -> Sequence[Ticket]:
        """Running tickets close enough to a warning or breach to look at.

        A warning falls due when the business minutes left reach
        ``(1 - warn_share)`` of the target, so every such ticket is due before the
        instant that many (longest-target) business minutes from now.
        """
        longest = self.policies.longest
        share = 1 - self.config.warn_share
        fr_horizon = self.calendar.add_minutes(now, share * longest.first_response_minutes)
        res_horizon = self.calendar.add_minutes(now, share * longest.resolution_minutes)
        running = (TicketStatus.NEW, TicketStatus.OPEN)
        query = (
            select(Ticket)
            .where(col(Ticket.status).in_(running), or_(
                col(Ticket.first_response_at).is_(None)
                & col(Ticket.first_response_breached).is_(False)
                & (col(Ticket.sla_due_at) <= fr_horizon),
                col(Ticket.resolution_breached).is_(False)
                & (col(Ticket.resolution_due_at) <= res_horizon),
            ))
            .order_by(col(Ticket.sla_due_at)).limit(limit)
        )
        return session.exec(query).all()

    def sweep(self, store: Store, now: datetime, *, limit: int = 500) -> int:
        """Refresh the tickets near a threshold; returns how many new SLA events."""

        def work(session: Session) -> int:
            return sum(self._refresh(session, ticket, now)[1]
                       for ticket in self.candidates(session, now, limit))

        return store.write_retrying(work)

    def recompute(self, store: Store, now: datetime, *, open_only: bool = True,
                  batch: int = 500) -> int:
        """Recompute every (open) ticket after a policy or calendar change."""
        last_id, done = 0, 0
        while True:
            def work(session: Session, after: int = last_id) -> list[int]:
                query = select(Ticket).where(col(Ticket.id) > after)
                if open_only:
                    query = query.where(col(Ticket.status).notin_(list(STOPPED)))
                tickets = session.exec(query.order_by(col(Ticket.id)).limit(batch)).all()
                for ticket in tickets:
                    self.refresh(session, ticket, now)
                return [t.id or 0 for t in tickets]

            ids = store.write_retrying(work)
            if not ids:
                return done
            done += len(ids)
            last_id = ids[-1]
