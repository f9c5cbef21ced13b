"""Ticket actions, queue pages, live events and the catalogs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlmodel import select

from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config
from helpdesk.models import (
    Contact,
    ContactIdentity,
    Event,
    Message,
    OutboxItem,
    Role,
    Ticket,
    User,
)
from helpdesk.store import Store
from helpdesk.tickets import (
    add_note,
    change_status,
    merge_contacts,
    merge_tickets,
    reply,
    undo_contact_merge,
)
from helpdesk.web.consultant_queues import VIEW_BY_KEY, Cursor, Filters, load_page
from helpdesk.web.live import LiveHub
from helpdesk.web.templating import jakarta
from tests.helpdesk.factories import T0, chat_inquiry, email_inquiry
from tests.web.conftest import SignIn, add_staff, token


def test_reply_note_status_and_first_response(services: Services, staff: dict[str, int]) -> None:
    result = services.intake.receive(email_inquiry(1))
    me = staff[Role.CONSULTANT]
    now = T0 + timedelta(minutes=5)
    with services.store.write() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
        reply(session, ticket, "Silakan daftar di OSS.", user_id=me, now=now)
        add_note(session, ticket, "Warga sudah telepon juga.", user_id=me, now=now)
        assert ticket.first_response_at == now and ticket.assignee_id == me
        assert ticket.status == "open"
        change_status(session, ticket, "resolved", user_id=me, now=now)
        assert ticket.resolved_at == now
    with services.store.read() as session:
        kinds = [e.kind for e in session.exec(select(Event).where(
            Event.ticket_id == result.ticket_id))]
        assert {"message.queued", "note.added", "ticket.status", "ticket.assigned"} <= set(kinds)
        assert len(session.exec(select(OutboxItem)).all()) == 1


async def test_reply_on_another_identity_through_the_page(
        clients: SignIn, services: Services) -> None:
    email = services.intake.receive(email_inquiry(1, sender="budi@warga.example"))
    chat = services.intake.receive(chat_inquiry(2, "555"))
    with services.store.write() as session:
        merge_contacts(session, session.get_one(Ticket, chat.ticket_id).contact_id,
                       session.get_one(Ticket, email.ticket_id).contact_id, user_id=1, now=T0)
        telegram = session.exec(select(ContactIdentity).where(
            ContactIdentity.kind == "telegram")).one()
    client = await clients(Role.CONSULTANT)
    response = await client.post(f"/tickets/{email.ticket_id}/reply", data={
        "text": "Kami balas lewat Telegram.", "target": f"identity:{telegram.id}",
        "csrf_token": await token(client)})
    assert response.status_code == 303
    with services.store.read() as session:
        item = session.exec(select(OutboxItem)).one()
        assert item.channel == "telegram" and item.payload["recipient"] == "555"
    empty = await client.post(f"/tickets/{email.ticket_id}/reply", data={
        "text": "  ", "csrf_token": await token(client)})
    assert empty.status_code == 303
    assert "Balasan masih kosong" in (await client.get(f"/tickets/{email.ticket_id}")).text


def test_merge_tickets_and_contacts_with_undo(services: Services,
                                              staff: dict[str, int]) -> None:
    first = services.intake.receive(email_inquiry(1, sender="sari@warga.example"))
    second = services.intake.receive(chat_inquiry(2, "777"))
    me = staff[Role.CONSULTANT]
    with services.store.write() as session:
        source = session.get_one(Ticket, second.ticket_id)
        target = session.get_one(Ticket, first.ticket_id)
        old_contact = source.contact_id
        merge_contacts(session, old_contact, target.contact_id, user_id=me, now=T0)
        assert source.contact_id == target.contact_id
        assert session.get_one(Contact, old_contact).merged_into_id == target.contact_id
        assert merge_tickets(session, source, target, user_id=me, now=T0) == 1
        assert source.merged_into_id == target.id and source.status == "closed"
    with services.store.read() as session:
        assert len(session.exec(select(Message).where(
            Message.ticket_id == first.ticket_id)).all()) == 2
    with services.store.write() as session:
        undo_contact_merge(session, old_contact, user_id=me, now=T0)
    with services.store.read() as session:
        assert session.get_one(Ticket, second.ticket_id).contact_id == old_contact
        assert session.exec(select(ContactIdentity).where(
            ContactIdentity.value == "777")).one().contact_id == old_contact
        assert session.get_one(Contact, old_contact).merged_into_id is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_queue_pages_walk_every_ticket_in_due_order(
        backend: str, request: pytest.FixtureRequest, tmp_path: object,
        config: Config) -> None:
    from tests.conftest import make_database

    store = Store(make_database(backend, request, tmp_path))  # type: ignore[arg-type]
    services = build_services(config, store=store)
    try:
        staff = add_staff(services)
        for n in range(57):
            services.intake.receive(email_inquiry(n, sender=f"w{n}@warga.example"))
        with services.store.write() as session:
            for ticket in session.exec(select(Ticket)):
                assert ticket.id is not None
                ticket.status = ("new", "open", "pending")[ticket.id % 3]
                # Some share a due time, some have none: ties and the undated tail.
                ticket.sla_due_at = None if ticket.id % 7 == 0 else \
                    T0 + timedelta(minutes=(ticket.id * 37) % 20)
        with services.store.read() as session:
            user = session.get_one(User, staff[Role.CONSULTANT])
            seen: list[Ticket] = []
            after: Cursor | None = None
            while True:
                page = load_page(session, user, VIEW_BY_KEY["open"], Filters(), after, T0,
                                 limit=10)
                seen += page.tickets
                if page.next_cursor is None:
                    break
                after = Cursor.decode(page.next_cursor.encode())
            keys = [(t.sla_due_at is None, t.sla_due_at or T0, t.id) for t in seen]
            assert len(seen) == 57 and len({t.id for t in seen}) == 57
            assert keys == sorted(keys)
            waiting = load_page(session, user, VIEW_BY_KEY["waiting"], Filters(), None, T0)
            assert {t.status for t in waiting.tickets} == {"pending"}
            found = load_page(session, user, VIEW_BY_KEY["open"],
                              Filters(text="Pertanyaan 12"), None, T0)
            assert [t.subject for t in found.tickets] == ["Pertanyaan 12"]
            assert load_page(session, user, VIEW_BY_KEY["mine"], Filters(), None,
                             T0).tickets == []
    finally:
        services.close()


async def test_live_hub_fans_out_new_events_and_viewers(services: Services,
                                                        staff: dict[str, int]) -> None:
    hub = LiveHub(services, poll_seconds=0.05)
    with services.store.read() as session:
        ani = session.get_one(User, staff[Role.CONSULTANT])
        budi = session.get_one(User, staff[Role.SUPERVISOR])
    first = await hub.subscribe(ani, 1)
    second = await hub.subscribe(budi, 1)
    kind, payload = await asyncio.wait_for(first.queue.get(), 1)
    assert kind == "viewers" and payload["viewers"] == [{"id": ani.id, "name": ani.name}]
    kind, payload = await asyncio.wait_for(first.queue.get(), 1)
    assert [v["id"] for v in payload["viewers"]] == sorted([ani.id, budi.id])
    result = services.intake.receive(email_inquiry(1))
    while True:
        kind, payload = await asyncio.wait_for(second.queue.get(), 2)
        if kind == "ticket" and payload["kind"] == "message.received":
            break
    assert payload["ticket_id"] == result.ticket_id
    hub.unsubscribe(first)
    hub.unsubscribe(second)


async def test_live_stream_needs_a_session(clients: SignIn) -> None:
    anonymous = await clients(None)
    assert (await anonymous.get("/live")).status_code == 303
    signed = await clients(Role.CONSULTANT)
    response = await signed.get("/live?ticket=1")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: hello" in response.text


def test_every_text_has_an_indonesian_translation() -> None:
    check = subprocess.run([sys.executable, "-m", "helpdesk.locale.catalog", "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_times_are_shown_in_jakarta_in_indonesian() -> None:
    assert jakarta(T0) == "23 Nov 2026 09.00"
    assert jakarta(T0, "EEEE, d MMMM yyyy") == "Senin, 23 November 2026"


