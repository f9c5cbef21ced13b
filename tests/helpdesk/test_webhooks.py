"""Webhooks: a ticket event reaches a real HTTP receiver on loopback, signed with
HMAC-SHA256, through the outbox with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlmodel import select

from helpdesk.bootstrap import build_services
from helpdesk.config import Config, WebhookConfig
from helpdesk.models import OutboxItem
from helpdesk.runners.wiring import wire_channels
from helpdesk.store import Store
from tests.helpdesk.factories import email_inquiry
from tests.servers.ports import free_port

SECRET = "rahasia-webhook"


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                else:
                    receiver.calls.append(({k.lower(): v for k, v in self.headers.items()},
                                           body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(5)


async def test_a_new_ticket_is_posted_signed_and_retried(config: Config, sqlite_url: str,
                                                         receiver: Receiver) -> None:
    hook = WebhookConfig(name="crm", url=receiver.url, secret=SECRET,
                         events=("ticket.created",))
    services = build_services(replace(config, webhooks=(hook,)), store=Store(sqlite_url))
    wire_channels(services)
    try:
        services.intake.receive(email_inquiry(1))
        receiver.fail_next = 1
        await services.dispatcher.dispatch_due()
        assert receiver.calls == []
        with services.store.write() as session:
            item = session.exec(select(OutboxItem).where(OutboxItem.channel == "webhook")).one()
            assert item.status == "pending" and "503" in (item.last_error or "")
            item.next_attempt_at = services.clock()
        await services.dispatcher.dispatch_due()
        assert len(receiver.calls) == 1
        headers, body = receiver.calls[0]
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-tanya-signature"] == f"sha256={expected}"
        event = json.loads(body)
        assert event["event"] == "ticket.created"
        assert event["ticket"]["number"].startswith("PTSP-")
    finally:
        for close in services.closers:
            await close()
        services.close()
