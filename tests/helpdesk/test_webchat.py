"""The web chat end to end: the real app under uvicorn, residents' windows as
WebSocket clients, consultants' replies through the outbox."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, func, select
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from channels.base import ReplyButton
from helpdesk.bootstrap import Services
from helpdesk.config import Config
from helpdesk.models import Attachment, Contact, ContactIdentity, Direction, Message, Ticket
from helpdesk.store import Store
from helpdesk.ticket_numbers import parse_number
from helpdesk.web.app import create_app
from knowledge_base.defaults import starter_faq_dir
from knowledge_base.entries import load_faq_files
from tests.helpdesk.webchat_harness import (
    LiveServer,
    Window,
    chat_services,
    consultant_reply,
)

STATIC = Path(__file__).resolve().parents[2] / "helpdesk" / "web" / "static" / "chat"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
# Off-topic enough that no FAQ entry answers it automatically.
QUESTION = "Selamat siang, saya mau tanya soal berkas saya kemarin"


class Chat:
    """Starts servers for the test and stops them afterwards."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.servers: list[LiveServer] = []
        self.services: list[Services] = []

    def start(self, services: Services | None = None, **webchat: object) -> LiveServer:
        services = services or self.build(**webchat)
        server = LiveServer(services).start()
        self.servers.append(server)
        return server

    def build(self, **webchat: object) -> Services:
        services = chat_services(self.config, self.store, **webchat)
        services.chat_hub.poll_seconds = 0.2
        self.services.append(services)
        return services

    def stop(self) -> None:
        for server in self.servers:
            if server.thread.is_alive():
                server.stop()


@pytest.fixture
def chat(config: Config, store: Store) -> Iterator[Chat]:
    harness = Chat(config, store)
    yield harness
    harness.stop()


def count(services: Services, model: type, *where: object) -> int:
    with services.store.read() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


async def test_resident_writes_and_the_consultant_reply_arrives_live(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    assert len(window.token) == 43 and window.ready["ticket"] is None
    ack = await window.say(QUESTION, "msg-0001")
    assert ack["type"] == "ack" and ack["duplicate"] is False
    line = await window.line(QUESTION)
    assert line["from"] == "resident" and line["id"] == "msg-0001" and line["seq"] == ack["seq"]
    with services.store.read() as session:
        ticket = session.get_one(Ticket, parse_number(ack["ticket"]))
        message = session.get_one(Message, ack["seq"])
    assert ticket.channel == "webchat" and message.text == QUESTION
    # The store keeps the token's hash, never the token.
    assert window.token not in (ticket.conversation_key or "")
    assert window.token not in message.external_id

    consultant_reply(services, ack["ticket"], "Silakan unggah ulang berkas di JakEVO.")
    assert await services.dispatcher.dispatch_due() == 1
    reply = await window.line("Silakan unggah ulang berkas di JakEVO.", within=2)
    assert reply["from"] == "agent" and reply["seq"] > ack["seq"]
    await window.close()


async def test_reconnect_receives_what_was_missed(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    ack = await window.say(QUESTION, "msg-0001")
    await window.line(QUESTION)
    seen = window.last_seq
    await window.close()

    # Two replies while the resident is away; both are sent by the outbox.
    consultant_reply(services, ack["ticket"], "Balasan pertama")
    consultant_reply(services, ack["ticket"], "Balasan kedua")
    assert await services.dispatcher.dispatch_due() == 2

    back = await Window.open(server.ws_url, token=window.token, after=seen)
    assert back.ready["ticket"] == ack["ticket"] and "token" not in back.ready
    await back.line("Balasan kedua")
    assert [f["text"] for f in back.lines] == ["Balasan pertama", "Balasan kedua"]
    # A new page (nothing seen yet) gets the whole conversation, in order.
    fresh = await Window.open(server.ws_url, token=window.token, after=0)
    await fresh.line("Balasan kedua")
    assert [f["text"] for f in fresh.lines] == [QUESTION, "Balasan pertama", "Balasan kedua"]
    await back.close()
    await fresh.close()


async def test_nothing_is_lost_across_a_server_restart(chat: Chat) -> None:
    services = chat.build()
    first = chat.start(services)
    window = await Window.open(first.ws_url)
    ack = await window.say(QUESTION, "msg-0001")
    await window.line(QUESTION)
    first.stop()
    with pytest.raises(Exception):  # noqa: B017 - any close is fine: the server went away
        await window.next(within=5)
    consultant_reply(services, ack["ticket"], "Dibalas saat server mati")
    await services.dispatcher.dispatch_due()

    second = chat.start(services)
    back = await Window.open(second.ws_url, token=window.token, after=window.last_seq)
    reply = await back.line("Dibalas saat server mati")
    assert reply["seq"] > ack["seq"]
    await back.close()


async def test_a_resend_after_a_dropped_connection_is_stored_once(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    first = await window.say(QUESTION, "resend-01")
    await window.close()
    again = await Window.open(server.ws_url, token=window.token, after=0)
    second = await again.say(QUESTION, "resend-01")
    assert second["duplicate"] is True and second["seq"] == first["seq"]
    assert count(services, Message, col(Message.direction) == Direction.IN) == 1
    await again.quiet()
    assert [f["text"] for f in again.lines] == [QUESTION]
    await again.close()


async def test_one_resident_can_never_read_another_conversation(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    ani = await Window.open(server.ws_url)
    budi = await Window.open(server.ws_url)
    ack_ani = await ani.say("Rahasia Ani: NIK 3171xxxx", "ani-00001")
    ack_budi = await budi.say("Pertanyaan Budi", "budi-0001")
    assert ack_ani["ticket"] != ack_budi["ticket"]
    consultant_reply(services, ack_ani["ticket"], "Balasan untuk Ani saja")
    await services.dispatcher.dispatch_due()
    await ani.line("Balasan untuk Ani saja")
    assert all("Ani" not in f["text"] for f in [*budi.lines, *await budi.quiet(0.5)])

    # Budi's token from scratch shows only Budi's own words.
    again = await Window.open(server.ws_url, token=budi.token, after=0)
    await again.line("Pertanyaan Budi")
    assert [f["text"] for f in [*again.lines, *await again.quiet()]] == ["Pertanyaan Budi"]
    # A made-up token is a new, empty conversation; a malformed one is refused.
    stranger = await Window.open(server.ws_url, token="A" * 43, after=0)
    assert await stranger.quiet() == [] and stranger.ready["ticket"] is None
    async with connect(server.ws_url) as socket:
        await socket.send(json.dumps({"type": "hello", "token": "ani", "after": 0}))
        refused = json.loads(await socket.recv())
        assert refused["type"] == "error" and refused["code"] == "bad_token"
    for window in (ani, budi, again, stranger):
        await window.close()


async def test_limits_give_clear_error_frames_and_store_nothing(chat: Chat) -> None:
    server = chat.start(max_message_chars=50, messages_per_minute_per_token=3,
                        attachment_max_bytes=1024)
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    assert window.ready["limits"]["max_message_chars"] == 50
    long = await window.say("x" * 51, "long-0001")
    assert long["code"] == "too_long" and "50" in long["message"]
    wrong_type = await window.say("", "file-0001", attachment={
        "name": "a.exe", "type": "application/x-msdownload",
        "data": base64.b64encode(b"MZ").decode()})
    assert wrong_type["code"] == "attachment_type"
    disguised = await window.say("", "file-0002", attachment={
        "name": "foto.png", "type": "image/png",
        "data": base64.b64encode(b"<script>alert(1)</script>").decode()})
    assert disguised["code"] == "attachment_type"
    huge = await window.say("", "file-0003", attachment={
        "name": "besar.png", "type": "image/png",
        "data": base64.b64encode(PNG + b"\x00" * 2048).decode()})
    assert huge["code"] == "attachment_size"
    assert count(services, Message) == 0

    ok = await window.say("Ini fotonya", "file-0004", attachment={
        "name": "../../etc/foto.png", "type": "image/png", "data": base64.b64encode(PNG).decode()})
    assert ok["type"] == "ack"
    line = await window.line("Ini fotonya")
    assert line["attachments"] == [{"name": "foto.png", "type": "image/png", "size": len(PNG)}]
    with services.store.read() as session:
        stored = session.exec(select(Attachment)).one()
    assert stored.filename == "foto.png" and services.files.read(stored.sha256) == PNG

    await window.say("dua", "rate-0002")
    await window.say("tiga", "rate-0003")
    limited = await window.say("empat", "rate-0004")
    assert limited["code"] == "rate_limited" and limited["retry_after"] > 0
    assert count(services, Message) == 3
    await window.send({"type": "nonsense"})
    bad = await window.expect(lambda f: f["type"] == "error")
    assert bad["code"] == "bad_frame" and "unknown frame type" in bad["detail"]
    await window.close()


async def test_messages_per_minute_per_address_cover_every_token(chat: Chat) -> None:
    server = chat.start(messages_per_minute_per_ip=2)
    windows = [await Window.open(server.ws_url) for _ in range(3)]
    answers = [await w.say(QUESTION, f"ip-limit-{i}") for i, w in enumerate(windows)]
    assert [a["type"] for a in answers] == ["ack", "ack", "error"]
    assert answers[2]["code"] == "rate_limited"
    for window in windows:
        await window.close()


async def test_reply_buttons_come_back_as_callbacks(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    ack = await window.say(QUESTION, "btn-00001")
    consultant_reply(services, ack["ticket"], "Apakah jawaban ini membantu?",
                     buttons=[ReplyButton("Ya", "faq:yes:1"), ReplyButton("Tidak", "faq:no:1")])
    await services.dispatcher.dispatch_due()
    asked = await window.line("Apakah jawaban ini membantu?")
    assert asked["buttons"] == [{"label": "Ya", "data": "faq:yes:1"},
                                {"label": "Tidak", "data": "faq:no:1"}]
    await window.send({"type": "button", "id": "btn-00002", "label": "Ya", "data": "faq:yes:1"})
    clicked = await window.expect(lambda f: f["type"] == "ack")
    with services.store.read() as session:
        message = session.get_one(Message, clicked["seq"])
    assert message.text == "Ya" and message.meta["callback"] == "faq:yes:1"
    # Data nobody offered (a forged rating) is refused.
    await window.send({"type": "button", "id": "btn-00003", "label": "5", "data": "rate:5"})
    forged = await window.expect(lambda f: f["type"] == "error")
    assert forged["code"] == "unknown_button"
    await window.close()


async def test_profile_links_email_and_phone_to_the_resident(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    await window.say(QUESTION, "prof-0001", profile={
        "name": "Siti Aminah", "email": "Siti@Example.com", "phone": "0812-3456-7890"})
    with services.store.read() as session:
        contact = session.exec(select(Contact)).one()
        kinds = {i.kind: i.value for i in session.exec(
            select(ContactIdentity).where(ContactIdentity.contact_id == contact.id))}
    assert contact.name == "Siti Aminah"
    assert kinds["email"] == "siti@example.com" and kinds["phone"] == "+6281234567890"
    assert len(kinds["webchat"]) == 64  # the sha256 of the token
    await window.close()


async def test_script_in_a_message_comes_back_as_plain_text(chat: Chat) -> None:
    server = chat.start()
    window = await Window.open(server.ws_url)
    payload = '<img src=x onerror="alert(1)"><script>alert(2)</script> javascript:alert(3)'
    await window.say(payload, "xss-00001")
    line = await window.line(payload)
    assert line["text"] == payload  # data, not markup: the widget shows it as text
    await window.close()
    widget = (STATIC / "widget.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in widget, f"widget.js must not use {sink}"


async def test_origins_not_allowed_cannot_open_a_chat(chat: Chat) -> None:
    server = chat.start(allowed_origins=("https://jakarta.go.id",))
    with pytest.raises(InvalidStatus) as refused:
        await Window.open(server.ws_url, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    allowed = await Window.open(server.ws_url, origin="https://jakarta.go.id")
    own = await Window.open(server.ws_url, origin=server.url)
    await allowed.close()
    await own.close()


async def test_a_reply_sent_by_another_worker_arrives_by_polling(chat: Chat) -> None:
    server = chat.start()
    window = await Window.open(server.ws_url)
    ack = await window.say(QUESTION, "poll-0001")
    # Another worker: its own services (its own hub) on the same database.
    other = chat.build()
    consultant_reply(other, ack["ticket"], "Dari pekerja lain")
    assert await other.dispatcher.dispatch_due() == 1
    await window.line("Dari pekerja lain", within=5)
    await window.close()


async def test_notes_are_never_shown_to_the_resident(chat: Chat) -> None:
    server = chat.start()
    services = chat.services[0]
    window = await Window.open(server.ws_url)
    ack = await window.say(QUESTION, "note-0001")
    with services.store.write() as session:
        session.add(Message(ticket_id=parse_number(ack["ticket"]) or 0, direction=Direction.NOTE,
                            channel="webchat", external_id="note:1", author_kind="consultant",
                            text="Catatan internal: warga ini sering komplain"))
    consultant_reply(services, ack["ticket"], "Balasan resmi")
    await services.dispatcher.dispatch_due()
    await window.line("Balasan resmi")
    assert all("Catatan" not in f["text"] for f in window.lines)
    await window.close()


# -- HTTP: the page, the widget, suggestions ------------------------------------
@pytest.fixture
def http(chat: Chat) -> Callable[..., httpx.AsyncClient]:
    def make(**webchat: object) -> httpx.AsyncClient:
        services = chat.build(**webchat)
        transport = httpx.ASGITransport(app=create_app(services), client=("203.0.113.7", 5000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    return make


async def test_chat_page_and_widget_are_served(http: Callable[..., httpx.AsyncClient]) -> None:
    async with http() as client:
        page = await client.get("/chat")
        widget = await client.get("/widget.js")
        css = await client.get("/chat/widget.css")
    assert page.status_code == 200 and '<html lang="id">' in page.text
    assert "Tanya PTSP" in page.text and '<script src="/widget.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert widget.status_code == 200 and widget.headers["content-type"].startswith("text/java")
    assert "Ketik pertanyaan Anda..." in widget.text and "Kirim" in widget.text
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


async def test_suggest_returns_faq_answers(chat: Chat,
                                           http: Callable[..., httpx.AsyncClient]) -> None:
    async with http() as client:
        services = chat.services[-1]
        await asyncio.to_thread(services.knowledge.import_entries,
                                load_faq_files(starter_faq_dir()), source="starter")
        response = await client.get("/api/v1/suggest", params={"q": "gmn cara urus nib?"})
    assert response.status_code == 200
    found = response.json()
    assert 1 <= len(found) <= 3
    assert set(found[0]) == {"id", "question", "answer", "score"}
    assert "NIB" in found[0]["question"] or "NIB" in found[0]["answer"]
    assert response.headers["access-control-allow-origin"] == "*"


async def test_suggest_refuses_bad_queries_and_floods(
        config: Config, http: Callable[..., httpx.AsyncClient]) -> None:
    async with http(allowed_origins=("https://jakarta.go.id",)) as client:
        missing = await client.get("/api/v1/suggest")
        too_long = await client.get("/api/v1/suggest", params={"q": "a" * 501})
        bad_limit = await client.get("/api/v1/suggest", params={"q": "nib", "limit": "99"})
        cors = await client.get("/api/v1/suggest", params={"q": "nib"},
                                headers={"Origin": "https://jakarta.go.id"})
        assert missing.status_code == 400 and "missing q" in missing.json()["error"]
        assert too_long.status_code == 400 and "too long" in too_long.json()["error"]
        assert bad_limit.status_code == 400
        assert cors.headers["access-control-allow-origin"] == "https://jakarta.go.id"
        per_minute = config.knowledge_base.suggest_rate_per_minute
        responses = [await client.get("/api/v1/suggest", params={"q": "nib"})
                     for _ in range(per_minute)]
    assert [r.status_code for r in responses[:per_minute - 4]] == [200] * (per_minute - 4)
    assert responses[-1].status_code == 429 and int(responses[-1].headers["retry-after"]) >= 1
    assert "too many" in responses[-1].json()["error"]
