"""Assignment: oldest first to the least-loaded online consultant with room,
within capacity, race-free with several workers, and by hand as events."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from helpdesk.assignment import Assigner, ConsultantLoad, WaitingTicket, plan
from helpdesk.config import AssignmentConfig
from helpdesk.models import Contact, Event, Presence, Queue, Ticket, User, UserQueue
from helpdesk.store import Store
from tests.conftest import make_database
from tests.helpdesk.factories import T0

CAPACITIES = (3, 5, 8, 12, 20)


def test_plan_prefers_the_least_loaded_and_skips_full_queues() -> None:
    consultants = [ConsultantLoad(1, frozenset({10}), 2, 1), ConsultantLoad(2, frozenset({10}),
                                                                            5, 0),
                   ConsultantLoad(3, frozenset({20}), 1, 1)]
    tickets = [WaitingTicket(100, 10), WaitingTicket(101, 20), WaitingTicket(102, 10),
               WaitingTicket(103, 10)]
    # Ties on load go to the one with more room; queue 20 has nobody with room.
    assert plan(tickets, consultants) == [(100, 2, 0), (102, 2, 1), (103, 1, 1)]


def seed(store: Store, tickets: int, *, queues: int = 2) -> list[int]:
    """Consultants of different capacities online in every queue, and waiting tickets
    created in a shuffled order so ids and ages disagree."""
    with store.write() as session:
        queue_ids = []
        for q in range(queues):
            queue = Queue(name=f"q{q}")
            session.add(queue)
            session.flush()
            queue_ids.append(queue.id or 0)
        for n, capacity in enumerate(CAPACITIES):
            user = User(email=f"c{n}@ptsp.test", capacity=capacity, presence=Presence.ONLINE)
            session.add(user)
            session.flush()
            session.add_all(UserQueue(user_id=user.id or 0, queue_id=q) for q in queue_ids)
        contact = Contact(name="Warga")
        session.add(contact)
        session.flush()
        rows = [{"subject": f"t{i}", "status": "new", "channel": "email",
                 "contact_id": contact.id, "queue_id": queue_ids[i % queues], "priority": 2,
                 "created_at": T0 + timedelta(seconds=(i * 7919) % tickets),
                 "updated_at": T0} for i in range(tickets)]
        session.execute(sa.insert(Ticket), rows)
    with store.read() as session:
        return list(session.exec(select(Ticket.id).order_by(col(Ticket.created_at))).all())


def loads(store: Store) -> dict[int, int]:
    with store.read() as session:
        return {u: n for u, n in session.exec(
            select(Ticket.assignee_id, func.count()).where(col(Ticket.assignee_id).is_not(None))
            .group_by(col(Ticket.assignee_id))).all() if u is not None}


def test_a_thousand_tickets_over_five_consultants(store: Store) -> None:
    by_age = seed(store, 1000)
    assigner = Assigner(store, AssignmentConfig(batch_size=7))
    assert assigner.assign_all(T0) == sum(CAPACITIES)
    with store.read() as session:
        users = {u.id: u.capacity for u in session.exec(select(User))}
        assigned = set(session.exec(select(Ticket.id).where(
            col(Ticket.assignee_id).is_not(None))).all())
    assert all(n <= users[u] for u, n in loads(store).items())
    assert sorted(loads(store).values()) == sorted(CAPACITIES)
    # Exactly the oldest tickets were served.
    assert assigned == set(by_age[:sum(CAPACITIES)])
    # Closing tickets frees room; the next oldest are served next.
    with store.write() as session:
        for ticket in session.exec(select(Ticket).where(col(Ticket.id).in_(by_age[:10]))):
            ticket.status = "resolved"
    assert assigner.assign_all(T0) == 10
    with store.read() as session:
        newly = set(session.exec(select(Ticket.id).where(
            col(Ticket.assignee_id).is_not(None), Ticket.status == "new")).all())
    assert newly == set(by_age[10:sum(CAPACITIES) + 10])


@pytest.mark.postgres
def test_four_workers_assign_concurrently_without_doubles_or_gaps(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = make_database("postgresql", request, tmp_path)
    store = Store(url, pool_size=8)
    try:
        by_age = seed(store, 300, queues=2)
        with store.write() as session:  # enough room for everyone
            for user in session.exec(select(User)):
                user.capacity = 100
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def worker() -> None:
            assigner = Assigner(store, AssignmentConfig(batch_size=5))
            try:
                barrier.wait()
                idle = 0
                while idle < 3:
                    idle = idle + 1 if assigner.assign_waiting(T0) == 0 else 0
            except BaseException as exc:  # reported to the test thread
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        with store.read() as session:
            events = Counter(session.exec(select(Event.ticket_id).where(
                Event.kind == "ticket.assigned")).all())
            unassigned = session.exec(select(func.count()).select_from(Ticket).where(
                col(Ticket.assignee_id).is_(None))).one()
        assert unassigned == 0 and len(events) == len(by_age)
        assert set(events.values()) == {1}  # none assigned twice
        assert all(n <= 100 for n in loads(store).values())
    finally:
        store.dispose()


def test_going_offline_returns_untouched_new_tickets(store: Store) -> None:
    seed(store, 10, queues=1)
    assigner = Assigner(store, AssignmentConfig())
    assigner.assign_all(T0)
    with store.write() as session:
        user_id = session.exec(select(User.id).where(User.email == "c0@ptsp.test")).one()
        assert user_id is not None
        mine = session.exec(select(Ticket).where(Ticket.assignee_id == user_id)).all()
        mine[0].status = "open"
        mine[0].first_response_at = T0  # touched: stays with them
        returned = assigner.set_presence(session, user_id, Presence.OFFLINE, now=T0)
    assert len(returned) == len(mine) - 1
    # The consultants still online take them.
    assigner.assign_all(T0)
    assert user_id not in {u for u, n in loads(store).items() if n > 1}


def test_manual_assign_and_reassign_are_events(store: Store) -> None:
    seed(store, 1, queues=1)
    assigner = Assigner(store, AssignmentConfig())
    with store.write() as session:
        ticket = session.exec(select(Ticket)).one()
        a, b = session.exec(select(User.id).order_by(col(User.id)).limit(2)).all()
        assert a is not None and b is not None
        assigner.assign(session, ticket, a, now=T0, by_user_id=b, why="keahlian PBG")
        assigner.assign(session, ticket, b, now=T0, by_user_id=b)
        assigner.unassign(session, ticket, now=T0, by_user_id=b)
    with store.read() as session:
        data = [(e.kind, e.data.get("from"), e.data.get("to")) for e in session.exec(
            select(Event).order_by(col(Event.id)))]
    assert data == [("ticket.assigned", None, a), ("ticket.assigned", a, b),
                    ("ticket.unassigned", b, None)]
