"""Shared pieces for the decision-path tests: a settable clock, a recording
outbound adapter, and services built on them with the starter FAQ loaded."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from channels.base import Channel, DeliveryReceipt, Reply
from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config
from helpdesk.knowledge import load_starter_if_empty
from helpdesk.store import Store
from knowledge_base.defaults import starter_faq_dir

JAKARTA = ZoneInfo("Asia/Jakarta")


def wib(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Jakarta wall-clock time as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=JAKARTA).astimezone(UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingAdapter:
    """An outbound adapter that keeps what it was asked to send."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent: list[Reply] = []

    async def send(self, reply: Reply) -> DeliveryReceipt:
        self.sent.append(reply)
        return DeliveryReceipt(external_ref=reply.message_id)


TEST_KEY = "a-test-secret-key-that-is-long-enough-0123456789"


def desk(config: Config, store: Store, clock: Clock, *, faq: bool = True) -> Services:
    config = replace(config, app=replace(config.app, secret_key=TEST_KEY,
                                         base_url="https://tanya.test"))
    adapters = {c.value: RecordingAdapter(c) for c in (Channel.EMAIL, Channel.TELEGRAM,
                                                       Channel.WEBCHAT)}
    services = build_services(config, store=store, clock=clock,
                              adapters=dict(adapters))  # type: ignore[arg-type]
    if faq:
        load_starter_if_empty(services.knowledge, starter_faq_dir())
    return services
