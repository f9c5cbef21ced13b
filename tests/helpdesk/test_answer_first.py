"""Answer first: a confident FAQ match is answered at once on the resident's
channel and the ticket waits for them; "yes" resolves it as answered by the
FAQ, "no", another message or silence hands it to a consultant."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlparse

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from channels.base import Channel, Inquiry, Reply, ThreadHints
from helpdesk.bootstrap import Services
from helpdesk.config import Config
from helpdesk.models import AuthorKind, Event, Message, Ticket, TicketStatus
from helpdesk.web import feedback
from tests.helpdesk.desk import Clock, RecordingAdapter, desk
from tests.helpdesk.factories import T0, chat_inquiry, email_inquiry, phone_inquiry

QUESTION = "apa itu PBG?"  # the starter FAQ answers this with full confidence
WEAK = "Bagaimana cara mengurus NIB?"  # a suggestion, not safe to send unasked


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def desk_services(config: Config, store: object, clock: Clock) -> Services:
    from helpdesk.store import Store

    assert isinstance(store, Store)
    return desk(config, store, clock)


def sent(services: Services, channel: Channel) -> list[Reply]:
    adapter = services.dispatcher.adapters[channel.value]
    assert isinstance(adapter, RecordingAdapter)
    return adapter.sent


def ticket_of(services: Services, ticket_id: int) -> Ticket:
    with services.store.read() as session:
        return session.get_one(Ticket, ticket_id)


def kinds(services: Services, ticket_id: int) -> list[str]:
    with services.store.read() as session:
        return [e.kind for e in session.exec(select(Event).where(
            Event.ticket_id == ticket_id).order_by(col(Event.id)))]


def press(chat: str, n: int, data: str, channel: Channel = Channel.TELEGRAM) -> Inquiry:
    base = chat_inquiry(n, chat, channel=channel, text="Ya" if ":yes:" in data else "Tidak")
    return replace(base, meta={"callback": data}, thread=ThreadHints(conversation_id=chat))


CHATS = [Channel.TELEGRAM, Channel.WEBCHAT]


async def auto_answered_chat(services: Services, channel: Channel) -> tuple[int, Reply]:
    chat = "700001" if channel is Channel.TELEGRAM else "wc-visitor-700001"
    result = services.intake.receive(chat_inquiry(1, chat, channel=channel, text=QUESTION))
    assert await services.dispatcher.dispatch_due() == 1
    [reply] = sent(services, channel)
    return result.ticket_id, reply


@pytest.mark.parametrize("channel", CHATS)
async def test_chat_yes_resolves_as_answered_by_the_faq(desk_services: Services, clock: Clock,
                                                        channel: Channel) -> None:
    ticket_id, reply = await auto_answered_chat(desk_services, channel)
    assert reply.automatic and "Apakah jawaban ini membantu?" in reply.text
    number = ticket_of(desk_services, ticket_id).number
    assert [b.data for b in reply.buttons] == [f"faq:yes:{number}", f"faq:no:{number}"]
    held = ticket_of(desk_services, ticket_id)
    assert held.status == TicketStatus.PENDING and held.auto_answer_entry == "pbg-apa"
    assert held.awaiting_until == T0 + timedelta(minutes=60 if channel is Channel.TELEGRAM
                                                 else 30)
    clock.now = T0 + timedelta(minutes=3)
    chat = reply.recipient
    desk_services.intake.receive(press(chat, 2, reply.buttons[0].data, channel))
    done = ticket_of(desk_services, ticket_id)
    assert done.status == TicketStatus.RESOLVED and done.answered_by_faq
    assert done.first_response_at is None  # the bot's answer is not a person's response
    assert done.assignee_id is None and done.awaiting_until is None
    with desk_services.store.read() as session:
        feedback = session.exec(select(Event).where(Event.kind == "faq.feedback")).one()
        assert feedback.data == {"entry": "pbg-apa", "helpful": True, "via": channel.value}
        bot = session.exec(select(Message).where(Message.author_kind == AuthorKind.BOT)).one()
        assert bot.meta["faq_entry"] == "pbg-apa"
    # No satisfaction survey after the resident said the answer helped.
    assert await desk_services.dispatcher.dispatch_due() == 0


@pytest.mark.parametrize("channel", CHATS)
async def test_chat_no_hands_over_with_the_suggestion(desk_services: Services, clock: Clock,
                                                      channel: Channel) -> None:
    ticket_id, reply = await auto_answered_chat(desk_services, channel)
    clock.now = T0 + timedelta(minutes=2)
    desk_services.intake.receive(press(reply.recipient, 2, reply.buttons[1].data, channel))
    ticket = ticket_of(desk_services, ticket_id)
    assert ticket.status == TicketStatus.OPEN and not ticket.answered_by_faq
    assert ticket.awaiting_until is None
    with desk_services.store.read() as session:
        handover = session.exec(select(Event).where(Event.kind == "faq.handover")).one()
    assert handover.data["why"] == "the resident said the FAQ answer did not help"
    assert handover.data["suggestion"]["entry"] == "pbg-apa"


async def test_silence_hands_over_when_the_hold_runs_out(desk_services: Services,
                                                         clock: Clock) -> None:
    ticket_id, _ = await auto_answered_chat(desk_services, Channel.TELEGRAM)
    policy = desk_services.decisions.policy
    clock.now = T0 + timedelta(minutes=59)
    assert policy.release_expired(desk_services.store, clock.now) == 0
    clock.now = T0 + timedelta(minutes=61)
    assert policy.release_expired(desk_services.store, clock.now) == 1
    assert policy.release_expired(desk_services.store, clock.now) == 0
    ticket = ticket_of(desk_services, ticket_id)
    assert ticket.status == TicketStatus.NEW and ticket.awaiting_until is None
    assert kinds(desk_services, ticket_id)[-1] == "faq.handover"


async def test_another_message_while_waiting_hands_over(desk_services: Services,
                                                        clock: Clock) -> None:
    ticket_id, reply = await auto_answered_chat(desk_services, Channel.TELEGRAM)
    clock.now = T0 + timedelta(minutes=5)
    desk_services.intake.receive(chat_inquiry(3, reply.recipient,
                                              text="tapi kalau rumah 2 lantai gmn?"))
    ticket = ticket_of(desk_services, ticket_id)
    assert ticket.status == TicketStatus.OPEN and ticket.awaiting_until is None
    assert "faq.handover" in kinds(desk_services, ticket_id)
    # At most one automatic answer per ticket.
    assert await desk_services.dispatcher.dispatch_due() == 0


async def test_email_links_yes_no_and_a_forged_link(desk_services: Services,
                                                    clock: Clock) -> None:
    first = desk_services.intake.receive(email_inquiry(1, sender="ani@example.com",
                                                       text=QUESTION))
    second = desk_services.intake.receive(email_inquiry(2, sender="budi@example.com",
                                                        text=QUESTION))
    assert await desk_services.dispatcher.dispatch_due() == 2
    replies = {r.recipient: r for r in sent(desk_services, Channel.EMAIL)}
    yes_url = replies["ani@example.com"].buttons[0].url
    no_url = replies["budi@example.com"].buttons[1].url
    assert yes_url and no_url and yes_url.startswith("https://tanya.test/f/")
    # The feedback routes alone, as create_app mounts them.
    app = Starlette(routes=feedback.routes())
    app.state.services = desk_services
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://tanya.test") as client:
        page = await client.get(urlparse(yes_url).path)
        assert page.status_code == 200 and "membantu" in page.text
        # Opening the link (a mail scanner does) changes nothing.
        assert ticket_of(desk_services, first.ticket_id).status == TicketStatus.PENDING
        done = await client.post(urlparse(yes_url).path)
        assert done.status_code == 200 and "tutup" in done.text
        assert (await client.post(urlparse(no_url).path)).status_code == 200
        path = urlparse(yes_url).path
        forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
        assert (await client.post(forged)).status_code == 400
    assert ticket_of(desk_services, first.ticket_id).answered_by_faq
    assert ticket_of(desk_services, first.ticket_id).status == TicketStatus.RESOLVED
    budi = ticket_of(desk_services, second.ticket_id)
    assert budi.status == TicketStatus.NEW and not budi.answered_by_faq


async def test_what_is_never_answered_automatically(desk_services: Services) -> None:
    services = desk_services
    weak = services.intake.receive(email_inquiry(1, text=WEAK))
    robot = services.intake.receive(replace(email_inquiry(2, text=QUESTION), automated=True))
    # A call's notes are what the matcher reads (the rest of its text is the desk's).
    call = services.intake.receive(replace(phone_inquiry(3, "+6281234500003"), text=QUESTION,
                                           meta={"notes": QUESTION}))
    for n in range(4, 8):  # a fourth answer to one address in a day is refused
        services.intake.receive(email_inquiry(n, sender="loop@example.com", text=QUESTION))
    assert await services.dispatcher.dispatch_due() == 3
    with services.store.read() as session:
        suggested = session.exec(select(Event).where(
            Event.ticket_id == weak.ticket_id, Event.kind == "faq.suggested")).one()
        skipped = {e.ticket_id: e.data["why"] for e in session.exec(select(Event).where(
            Event.kind == "faq.auto_answer_skipped"))}
    assert suggested.data["suggestions"][0]["entry"] == "nib-cara-daftar"
    assert ticket_of(services, weak.ticket_id).status == TicketStatus.NEW
    assert skipped[robot.ticket_id] == "the message is an automatic reply or bulk mail"
    assert skipped[call.ticket_id] == "a phone call is answered by calling back"
    assert any("limit 3" in why for why in skipped.values())


async def test_a_rating_after_resolution(desk_services: Services, clock: Clock) -> None:
    services = desk_services
    result = services.intake.receive(chat_inquiry(1, "700009", text=WEAK))
    with services.store.write() as session:
        ticket = session.get_one(Ticket, result.ticket_id)
        services.decisions.flow.set_status(session, ticket, TicketStatus.RESOLVED,
                                           now=clock.now, why="answered by phone")
    assert await services.dispatcher.dispatch_due() == 1
    [survey] = sent(services, Channel.TELEGRAM)
    assert [b.data.split(":")[1] for b in survey.buttons] == ["1", "2", "3", "4", "5"]
    clock.now = T0 + timedelta(minutes=10)
    services.intake.receive(press("700009", 2, survey.buttons[3].data))
    ticket = ticket_of(services, result.ticket_id)
    assert ticket.satisfaction == 4 and ticket.status == TicketStatus.RESOLVED
    assert "satisfaction.rated" in kinds(services, result.ticket_id)
