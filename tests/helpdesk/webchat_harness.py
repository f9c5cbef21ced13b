"""The real app under uvicorn on a loopback port, and a resident's chat window
as a ``websockets`` client, for the web chat tests and the benchmark."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from channels.base import ReplyButton
from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config
from helpdesk.models import AuthorKind, Ticket
from helpdesk.outbox import queue_reply
from helpdesk.store import Store
from helpdesk.ticket_numbers import parse_number
from helpdesk.web.app import create_app
from tests.servers.ports import free_port


class LiveServer:
    """uvicorn in a thread; ``stop`` waits for it to finish."""

    def __init__(self, services: Services, *, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(create_app(services), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on", ws="websockets-sansio",
                                ws_ping_interval=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}",
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/chat/ws"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        if self.thread.is_alive():
            raise RuntimeError("uvicorn did not stop")


def chat_services(config: Config, store: Store, **webchat: Any) -> Services:
    """Services whose web chat settings are changed by ``webchat``."""
    channels = replace(config.channels, webchat=replace(config.channels.webchat, **webchat))
    return build_services(replace(config, channels=channels), store=store)


class Window:
    """One resident's chat window: a socket plus what it has received."""

    def __init__(self, socket: ClientConnection, ready: dict[str, Any], token: str) -> None:
        self.socket = socket
        self.ready = ready
        self.token = token
        self.last_seq = 0
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, ws_url: str, token: str | None = None, after: int = 0,
                   origin: str | None = None) -> Window:
        headers = {"Origin": origin} if origin else None
        socket = await connect(ws_url, additional_headers=headers, max_size=2**24,
                               open_timeout=10, ping_interval=None)
        await socket.send(json.dumps({"type": "hello", "token": token, "after": after}))
        ready = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert ready["type"] == "ready", ready
        window = cls(socket, ready, token or ready["token"])
        window.last_seq = after
        return window

    async def send(self, frame: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(frame))

    async def say(self, text: str, client_id: str, **extra: Any) -> dict[str, Any]:
        """Send a message and return the frame that answers it (ack or error)."""
        await self.send({"type": "message", "id": client_id, "text": text, **extra})
        return await self.expect(lambda f: f["type"] in ("ack", "error")
                                 and f.get("id") == client_id)

    async def next(self, within: float = 5.0) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), within))
        if frame["type"] == "message":
            assert frame["seq"] > self.last_seq, "sequence numbers must only grow"
            self.last_seq = frame["seq"]
            self.lines.append(frame)
        return frame

    async def expect(self, wanted: Callable[[dict[str, Any]], bool],
                     within: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            frame = await self.next(max(0.01, deadline - time.monotonic()))
            if wanted(frame):
                return frame

    async def line(self, text: str, within: float = 5.0) -> dict[str, Any]:
        return await self.expect(lambda f: f["type"] == "message" and f["text"] == text,
                                 within)

    async def quiet(self, seconds: float = 0.3) -> list[dict[str, Any]]:
        """Frames that arrive within ``seconds`` (usually none)."""
        frames = []
        try:
            while True:
                frames.append(await self.next(seconds))
        except TimeoutError:
            return frames

    async def close(self) -> None:
        await self.socket.close()


def consultant_reply(services: Services, ticket_number: str, text: str,
                     buttons: Sequence[ReplyButton] = ()) -> int:
    """Queue a consultant's reply the way the workspace does; returns its message id."""
    ticket_id = parse_number(ticket_number)
    assert ticket_id is not None
    with services.store.write() as session:
        ticket = session.get_one(Ticket, ticket_id)
        message = queue_reply(session, ticket, text, now=services.clock(),
                              author_kind=AuthorKind.CONSULTANT, buttons=buttons)
        assert message.id is not None
        return message.id
