"""The dispatcher does not sleep through a reply queued while it was claiming."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

from channels.base import Channel, DeliveryReceipt, Reply
from helpdesk.bootstrap import Services
from helpdesk.models import AuthorKind, OutboxItem, Ticket
from helpdesk.outbox import Dispatcher, queue_reply
from tests.helpdesk.factories import email_inquiry


class Outgoing:
    channel = Channel.EMAIL

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.went = asyncio.Event()

    async def send(self, reply: Reply) -> DeliveryReceipt:
        self.sent.append(time.monotonic())
        self.went.set()
        return DeliveryReceipt(external_ref=reply.message_id)


async def test_a_reply_queued_during_an_empty_claim_goes_out_at_once(
        services: Services) -> None:
    ticket_id = services.intake.receive(email_inquiry(1, sender="ani@example.com")).ticket_id
    adapter = Outgoing()
    # A poll long enough that only the wakeup can explain a prompt send.
    config = replace(services.config.outbox, poll_interval_seconds=30.0)
    dispatcher = Dispatcher(services.store, {"email": adapter}, config)
    loop = asyncio.get_running_loop()
    claim = dispatcher._claim
    queued_at: list[float] = []

    def claim_then_reply_arrives(limit: int) -> list[OutboxItem]:
        items = claim(limit)
        if not queued_at:
            # The consultant's reply commits just after this claim read the
            # table, and the workspace rings the dispatcher before it resumes.
            with services.store.write() as session:
                ticket = session.get_one(Ticket, ticket_id)
                queue_reply(session, ticket, "Silakan ajukan melalui JakEVO.",
                            now=services.clock(), author_kind=AuthorKind.CONSULTANT)
            queued_at.append(time.monotonic())
            loop.call_soon_threadsafe(dispatcher.wakeup.set)
        return items

    dispatcher._claim = claim_then_reply_arrives  # type: ignore[method-assign]
    running = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(5):
            await adapter.went.wait()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert adapter.sent[0] - queued_at[0] < 1.0
