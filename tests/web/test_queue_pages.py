"""The consultants' queue pages: order, scope, names and statements per page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from helpdesk.bootstrap import Services
from helpdesk.models import Queue, Role, Ticket, User, UserQueue
from helpdesk.web.consultant_queues import VIEW_BY_KEY, Cursor, Filters, QueuePage, load_page
from tests.conftest import make_database
from tests.helpdesk.factories import T0, email_inquiry
from tests.web.conftest import SignIn


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Both databases: the page statements differ in how each plans them."""
    return make_database(request.param, request, tmp_path)


def _spread(services: Services, staff: dict[str, int], count: int) -> dict[str, int]:
    """``count`` tickets over three queues, two of them the consultant's, with
    every status, some assigned, some sharing a due time and some without one."""
    me = staff[Role.CONSULTANT]
    with services.store.write() as session:
        queues = {q.name: q for q in session.exec(select(Queue))}
        for name in ("perizinan", "pengaduan"):
            if name not in queues:
                queues[name] = Queue(name=name, title=name.title())
                session.add(queues[name])
        session.flush()
        mine = queues["perizinan"].id
        assert mine is not None
        session.add(UserQueue(user_id=me, queue_id=mine))
    for n in range(count):
        services.intake.receive(email_inquiry(n, sender=f"w{n}@warga.example"))
    with services.store.write() as session:
        order = [queues["umum"].id, queues["perizinan"].id, queues["pengaduan"].id]
        for ticket in session.exec(select(Ticket)):
            assert ticket.id is not None
            ticket.queue_id = order[ticket.id % 3]
            ticket.status = ("new", "open", "pending", "resolved")[ticket.id % 4]
            ticket.assignee_id = staff[Role.SUPERVISOR] if ticket.id % 5 == 0 else None
            ticket.sla_due_at = None if ticket.id % 6 == 0 else \
                T0 + timedelta(minutes=(ticket.id * 13) % 7)
    return {name: q.id for name, q in queues.items() if q.id is not None}


def _walk(services: Services, user: User, view: str, limit: int) -> list[QueuePage]:
    pages: list[QueuePage] = []
    after: Cursor | None = None
    with services.store.read() as session:
        while True:
            page = load_page(session, user, VIEW_BY_KEY[view], Filters(), after, T0, limit=limit)
            pages.append(page)
            if page.next_cursor is None:
                return pages
            after = Cursor.decode(page.next_cursor.encode())


def _key(ticket: Ticket) -> tuple[bool, Any, int]:
    return ticket.sla_due_at is None, ticket.sla_due_at or T0, ticket.id or 0


def test_unassigned_in_my_queues_walks_only_my_queues_in_due_order(
        services: Services, staff: dict[str, int]) -> None:
    queues = _spread(services, staff, 60)
    with services.store.read() as session:
        me = session.get_one(User, staff[Role.CONSULTANT])
        everything = list(session.exec(select(Ticket)))
    wanted = sorted((t for t in everything if t.queue_id in (queues["umum"], queues["perizinan"])
                     and t.status in ("new", "open") and t.assignee_id is None), key=_key)
    assert any(t.sla_due_at is None for t in wanted), "the walk must reach the undated tail"
    pages = _walk(services, me, "unassigned", limit=4)
    seen = [t for page in pages for t in page.tickets]
    assert [t.id for t in seen] == [t.id for t in wanted]
    assert sorted(pages[0].my_queue_ids) == sorted([queues["umum"], queues["perizinan"]])
    assert {q.name for q in pages[0].queues} >= {"umum", "perizinan", "pengaduan"}


def test_mine_reaches_the_undated_tail_and_names_come_with_the_rows(
        services: Services, staff: dict[str, int]) -> None:
    _spread(services, staff, 60)
    with services.store.read() as session:
        boss = session.get_one(User, staff[Role.SUPERVISOR])
        everything = list(session.exec(select(Ticket)))
    wanted = sorted((t for t in everything if t.assignee_id == boss.id
                     and t.status in ("new", "open", "pending")), key=_key)
    pages = _walk(services, boss, "mine", limit=3)
    seen = [t for page in pages for t in page.tickets]
    assert [t.id for t in seen] == [t.id for t in wanted]
    assert seen[-1].sla_due_at is None
    for page in pages:
        for ticket in page.tickets:
            assert page.contact_names[ticket.contact_id].startswith("Warga ")
            assert page.assignee_names[boss.id or 0] == boss.name


@contextmanager
def _statements(services: Services) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            seen.append(statement)

    event.listen(services.store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(services.store.engine, "before_cursor_execute", record)


def test_a_page_is_two_statements_whatever_the_statuses_and_queues(
        services: Services, staff: dict[str, int]) -> None:
    # Every statement is a round trip on PostgreSQL: the queues, then the
    # rows of every status and queue with their names in one statement.
    _spread(services, staff, 60)
    with services.store.read() as session:
        me = session.get_one(User, staff[Role.CONSULTANT])
    for view in ("open", "unassigned", "waiting"):
        with services.store.read() as session, _statements(services) as seen:
            page = load_page(session, me, VIEW_BY_KEY[view], Filters(), None, T0, limit=3)
        assert len(page.tickets) == 3 and page.next_cursor is not None
        assert len(seen) == 2, (view, seen)


async def test_the_queue_page_shows_residents_and_assignees(
        clients: SignIn, services: Services, staff: dict[str, int]) -> None:
    _spread(services, staff, 12)  # tickets 5 (open) and 10 (pending) are the supervisor's
    client = await clients(Role.SUPERVISOR)
    html = (await client.get("/tickets?view=mine")).text
    assert html.count("<td>Supervisor Satu</td>") == 2
    assert len(re.findall(r"<td>Warga \d+</td>", html)) == 2
    html = (await client.get("/tickets?view=open")).text
    assert "<td>Belum ditugaskan</td>" in html
