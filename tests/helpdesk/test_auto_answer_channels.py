"""The answer-first flow through each channel's real test server: the FAQ answer
goes out with "Apakah jawaban ini membantu?"; the resident's yes resolves the
ticket, no hands it to a consultant, silence hands it over when the hold ends.

Telegram: the Bot API double (buttons, callback queries). Email: aiosmtpd (signed
yes/no links, followed over HTTP). Web chat has its own flow test in
test_webchat.py."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config
from helpdesk.knowledge import load_starter_if_empty
from helpdesk.models import Event, Ticket
from helpdesk.runners.wiring import wire_channels
from helpdesk.store import Store
from helpdesk.web.app import create_app
from knowledge_base.defaults import starter_faq_dir
from tests.helpdesk.factories import email_inquiry
from tests.servers.smtp import SmtpServer
from tests.servers.telegram_double import TEST_TOKEN, TelegramDouble, running_double

QUESTION = "Apakah jawaban ini membantu?"
ASKS = "apa itu PBG?"


def message_update(text: str, message_id: int) -> dict[str, Any]:
    person = {"id": 281234567, "is_bot": False, "first_name": "Siti"}
    return {"message": {"message_id": message_id, "from": person, "date": 1795500000,
                        "chat": {"id": 281234567, "type": "private", "first_name": "Siti"},
                        "text": text}}


def callback_update(data: str, message: dict[str, Any]) -> dict[str, Any]:
    person = {"id": 281234567, "is_bot": False, "first_name": "Siti"}
    return {"callback_query": {"id": f"cb-{data}", "from": person, "chat_instance": "1",
                               "data": data, "message": message}}


@pytest.fixture
def double() -> Iterator[TelegramDouble]:
    with running_double() as server:
        yield server


@pytest.fixture
async def telegram(config: Config, sqlite_url: str,
                   double: TelegramDouble) -> AsyncIterator[Services]:
    channels = replace(config.channels, telegram=replace(
        config.channels.telegram, enabled=True, token=TEST_TOKEN, base_url=double.base_url,
        base_file_url=double.base_file_url, poll_timeout_seconds=0))
    services = build_services(replace(config, channels=channels), store=Store(sqlite_url))
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    wire_channels(services)
    yield services
    for close in services.closers:
        await close()
    services.close()


async def ask_on_telegram(services: Services, double: TelegramDouble) -> tuple[Ticket, Any]:
    poller = services.runners[0].adapter  # type: ignore[attr-defined]
    double.push_update(message_update(ASKS, 10))
    await poller.poll_once()
    await services.dispatcher.dispatch_due()
    sent = double.calls_of("sendMessage")
    assert len(sent) == 1 and QUESTION in sent[0].params["text"]
    with services.store.read() as session:
        ticket = session.exec(select(Ticket)).one()
    assert ticket.status == "pending" and ticket.auto_answer_entry
    return ticket, sent[0]


def buttons_of(call: Any) -> dict[str, str]:
    markup = json.loads(call.params["reply_markup"])
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def events(services: Services, ticket_id: int) -> list[str]:
    with services.store.read() as session:
        return list(session.exec(select(Event.kind).where(Event.ticket_id == ticket_id)))


async def press(services: Services, double: TelegramDouble, data: str) -> None:
    message = {"message_id": 99, "date": 1795500001,
               "chat": {"id": 281234567, "type": "private", "first_name": "Siti"},
               "text": QUESTION}
    double.push_update(callback_update(data, message))
    await services.runners[0].adapter.poll_once()  # type: ignore[attr-defined]


async def test_telegram_yes_resolves_as_answered_by_the_faq(
        telegram: Services, double: TelegramDouble) -> None:
    ticket, sent = await ask_on_telegram(telegram, double)
    yes = next(data for label, data in buttons_of(sent).items() if label.startswith("Ya"))
    await press(telegram, double, yes)
    with telegram.store.read() as session:
        after = session.get_one(Ticket, ticket.id)
    assert after.status == "resolved" and after.answered_by_faq
    assert "faq.feedback" in events(telegram, ticket.id or 0)


async def test_telegram_no_hands_over_to_a_consultant(telegram: Services,
                                                      double: TelegramDouble) -> None:
    ticket, sent = await ask_on_telegram(telegram, double)
    no = next(data for label, data in buttons_of(sent).items() if label.startswith("Tidak"))
    await press(telegram, double, no)
    with telegram.store.read() as session:
        after = session.get_one(Ticket, ticket.id)
    assert after.status in ("new", "open") and not after.answered_by_faq
    assert after.awaiting_until is None
    assert "faq.handover" in events(telegram, ticket.id or 0)


async def test_telegram_silence_hands_over_when_the_hold_ends(
        telegram: Services, double: TelegramDouble) -> None:
    ticket, _ = await ask_on_telegram(telegram, double)
    assert ticket.awaiting_until is not None
    policy = telegram.decisions.policy
    assert await telegram.store.run(policy.release_expired, telegram.store,
                                    telegram.clock()) == 0
    later = ticket.awaiting_until + timedelta(seconds=1)
    assert await telegram.store.run(policy.release_expired, telegram.store, later) == 1
    with telegram.store.read() as session:
        after = session.get_one(Ticket, ticket.id)
    assert after.status in ("new", "open") and "faq.handover" in events(telegram,
                                                                       ticket.id or 0)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def mail(config: Config, sqlite_url: str, smtp: SmtpServer) -> AsyncIterator[Services]:
    channels = replace(config.channels, smtp=replace(
        config.channels.smtp, enabled=True, host="127.0.0.1", port=smtp.port, security="none",
        from_address="tanya@ptsp.test"))
    services = build_services(replace(config, channels=channels), store=Store(sqlite_url))
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    wire_channels(services)
    yield services
    for close in services.closers:
        await close()
    services.close()


async def answer_by_mail(services: Services, smtp: SmtpServer) -> tuple[int, dict[str, str]]:
    result = services.intake.receive(replace(email_inquiry(1, text=ASKS), subject="PBG"))
    await services.dispatcher.dispatch_due()
    await smtp.wait_for_async(1, 10)
    body = smtp.messages[0].message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert QUESTION in text
    assert smtp.messages[0].message["Auto-Submitted"] == "auto-replied"
    links = dict(re.findall(r"(Ya|Tidak)[^\n]*?:?\s*<?(http://\S+/f/[A-Za-z0-9._-]+)", text))
    assert set(links) == {"Ya", "Tidak"}, text
    return result.ticket_id, links


async def follow(services: Services, link: str) -> httpx.Response:
    app = create_app(services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        path = "/" + link.split("/", 3)[3]
        page = await client.get(path)
        assert page.status_code == 200  # opening the link records nothing yet
        return await client.post(path)


async def test_email_yes_link_resolves_the_ticket(mail: Services, smtp: SmtpServer) -> None:
    ticket_id, links = await answer_by_mail(mail, smtp)
    response = await follow(mail, links["Ya"])
    assert response.status_code == 200
    with mail.store.read() as session:
        ticket = session.get_one(Ticket, ticket_id)
    assert ticket.status == "resolved" and ticket.answered_by_faq


async def test_email_no_link_hands_over(mail: Services, smtp: SmtpServer) -> None:
    ticket_id, links = await answer_by_mail(mail, smtp)
    await follow(mail, links["Tidak"])
    with mail.store.read() as session:
        ticket = session.get_one(Ticket, ticket_id)
    assert ticket.status in ("new", "open") and "faq.handover" in events(mail, ticket_id)


async def test_email_silence_hands_over(mail: Services, smtp: SmtpServer) -> None:
    ticket_id, _ = await answer_by_mail(mail, smtp)
    with mail.store.read() as session:
        until = session.get_one(Ticket, ticket_id).awaiting_until
    assert until is not None
    policy = mail.decisions.policy
    await mail.store.run(policy.release_expired, mail.store, until + timedelta(seconds=1))
    assert "faq.handover" in events(mail, ticket_id)



# ------------------------------------------------------------------ web chat


@pytest.mark.parametrize("choice", ["Ya", "Tidak"])
async def test_webchat_yes_and_no(config: Config, sqlite_url: str, choice: str) -> None:
    from tests.helpdesk.webchat_harness import LiveServer, Window, chat_services

    services = chat_services(config, Store(sqlite_url))
    services.chat_hub.poll_seconds = 0.2
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    server = LiveServer(services).start()
    try:
        window = await Window.open(server.ws_url)
        ack = await window.say(ASKS, "client-0001")
        assert ack["type"] == "ack", ack
        await services.dispatcher.dispatch_due()
        asked = await window.expect(lambda f: f["type"] == "message"
                                    and QUESTION in f["text"], within=10)
        button = next(b for b in asked["buttons"] if b["label"].startswith(choice))
        await window.send({"type": "button", "id": "button-0001", "label": button["label"],
                           "data": button["data"]})
        await window.expect(lambda f: f["type"] == "ack" and f.get("id") == "button-0001")
        with services.store.read() as session:
            ticket = session.exec(select(Ticket)).one()
        if choice == "Ya":
            assert ticket.status == "resolved" and ticket.answered_by_faq
        else:
            assert ticket.status in ("new", "open") and not ticket.answered_by_faq
            assert "faq.handover" in events(services, ticket.id or 0)
        await window.close()
    finally:
        server.stop()
        services.close()
