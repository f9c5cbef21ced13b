"""Web chat wiring: one resident's WebSocket, between the widget and the core.

The session reads the widget's frames (``channels.webchat`` validates them),
hands messages to intake, and keeps the window up to date from the store: on
connect everything after the sequence number the widget last saw, then
whatever the hub says is new. Nothing is sent from memory, so a reply stored
by any worker, before or after a dropped connection, reaches the window once
and in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from channels.webchat import (
    ButtonFrame,
    ChatLine,
    FrameError,
    Hello,
    Limits,
    MessageFrame,
    Ping,
    client_id_of,
    conversation_id,
    error_frame,
    inquiry_from_frame,
    line_frame,
    new_token,
    parse_frame,
)
from helpdesk.bootstrap import Services
from helpdesk.config import WebchatConfig
from helpdesk.intake import RejectedInquiry
from helpdesk.web.chat_history import (
    HistoryLine,
    changed_since,
    conversation_lines,
    current_ticket,
    offered_buttons,
)
from helpdesk.web.chat_hub import Watcher
from helpdesk.web.chat_limits import RateLimiter
from helpdesk.web.chat_reader import ChatReader

log = logging.getLogger(__name__)

HELLO_TIMEOUT_SECONDS = 15.0
BATCH = 200
# Policy violation: a refused origin or a malformed first frame.
CLOSE_POLICY = 1008

# What the resident reads, by error code; the English reason goes along as detail.
MESSAGES = {
    "bad_frame": "Pesan tidak dapat diproses. Muat ulang halaman lalu coba lagi.",
    "bad_token": "Sesi obrolan tidak valid. Obrolan baru akan dimulai.",
    "too_large": "Pesan atau berkas terlalu besar.",
    "too_long": "Pesan terlalu panjang (maksimal {max_chars} karakter).",
    "empty": "Pesan masih kosong.",
    "bad_profile": "Data diri tidak valid.",
    "bad_email": "Alamat email tidak valid.",
    "bad_phone": "Nomor telepon tidak valid.",
    "bad_attachment": "Berkas tidak dapat dibaca.",
    "attachment_type": "Jenis berkas tidak diterima. Kirim {types}.",
    "attachment_size": "Berkas terlalu besar (maksimal {max_mb} MB).",
    "rate_limited": "Terlalu banyak pesan. Coba lagi dalam {wait} detik.",
    "unknown_button": "Pilihan ini tidak berlaku lagi.",
    "rejected": "Pesan tidak dapat diterima.",
    "server_error": "Maaf, terjadi gangguan. Pesan Anda akan dikirim ulang otomatis.",
    "hello_first": "Sesi obrolan belum dimulai.",
}


@dataclass
class WebchatGuards:
    """Per-process limits shared by every window (see ``chat_limits``)."""

    per_token: RateLimiter
    per_ip: RateLimiter

    @classmethod
    def from_config(cls, config: WebchatConfig) -> WebchatGuards:
        return cls(RateLimiter(config.messages_per_minute_per_token),
                   RateLimiter(config.messages_per_minute_per_ip))


def limits_of(config: WebchatConfig) -> Limits:
    return Limits(max_message_chars=config.max_message_chars,
                  attachment_max_bytes=config.attachment_max_bytes,
                  attachment_types=tuple(config.attachment_types))


def guards_of(websocket: WebSocket, config: WebchatConfig) -> WebchatGuards:
    state = websocket.app.state
    guards: WebchatGuards | None = getattr(state, "webchat_guards", None)
    if guards is None:
        guards = WebchatGuards.from_config(config)
        state.webchat_guards = guards
    return guards


def reader_of(websocket: WebSocket, services: Services) -> ChatReader:
    """The reader every window of this app shares (one per event loop)."""
    state = websocket.app.state
    reader: ChatReader | None = getattr(state, "webchat_reader", None)
    if reader is None or reader.loop is not asyncio.get_running_loop():
        reader = ChatReader(services.store)
        state.webchat_reader = reader
    return reader


def origin_allowed(origin: str | None, allowed: Iterable[str], own: Iterable[str]) -> bool:
    """Pages allowed to open a chat: the configured ones and the help desk itself.

    With nothing configured any page may embed the widget.
    """
    allowed = {o.rstrip("/").lower() for o in allowed}
    if not allowed:
        return True
    if origin is None:
        return False
    origin = origin.rstrip("/").lower()
    return origin in allowed or origin in {o.rstrip("/").lower() for o in own}


def own_origins(websocket: WebSocket, base_url: str) -> list[str]:
    host = websocket.headers.get("host", "")
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    origins = [f"{scheme}://{host}"] if host else []
    if "://" in base_url:
        scheme, rest = base_url.split("://", 1)
        origins.append(f"{scheme}://{rest.split('/', 1)[0]}")
    return origins


async def chat_socket(websocket: WebSocket) -> None:
    """``WS /chat/ws``: one resident's chat window."""
    services: Services = websocket.app.state.services
    config = services.config.channels.webchat
    origin = websocket.headers.get("origin")
    if not config.enabled or not origin_allowed(
            origin, config.allowed_origins, own_origins(websocket, services.config.app.base_url)):
        # Closing before accepting refuses the handshake with 403.
        await websocket.close(code=CLOSE_POLICY)
        return
    await websocket.accept()
    session = ChatSession(websocket, services, guards_of(websocket, config),
                          reader_of(websocket, services))
    try:
        await session.run()
    except WebSocketDisconnect:
        pass
    finally:
        if websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


class ChatSession:
    def __init__(self, websocket: WebSocket, services: Services, guards: WebchatGuards,
                 reader: ChatReader) -> None:
        self.websocket = websocket
        self.services = services
        self.reader = reader
        self.config = services.config.channels.webchat
        self.limits = limits_of(self.config)
        self.guards = guards
        self.ip = websocket.client.host if websocket.client else "unknown"
        self.conversation = ""
        self.last_sent = 0
        self.watcher: Watcher | None = None
        self._send_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()

    async def run(self) -> None:
        hello = await self._hello()
        if hello is None:
            return
        token = hello.token or new_token()
        self.conversation = conversation_id(token)
        self.last_sent = hello.after
        # A token made just now names a conversation with nothing in it yet:
        # no ticket to show and no history to read (reads that add up when
        # many windows open at once).
        fresh = hello.token is None
        ticket = None if fresh else await self.reader.read(
            partial(current_ticket, conversation=self.conversation))
        ready: dict[str, Any] = {
            "type": "ready", "ticket": ticket,
            "limits": {"max_message_chars": self.limits.max_message_chars,
                       "attachment_max_bytes": self.limits.attachment_max_bytes,
                       "attachment_types": list(self.limits.attachment_types)}}
        if hello.token is None:
            ready["token"] = token  # only ever sent to the browser that keeps it
        await self.send(ready)
        # The hub's poll may outlive this window: it holds the reader, not the session.
        poll = partial(_changes, self.reader)
        with self.services.chat_hub.watch(self.conversation, poll) as watcher:
            self.watcher = watcher
            if not fresh:
                await self.flush()
            pusher = asyncio.create_task(self._push(watcher.wait), name="webchat-push")
            try:
                await self._receive()
            finally:
                pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pusher

    async def _hello(self) -> Hello | None:
        try:
            async with asyncio.timeout(HELLO_TIMEOUT_SECONDS):
                raw = await self._next_frame()
        except TimeoutError:
            await self.websocket.close(code=CLOSE_POLICY, reason="no hello frame")
            return None
        if raw is None:
            return None
        try:
            frame = parse_frame(raw, self.limits)
        except FrameError as exc:
            await self.error(exc.code, exc.reason)
            await self.websocket.close(code=CLOSE_POLICY, reason=exc.code)
            return None
        if not isinstance(frame, Hello):
            await self.error("hello_first", "the first frame must be a hello")
            await self.websocket.close(code=CLOSE_POLICY, reason="hello_first")
            return None
        return frame

    async def _next_frame(self) -> str | bytes | None:
        message = await self.websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text: str | None = message.get("text")
        return text if text is not None else message.get("bytes") or b""

    async def _receive(self) -> None:
        while True:
            raw = await self._next_frame()
            if raw is None:
                return
            try:
                frame = parse_frame(raw, self.limits)
            except FrameError as exc:
                hint = _client_id_hint(raw, self.limits.max_frame_chars)
                await self.error(exc.code, exc.reason, client_id=hint)
                continue
            if isinstance(frame, Ping):
                await self.send({"type": "pong"})
            elif isinstance(frame, Hello):
                await self.error("bad_frame", "hello was already received")
            else:
                await self._accept(frame)

    async def _accept(self, frame: MessageFrame | ButtonFrame) -> None:
        wait = self.guards.per_ip.take(self.ip) or self.guards.per_token.take(self.conversation)
        if wait is not None:
            await self.error("rate_limited", "too many messages", client_id=frame.client_id,
                             retry_after=wait)
            return
        if isinstance(frame, ButtonFrame):
            offered = await self.reader.read(
                partial(offered_buttons, conversation=self.conversation))
            if frame.data not in offered:
                await self.error("unknown_button", "that button was not offered here",
                                 client_id=frame.client_id)
                return
        inquiry = inquiry_from_frame(frame, conversation=self.conversation,
                                     received_at=self.services.clock())
        try:
            outcome = await self.services.intake(inquiry)
        except RejectedInquiry as exc:
            await self.error("rejected", str(exc), client_id=frame.client_id)
            return
        except Exception:  # the widget keeps the message and sends it again
            log.exception("web chat message could not be stored")
            await self.error("server_error", "the message could not be stored",
                             client_id=frame.client_id)
            return
        await self.send({"type": "ack", "id": frame.client_id, "seq": outcome.message_id,
                         "ticket": outcome.ticket_number, "duplicate": outcome.duplicate})
        await self.flush()
        # Other windows on the same conversation (a second tab); this one has
        # just shown the message and is not woken to read the store again. An
        # automatic answer the ticket policy may have queued comes through the
        # outbox, which announces it.
        self.services.chat_hub.announce(self.conversation, outcome.message_id)
        self.services.dispatcher.wakeup.set()

    async def _push(self, wait: Callable[[], Awaitable[None]]) -> None:
        while True:
            await wait()
            try:
                await self.flush(urgent=True)
            except (WebSocketDisconnect, RuntimeError):
                return
            except Exception:
                log.exception("web chat push failed; the next notice retries")

    async def flush(self, *, urgent: bool = False) -> None:
        """Send every line after the last one sent, in order.

        ``urgent``: the hub said something new is here (a reply), so the read
        goes ahead of routine ones (backlogs of windows opening, echoes).
        """
        async with self._flush_lock:
            while True:
                lines = await self.reader.read(partial(
                    conversation_lines, conversation=self.conversation, after=self.last_sent,
                    limit=BATCH), urgent=urgent)
                for line in lines:
                    await self.send(line_frame(self._chat_line(line)))
                    self.last_sent = line.seq
                if self.watcher is not None:
                    self.watcher.seen = self.last_sent
                if len(lines) < BATCH:
                    return

    def _chat_line(self, line: HistoryLine) -> ChatLine:
        client_id = (client_id_of(line.external_id, self.conversation)
                     if line.sender == "resident" else None)
        return ChatLine(seq=line.seq, sender=line.sender, text=line.text, at=line.at,
                        client_id=client_id, author=line.author, buttons=line.buttons,
                        attachments=line.attachments)

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def error(self, code: str, detail: str, *, client_id: str | None = None,
                    retry_after: float | None = None) -> None:
        text = MESSAGES.get(code, MESSAGES["bad_frame"]).format(
            max_chars=self.limits.max_message_chars,
            types=", ".join(t.split("/")[-1].upper() for t in self.limits.attachment_types),
            max_mb=round(self.limits.attachment_max_bytes / 1_048_576, 1),
            wait=max(1, round(retry_after or 0)))
        frame = error_frame(code, text, client_id=client_id, retry_after=retry_after)
        frame["detail"] = detail
        await self.send(frame)


async def _changes(reader: ChatReader, mark: int | None) -> tuple[int, Mapping[str, int]]:
    """The hub's database poll, read beside the windows' reads."""
    return await reader.read(partial(changed_since, mark=mark))


def _client_id_hint(raw: str | bytes, limit: int) -> str | None:
    """The widget's message id of a refused frame, so it can mark that message."""
    if isinstance(raw, bytes) or len(raw) > limit:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None
