"""Greetings for a resident who opens a chat (Telegram's /start) before asking anything.

A greeting opens no ticket: nobody has asked anything yet. The resident becomes a
known contact, so their first question is recognised, and the greeting goes out
through the outbox like every other message to a resident. A replayed /start
(a restart before the channel's offset was saved) queues nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from channels.base import Inquiry, ReceiveOutcome
from helpdesk.contacts import find_or_create_contact
from helpdesk.identities import InvalidIdentity
from helpdesk.models import OutboxItem
from helpdesk.store import Store


def wants_greeting(inquiry: Inquiry) -> bool:
    return inquiry.meta.get("command") == "start" and bool(inquiry.meta.get("greeting"))


def queue_greeting(store: Store, inquiry: Inquiry, now: datetime) -> ReceiveOutcome:
    key = f"greeting:{inquiry.channel}:{inquiry.external_id}"[:200]

    def work(session: Session) -> bool:
        try:
            find_or_create_contact(session, inquiry.sender, now=now)
        except InvalidIdentity:
            pass  # the greeting still goes out; the contact comes with their question
        session.add(OutboxItem(
            kind="greeting", channel=inquiry.channel, idempotency_key=key,
            next_attempt_at=now, created_at=now,
            payload={"recipient": inquiry.sender.value,
                     "conversation_id": inquiry.thread.conversation_id,
                     "text": str(inquiry.meta["greeting"]), "subject": None, "html": None,
                     "message_id": None, "ticket_number": "", "in_reply_to": None,
                     "references": [], "automatic": True, "buttons": []},
        ))
        session.flush()
        return True

    try:
        store.write_retrying(work, attempts=1)
        duplicate = False
    except IntegrityError:
        duplicate = True
    return ReceiveOutcome(ticket_number="", message_id=0, created=False, duplicate=duplicate)
