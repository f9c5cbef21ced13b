"""Telegram wiring: the poller or webhook feeding intake, and the sender for the outbox."""

from __future__ import annotations

from channels.base import Inquiry, ReceiveOutcome
from channels.telegram import (
    WEBHOOK_SECRET_HEADER,
    TelegramPoller,
    TelegramSender,
    TelegramWebhook,
)
from helpdesk.bootstrap import Services
from helpdesk.greetings import queue_greeting, wants_greeting

__all__ = ["WEBHOOK_SECRET_HEADER", "TelegramParts", "build_telegram"]


class TelegramParts:
    def __init__(self, poller: TelegramPoller | None, webhook: TelegramWebhook | None,
                 sender: TelegramSender) -> None:
        self.poller = poller
        self.webhook = webhook
        self.sender = sender


def build_telegram(services: Services) -> TelegramParts | None:
    config = services.config.channels.telegram
    if not config.enabled or not config.token:
        return None

    async def sink(inquiry: Inquiry) -> ReceiveOutcome:
        if wants_greeting(inquiry):
            outcome = await services.store.run(queue_greeting, services.store, inquiry,
                                               services.clock())
            services.dispatcher.wakeup.set()
            return outcome
        outcome = await services.intake(inquiry)
        services.dispatcher.wakeup.set()  # an automatic answer may be waiting
        return outcome

    base_url = config.base_url or None
    file_url = config.base_file_url or None
    limit = services.config.tickets.attachment_max_bytes
    sender = TelegramSender(config.token, base_url=base_url, base_file_url=file_url)
    if config.mode == "webhook":
        webhook = TelegramWebhook(
            config.token, config.webhook_secret or "", sink=sink,
            quarantine=services.quarantine, allowed_group_ids=config.allowed_group_ids,
            max_attachment_bytes=limit, base_url=base_url, base_file_url=file_url)
        return TelegramParts(None, webhook, sender)
    poller = TelegramPoller(
        config.token, sink=sink, quarantine=services.quarantine,
        health=services.channel_states.health,
        cursor=services.channel_states.cursor("telegram"),
        allowed_group_ids=config.allowed_group_ids, max_attachment_bytes=limit,
        poll_timeout=config.poll_timeout_seconds, base_url=base_url, base_file_url=file_url)
    return TelegramParts(poller, None, sender)
