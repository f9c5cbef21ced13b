"""Telegram through the whole help desk: the Bot API double -> poller -> intake ->
ticket; a consultant's reply -> outbox -> sendMessage; /start greets without a ticket;
a restart stores nothing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlmodel import func, select

from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config
from helpdesk.models import Message, OutboxItem, Ticket
from helpdesk.outbox import queue_reply
from helpdesk.runners.wiring import wire_channels
from helpdesk.store import Store
from tests.servers.telegram_double import TEST_TOKEN, TelegramDouble, running_double

DATA = Path(__file__).resolve().parents[1] / "data" / "telegram"


def update(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


@pytest.fixture
def double() -> Iterator[TelegramDouble]:
    with running_double() as server:
        yield server


def telegram_services(config: Config, sqlite_url: str, double: TelegramDouble) -> Services:
    channels = replace(config.channels, telegram=replace(
        config.channels.telegram, enabled=True, token=TEST_TOKEN, base_url=double.base_url,
        base_file_url=double.base_file_url, poll_timeout_seconds=0))
    services = build_services(replace(config, channels=channels), store=Store(sqlite_url))
    wire_channels(services)
    return services


async def test_a_question_becomes_a_ticket_and_the_reply_reaches_the_chat(
        config: Config, sqlite_url: str, double: TelegramDouble) -> None:
    services = telegram_services(config, sqlite_url, double)
    poller = services.runners[0].adapter  # type: ignore[attr-defined]
    try:
        double.push_update(update("text_private"))
        await poller.poll_once()  # type: ignore[attr-defined]
        with services.store.write() as session:
            ticket = session.exec(select(Ticket)).one()
            assert ticket.channel == "telegram"
            queue_reply(session, ticket, "Silakan daftar NIB melalui OSS.",
                        now=services.clock())
        await services.dispatcher.dispatch_due()
        sent = double.calls_of("sendMessage")
        assert [c.params["text"] for c in sent] == ["Silakan daftar NIB melalui OSS."]
        assert sent[0].params["chat_id"] == "281234567"
        # A restart with the saved offset fetches nothing again.
        await poller.poll_once()  # type: ignore[attr-defined]
        with services.store.read() as session:
            assert session.exec(select(func.count()).select_from(Message)).one() == 2
    finally:
        for close in services.closers:
            await close()
        services.close()


async def test_start_greets_without_opening_a_ticket(config: Config, sqlite_url: str,
                                                     double: TelegramDouble) -> None:
    services = telegram_services(config, sqlite_url, double)
    poller = services.runners[0].adapter  # type: ignore[attr-defined]
    try:
        double.push_update(update("start_command"))
        await poller.poll_once()  # type: ignore[attr-defined]
        await services.dispatcher.dispatch_due()
        greeting = double.calls_of("sendMessage")
        assert len(greeting) == 1 and "Tanya PTSP" in greeting[0].params["text"]
        with services.store.read() as session:
            assert session.exec(select(func.count()).select_from(Ticket)).one() == 0
            item = session.exec(select(OutboxItem)).one()
        assert item.status == "sent"
        # The same /start again (a replay) greets nobody twice.
        double.push_update({**update("start_command"), "update_id": 734001099})
        await poller.poll_once()  # type: ignore[attr-defined]
        await services.dispatcher.dispatch_due()
        assert len(double.calls_of("sendMessage")) == 1
    finally:
        for close in services.closers:
            await close()
        services.close()
