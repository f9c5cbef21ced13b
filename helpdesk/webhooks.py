"""Webhooks: signed JSON about ticket events, delivered through the outbox.

Each configured URL gets a POST per event it subscribed to (ticket.created,
ticket.assigned, ticket.replied, ticket.resolved, ticket.breached). The call is
an outbox item (channel "webhook", recipient the URL, text the JSON body)
written in the same transaction as the change it reports, so it is retried
with backoff like any reply and never reports a change that rolled back. The
body is signed with HMAC-SHA256 under the hook's secret when it is sent (the secret
stays out of the database); the adapter sends ``X-Tanya-Signature: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from helpdesk.config import WebhookConfig
from helpdesk.models import OutboxItem
from helpdesk.ticket_numbers import format_number

CHANNEL = "webhook"
EVENTS = ("ticket.created", "ticket.assigned", "ticket.replied", "ticket.resolved",
          "ticket.breached")


class TicketFacts(Protocol):
    """What a webhook tells of a ticket (a ticket row fits; so does a bulk
    import's row)."""

    @property
    def id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def channel(self) -> str: ...
    @property
    def queue_id(self) -> int | None: ...
    @property
    def assignee_id(self) -> int | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def subject(self) -> str: ...


def signature(secret: str, body: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


class Webhooks:
    def __init__(self, hooks: Sequence[WebhookConfig]) -> None:
        self.hooks = tuple(h for h in hooks if h.enabled and h.secret)

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def emit(self, session: Session, kind: str, ticket: TicketFacts, now: datetime,
             data: dict[str, Any] | None = None) -> int:
        """Queue one signed call per subscribed hook; returns how many."""
        if not self.hooks:
            return 0
        assert ticket.id is not None
        event: dict[str, Any] = {
            "id": uuid.uuid4().hex, "event": kind, "occurred_at": now.isoformat(),
            "ticket": {
                "number": format_number(ticket.id), "status": ticket.status,
                "channel": ticket.channel, "queue_id": ticket.queue_id,
                "assignee_id": ticket.assignee_id, "priority": ticket.priority,
                "category": ticket.category, "subject": ticket.subject,
            },
            "data": data or {},
        }
        body = json.dumps(event, ensure_ascii=False, sort_keys=True, default=str)
        queued = 0
        for hook in self.hooks:
            if hook.events and kind not in hook.events:
                continue
            session.add(OutboxItem(
                kind="webhook", channel=CHANNEL,
                idempotency_key=f"webhook:{hook.name}:{event['id']}",
                payload={"recipient": hook.url, "text": body, "subject": kind,
                         "ticket_number": format_number(ticket.id), "buttons": []},
                next_attempt_at=now, created_at=now))
            queued += 1
        return queued
