"""Assignment: the oldest waiting ticket goes to the least-loaded consultant.

A consultant answers the queues they are given (their skills), holds at most
``capacity`` running tickets (new or open; a ticket waiting on the resident
frees its place) and takes work only while online. A waiting ticket is one in a
queue, not assigned, and new or open. Within the same priority the oldest
waits least.

Several workers may assign at once. On PostgreSQL each batch locks the tickets
it takes with ``FOR UPDATE SKIP LOCKED`` (so workers take different tickets)
and then the consultants' rows in id order (so loads are counted after any
other worker's assignments committed, without deadlocks). On SQLite every
write transaction is the single writer (``BEGIN IMMEDIATE``).

:func:`plan` is pure; :class:`Assigner` is the database layer around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from helpdesk.config import AssignmentConfig
from helpdesk.models import Event, Presence, Ticket, TicketStatus, User, UserQueue
from helpdesk.reports_rollup import mark_tickets
from helpdesk.store import Store

log = logging.getLogger(__name__)

# Statuses that take a place in a consultant's capacity, and that can wait.
RUNNING = (TicketStatus.NEW, TicketStatus.OPEN)

# Told about every assignment (webhooks): (session, ticket id, user id, now).
AssignListener = Callable[[Session, int, int, datetime], None]


class AssignmentError(ValueError):
    """A manual assignment that cannot be made (unknown or inactive consultant)."""


@dataclass(frozen=True, slots=True)
class WaitingTicket:
    id: int
    queue_id: int


@dataclass(slots=True)
class ConsultantLoad:
    user_id: int
    queues: frozenset[int]
    capacity: int
    load: int

    @property
    def room(self) -> int:
        return self.capacity - self.load


def plan(tickets: Sequence[WaitingTicket],
         consultants: Sequence[ConsultantLoad]) -> list[tuple[int, int, int]]:
    """(ticket id, user id, load before) for each ticket that can be placed.

    ``tickets`` come in serving order (priority, then oldest). Each goes to the
    consultant of its queue with the fewest running tickets; ties go to the one
    with the most room left, then the lower id. A ticket nobody has room for
    stays waiting, and younger tickets of other queues may still be placed.
    """
    by_queue: dict[int, list[ConsultantLoad]] = {}
    for consultant in consultants:
        for queue_id in consultant.queues:
            by_queue.setdefault(queue_id, []).append(consultant)
    full: set[int] = set()
    out: list[tuple[int, int, int]] = []
    for ticket in tickets:
        if ticket.queue_id in full:
            continue
        candidates = [c for c in by_queue.get(ticket.queue_id, ()) if c.room > 0]
        if not candidates:
            full.add(ticket.queue_id)
            continue
        chosen = min(candidates, key=lambda c: (c.load, -c.room, c.user_id))
        out.append((ticket.id, chosen.user_id, chosen.load))
        chosen.load += 1
    return out


class Assigner:
    def __init__(self, store: Store, config: AssignmentConfig, *,
                 on_assigned: AssignListener | None = None) -> None:
        self.store = store
        self.config = config
        self.on_assigned = on_assigned
        self.wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def poke(self) -> None:
        """Ask the running loop to assign now (safe from any thread)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.wakeup.set)

    # -- automatic ------------------------------------------------------------

    def assign_waiting(self, now: datetime, *, limit: int | None = None) -> int:
        """Assign one batch of waiting tickets; returns how many were assigned."""
        return self.store.write_retrying(
            lambda s: self._assign_batch(s, now, limit or self.config.batch_size))

    def assign_all(self, now: datetime) -> int:
        """Assign batches until nothing more can be placed."""
        total = 0
        while True:
            done = self.assign_waiting(now)
            total += done
            if done == 0:
                return total

    def _assign_batch(self, session: Session, now: datetime, limit: int) -> int:
        postgres = self.store.is_postgres
        skills = session.exec(
            select(User.id, User.capacity, UserQueue.queue_id)
            .join(UserQueue, col(UserQueue.user_id) == col(User.id))
            .where(User.presence == Presence.ONLINE, col(User.active).is_(True),
                   col(User.capacity) > 0)
        ).all()
        if not skills:
            return 0
        queue_ids = sorted({q for _, _, q in skills})
        query = (
            select(Ticket.id, Ticket.queue_id)
            .where(col(Ticket.status).in_(RUNNING), col(Ticket.assignee_id).is_(None),
                   col(Ticket.queue_id).in_(queue_ids))
            .order_by(col(Ticket.priority), col(Ticket.created_at), col(Ticket.id))
            .limit(limit)
        )
        if postgres:
            query = query.with_for_update(skip_locked=True)
        waiting = [WaitingTicket(t, q) for t, q in session.exec(query).all()
                   if t is not None and q is not None]
        if not waiting:
            return 0
        user_ids = sorted({u for u, _, _ in skills if u is not None})
        if postgres:
            # Taken after the tickets, in id order: every worker waits here for
            # the one counting loads before it, and then sees its assignments.
            locked = session.exec(
                select(User.id).where(col(User.id).in_(user_ids),
                                      User.presence == Presence.ONLINE)
                .order_by(col(User.id)).with_for_update()).all()
            user_ids = [u for u in locked if u is not None]
        loads = dict(session.exec(
            select(Ticket.assignee_id, func.count())
            .where(col(Ticket.assignee_id).in_(user_ids), col(Ticket.status).in_(RUNNING))
            .group_by(col(Ticket.assignee_id))
        ).all())
        consultants: dict[int, ConsultantLoad] = {}
        for user_id, capacity, queue_id in skills:
            if user_id is None or user_id not in user_ids:
                continue
            entry = consultants.setdefault(user_id, ConsultantLoad(
                user_id, frozenset(), capacity, int(loads.get(user_id, 0))))
            entry.queues = entry.queues | {queue_id}
        placed = plan(waiting, list(consultants.values()))
        if not placed:
            return 0
        session.execute(sa.update(Ticket), [
            {"id": ticket_id, "assignee_id": user_id, "updated_at": now}
            for ticket_id, user_id, _ in placed])
        mark_tickets(session, [ticket_id for ticket_id, _, _ in placed])  # report rows
        session.execute(sa.insert(Event), [
            {"ticket_id": ticket_id, "kind": "ticket.assigned", "actor": "assigner",
             "data": {"to": user_id, "from": None, "manual": False,
                      "why": f"least loaded online consultant of the queue "
                             f"({load} of {consultants[user_id].capacity} tickets)"},
             "created_at": now}
            for ticket_id, user_id, load in placed])
        if self.on_assigned is not None:
            for ticket_id, user_id, _ in placed:
                self.on_assigned(session, ticket_id, user_id, now)
        return len(placed)

    async def run(self, clock: Callable[[], datetime]) -> None:
        """Assign for as long as the app serves: every interval, or when poked."""
        self._loop = asyncio.get_running_loop()
        while True:
            try:
                await self.store.run(self.assign_all, clock())
            except Exception:
                log.exception("assignment failed; retrying")
            self.wakeup.clear()
            # Not wait_for, which on Python 3.11 can swallow a cancellation (see outbox).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.interval_seconds):
                    await self.wakeup.wait()

    # -- by hand --------------------------------------------------------------

    def assign(self, session: Session, ticket: Ticket, user_id: int, *, now: datetime,
               by_user_id: int | None = None, why: str = "") -> None:
        """Assign or reassign by hand (capacity is the supervisor's call)."""
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise AssignmentError(f"no active consultant with id {user_id}")
        previous = ticket.assignee_id
        if previous == user_id:
            return
        load = session.exec(select(func.count()).select_from(Ticket).where(
            Ticket.assignee_id == user_id, col(Ticket.status).in_(RUNNING))).one()
        ticket.assignee_id = user_id
        ticket.updated_at = now
        data: dict[str, Any] = {"to": user_id, "from": previous, "manual": True,
                                "why": why or ("reassigned" if previous else "assigned"),
                                "over_capacity": load >= user.capacity}
        session.add(Event(ticket_id=ticket.id, kind="ticket.assigned", actor="consultant",
                          actor_user_id=by_user_id, data=data, created_at=now))
        if self.on_assigned is not None:
            assert ticket.id is not None
            self.on_assigned(session, ticket.id, user_id, now)

    def unassign(self, session: Session, ticket: Ticket, *, now: datetime,
                 by_user_id: int | None = None, why: str = "returned to the queue",
                 actor: str = "consultant") -> None:
        if ticket.assignee_id is None:
            return
        session.add(Event(ticket_id=ticket.id, kind="ticket.unassigned", actor=actor,
                          actor_user_id=by_user_id,
                          data={"from": ticket.assignee_id, "why": why}, created_at=now))
        ticket.assignee_id = None
        ticket.updated_at = now

    def set_presence(self, session: Session, user_id: int, presence: Presence, *,
                     now: datetime) -> list[int]:
        """Change a consultant's presence; going offline gives back the new tickets
        they have not touched (when configured). Returns the ids given back."""
        user = session.get(User, user_id)
        if user is None:
            raise AssignmentError(f"no consultant with id {user_id}")
        previous = user.presence
        user.presence = presence
        user.presence_changed_at = now
        session.add(Event(kind="user.presence", actor="consultant", actor_user_id=user_id,
                          data={"from": previous, "to": str(presence)}, created_at=now))
        returned: list[int] = []
        if presence == Presence.OFFLINE and self.config.return_on_offline:
            untouched = session.exec(select(Ticket).where(
                Ticket.assignee_id == user_id, Ticket.status == TicketStatus.NEW,
                col(Ticket.first_response_at).is_(None))).all()
            for ticket in untouched:
                self.unassign(session, ticket, now=now, actor="assigner",
                              why="the consultant went offline before touching it")
                returned.append(ticket.id or 0)
        if presence == Presence.ONLINE or returned:
            self.poke()
        return returned
