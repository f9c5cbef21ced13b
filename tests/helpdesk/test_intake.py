"""Intake: nothing lost, nothing stored twice, threads kept, residents recognised."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import col, func, select

from channels.base import Channel, Identity, IdentityKind, ThreadHints
from helpdesk.attachments import AttachmentFiles
from helpdesk.bootstrap import Services
from helpdesk.intake import DefaultQueuePolicy, Intake, RejectedInquiry
from helpdesk.models import (
    Contact,
    ContactIdentity,
    Event,
    Message,
    Ticket,
    TicketStatus,
)
from helpdesk.store import Store
from tests.helpdesk.factories import T0, chat_inquiry, email_inquiry, phone_inquiry


def count(store: Store, model: type) -> int:
    with store.read() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_replaying_a_thousand_inquiries_stores_each_once(services: Services) -> None:
    inquiries = [email_inquiry(n) for n in range(1000)]
    first = [services.intake.receive(i) for i in inquiries]
    again = [services.intake.receive(i) for i in inquiries]
    assert count(services.store, Message) == 1000
    assert not any(r.duplicate for r in first)
    assert all(r.duplicate for r in again)
    assert [r.message_id for r in first] == [r.message_id for r in again]
    assert count(services.store, Contact) == 100


def test_two_concurrent_workers_store_each_inquiry_once(services: Services,
                                                        db_url: str) -> None:
    inquiries = [email_inquiry(n) for n in range(1000)]
    errors: list[BaseException] = []

    def worker(order: list[int]) -> None:
        # A store of its own, as a second process would have.
        store = Store(db_url)
        intake = Intake(store, services.files, reopen_days=7,
                        policy=DefaultQueuePolicy("umum"))
        try:
            for n in order:
                intake.receive(inquiries[n])
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.dispose()

    forward = list(range(1000))
    threads = [threading.Thread(target=worker, args=(forward,)),
               threading.Thread(target=worker, args=(forward[::-1],))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(services.store, Message) == 1000
    assert count(services.store, Contact) == 100
    with services.store.read() as session:
        identities = session.exec(select(func.count()).select_from(ContactIdentity)).one()
        created = session.exec(select(func.count()).select_from(Event)
                               .where(Event.kind == "ticket.created")).one()
    assert identities == 100
    assert created == count(services.store, Ticket)


def test_email_follow_up_lands_on_the_open_ticket(services: Services) -> None:
    first = services.intake.receive(email_inquiry(1, sender="ani@example.com"))
    follow = services.intake.receive(
        email_inquiry(2, sender="ani@example.com", reply_to=("msg-1@warga.example",)))
    assert follow.ticket_id == first.ticket_id
    assert not follow.created
    unrelated = services.intake.receive(email_inquiry(3, sender="ani@example.com"))
    assert unrelated.created and unrelated.ticket_id != first.ticket_id


def test_subject_tag_threads_only_the_residents_own_ticket(services: Services) -> None:
    first = services.intake.receive(email_inquiry(1, sender="ani@example.com"))
    tagged = replace(email_inquiry(2, sender="ani@example.com"),
                     thread=ThreadHints(ticket_number=first.ticket_number))
    assert services.intake.receive(tagged).ticket_id == first.ticket_id
    stranger = replace(email_inquiry(3, sender="someone@else.example"),
                       thread=ThreadHints(ticket_number=first.ticket_number))
    assert services.intake.receive(stranger).ticket_id != first.ticket_id


def test_reply_after_resolution_reopens_within_the_window_else_opens_a_linked_ticket(
        services: Services) -> None:
    first = services.intake.receive(email_inquiry(1, sender="ani@example.com"))
    with services.store.write() as session:
        ticket = session.get_one(Ticket, first.ticket_id)
        ticket.status = TicketStatus.RESOLVED
        ticket.resolved_at = services.clock() - timedelta(days=2)
    reply = services.intake.receive(
        email_inquiry(2, sender="ani@example.com", reply_to=("msg-1@warga.example",)))
    assert reply.ticket_id == first.ticket_id and reply.reopened
    with services.store.write() as session:
        ticket = session.get_one(Ticket, first.ticket_id)
        assert ticket.status == TicketStatus.OPEN
        ticket.status = TicketStatus.RESOLVED
        ticket.resolved_at = services.clock() - timedelta(days=30)
    late = services.intake.receive(
        email_inquiry(3, sender="ani@example.com", reply_to=("msg-2@warga.example",)))
    assert late.created and late.ticket_id != first.ticket_id
    with services.store.read() as session:
        new = session.get_one(Ticket, late.ticket_id)
        assert new.linked_ticket_id == first.ticket_id
        kinds = session.exec(select(Event.kind).where(Event.ticket_id == late.ticket_id)).all()
    assert "ticket.created" in kinds


def test_chat_messages_of_one_conversation_share_a_ticket(services: Services) -> None:
    results = [services.intake.receive(chat_inquiry(n, "5551234")) for n in range(5)]
    assert len({r.ticket_id for r in results}) == 1
    assert results[0].created and not any(r.created for r in results[1:])
    other = services.intake.receive(chat_inquiry(1, "5559999"))
    assert other.ticket_id != results[0].ticket_id


def test_repeated_missed_calls_join_one_callback_ticket(services: Services) -> None:
    a = services.intake.receive(phone_inquiry(1, "0812-3456-7890"))
    b = services.intake.receive(phone_inquiry(2, "+62 812 3456 7890"))
    assert a.ticket_id == b.ticket_id


@pytest.mark.parametrize("spelling", ["0812-3456-7890", "+62 812 3456 7890", "6281234567890",
                                      "(0812) 3456 7890"])
def test_phone_spellings_are_one_identity(services: Services, spelling: str) -> None:
    services.intake.receive(phone_inquiry(1, "081234567890"))
    services.intake.receive(phone_inquiry(2, spelling))
    with services.store.read() as session:
        values = session.exec(select(ContactIdentity.value)).all()
    assert values == ["+6281234567890"]


def test_a_shared_phone_number_joins_the_telegram_contact(services: Services) -> None:
    chat = replace(chat_inquiry(1, "777"),
                   extra_identities=(Identity(IdentityKind.PHONE, "0812 1111 2222"),))
    services.intake.receive(chat)
    call = services.intake.receive(phone_inquiry(9, "+6281211112222"))
    with services.store.read() as session:
        ticket = session.get_one(Ticket, call.ticket_id)
        identities = session.exec(select(ContactIdentity)
                                  .order_by(col(ContactIdentity.id))).all()
    assert [(i.kind, i.value) for i in identities] == [("telegram", "777"),
                                                       ("phone", "+6281211112222")]
    assert ticket.contact_id == identities[0].contact_id


def test_email_addresses_are_case_insensitive(services: Services) -> None:
    a = services.intake.receive(email_inquiry(1, sender="Ani@Example.COM"))
    b = services.intake.receive(email_inquiry(2, sender="ani@example.com"))
    with services.store.read() as session:
        contacts = {session.get_one(Ticket, r.ticket_id).contact_id for r in (a, b)}
    assert len(contacts) == 1


def test_an_unusable_sender_is_refused_and_nothing_is_stored(services: Services) -> None:
    bad = replace(phone_inquiry(1, "not a number"))
    with pytest.raises(RejectedInquiry, match="phone"):
        services.intake.receive(bad)
    assert count(services.store, Message) == 0
    assert count(services.store, Contact) == 0


def test_attachments_are_stored_once_by_content(services: Services) -> None:
    from channels.base import AttachmentData

    files = (AttachmentData("ktp.jpg", "image/jpeg", b"\xff\xd8jpeg-bytes"),)
    a = services.intake.receive(replace(email_inquiry(1), attachments=files))
    services.intake.receive(replace(email_inquiry(2), attachments=files))
    from helpdesk.models import Attachment

    with services.store.read() as session:
        rows = session.exec(select(Attachment)).all()
    assert len(rows) == 2 and rows[0].sha256 == rows[1].sha256
    assert isinstance(services.files, AttachmentFiles)
    assert services.files.read(rows[0].sha256) == b"\xff\xd8jpeg-bytes"
    assert a.message_id == rows[0].message_id


def test_new_tickets_get_the_default_queue_and_a_number(services: Services) -> None:
    result = services.intake.receive(email_inquiry(1))
    assert result.ticket_number == f"PTSP-{result.ticket_id:06d}"
    with services.store.read() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
        assert ticket.queue_id is not None
        assert ticket.channel == Channel.EMAIL
        assert ticket.created_at == T0 + timedelta(seconds=1)
