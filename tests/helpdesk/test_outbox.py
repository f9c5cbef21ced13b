"""The outbox: replies are stored first, sent once, retried with backoff, and
failures stay visible with their reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from channels.base import (
    Channel,
    DeliveryReceipt,
    PermanentDeliveryError,
    Reply,
    TemporaryDeliveryError,
)
from helpdesk.bootstrap import Services
from helpdesk.models import AuthorKind, Event, Message, OutboxItem, OutboxStatus, Ticket
from helpdesk.outbox import Dispatcher, queue_reply
from tests.helpdesk.factories import email_inquiry


class FlakyAdapter:
    channel = Channel.EMAIL

    def __init__(self, failures: int = 0, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.calls: list[Reply] = []
        self.delivered: list[Reply] = []

    async def send(self, reply: Reply) -> DeliveryReceipt:
        self.calls.append(reply)
        if self.permanent:
            raise PermanentDeliveryError("550 5.1.1 mailbox unavailable")
        if self.failures > 0:
            self.failures -= 1
            raise TemporaryDeliveryError("451 4.3.0 try again later")
        self.delivered.append(reply)
        return DeliveryReceipt(external_ref=reply.message_id)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC) + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def _reply(services: Services, text: str = "Silakan ajukan melalui JakEVO.") -> int:
    received = services.intake.receive(email_inquiry(1, sender="ani@example.com"))
    with services.store.write() as session:
        ticket = session.get_one(Ticket, received.ticket_id)
        message = queue_reply(session, ticket, text, now=services.clock(),
                              author_kind=AuthorKind.CONSULTANT, mail_domain="ptsp.test")
        assert message.id is not None
        return message.id


def _dispatcher(services: Services, adapter: FlakyAdapter, clock: Clock,
                attempts: int = 5) -> Dispatcher:
    config = replace(services.config.outbox, max_attempts=attempts, backoff_base_seconds=10)
    return Dispatcher(services.store, {"email": adapter}, config, clock=clock)


def _item(services: Services) -> OutboxItem:
    with services.store.read() as session:
        return session.exec(select(OutboxItem)).one()


async def test_fails_twice_then_succeeds_sends_once_in_three_attempts(
        services: Services) -> None:
    _reply(services)
    adapter, clock = FlakyAdapter(failures=2), Clock()
    dispatcher = _dispatcher(services, adapter, clock)
    for _ in range(3):
        assert await dispatcher.dispatch_due() == 1
        assert await dispatcher.dispatch_due() == 0  # not due again until the backoff passes
        clock.now += timedelta(hours=1)
    assert await dispatcher.dispatch_due() == 0
    item = _item(services)
    assert item.status == OutboxStatus.SENT and item.attempts == 3
    assert len(adapter.delivered) == 1 and len(adapter.calls) == 3
    assert len({r.idempotency_key for r in adapter.calls}) == 1
    reply = adapter.delivered[0]
    assert reply.recipient == "ani@example.com"
    assert reply.in_reply_to == "msg-1@warga.example"
    assert reply.ticket_number.startswith("PTSP-")


async def test_permanent_failure_is_failed_with_the_reason_on_the_ticket(
        services: Services) -> None:
    _reply(services)
    dispatcher = _dispatcher(services, FlakyAdapter(permanent=True), Clock())
    await dispatcher.dispatch_due()
    item = _item(services)
    assert item.status == OutboxStatus.FAILED
    assert item.last_error == "550 5.1.1 mailbox unavailable"
    with services.store.read() as session:
        failed = session.exec(select(Event).where(Event.kind == "message.failed")).one()
    assert failed.data["reason"] == "550 5.1.1 mailbox unavailable"


async def test_temporary_failures_give_up_after_the_configured_attempts(
        services: Services) -> None:
    _reply(services)
    clock = Clock()
    dispatcher = _dispatcher(services, FlakyAdapter(failures=99), clock, attempts=3)
    for _ in range(5):
        await dispatcher.dispatch_due()
        clock.now += timedelta(days=1)
    item = _item(services)
    assert item.status == OutboxStatus.FAILED and item.attempts == 3
    assert "451" in (item.last_error or "")


async def test_a_restart_never_resends_a_delivered_item(services: Services) -> None:
    _reply(services)
    adapter, clock = FlakyAdapter(), Clock()
    await _dispatcher(services, adapter, clock).dispatch_due()
    clock.now += timedelta(days=1)
    restarted = _dispatcher(services, adapter, clock)  # a new process, same database
    assert await restarted.dispatch_due() == 0
    assert len(adapter.calls) == 1


async def test_an_item_claimed_by_a_worker_that_died_is_sent_after_the_lease(
        services: Services) -> None:
    _reply(services)
    clock = Clock()
    dead = _dispatcher(services, FlakyAdapter(), clock)
    dead._claim(10)  # claimed, then the worker vanished before sending
    adapter = FlakyAdapter()
    alive = _dispatcher(services, adapter, clock)
    assert await alive.dispatch_due() == 0
    clock.now += timedelta(seconds=services.config.outbox.lease_seconds + 1)
    assert await alive.dispatch_due() == 1
    assert len(adapter.delivered) == 1


async def test_the_reply_is_stored_before_any_attempt(services: Services) -> None:
    message_id = _reply(services)
    with services.store.read() as session:
        message = session.get_one(Message, message_id)
        item = session.exec(select(OutboxItem)).one()
    assert message.direction == "out" and message.channel == "email"
    assert message.external_id.endswith("@ptsp.test")
    assert item.status == OutboxStatus.PENDING and item.attempts == 0


async def test_no_adapter_for_the_channel_keeps_the_item_waiting(services: Services) -> None:
    _reply(services)
    dispatcher = Dispatcher(services.store, {}, services.config.outbox, clock=Clock())
    await dispatcher.dispatch_due()
    item = _item(services)
    assert item.status == OutboxStatus.PENDING
    assert "no email channel is configured" in (item.last_error or "")
