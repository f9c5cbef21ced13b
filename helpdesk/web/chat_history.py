"""What a web chat conversation shows: its messages read back from the store.

A conversation is every ticket whose conversation key is ``webchat:<id>``; its
lines are their web chat messages (the resident's and ours, never internal
notes), in id order. The id is the sequence number the widget resumes from.
Everything here is blocking database work: call it through ``Store.run``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import col, func, select

from channels.base import Channel
from helpdesk.models import Attachment, AuthorKind, Direction, Message, OutboxItem, Ticket, User
from helpdesk.store import Store
from helpdesk.ticket_numbers import format_number

_KEY_PREFIX = f"{Channel.WEBCHAT}:"


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One message as the resident's chat window may show it."""

    seq: int
    sender: Literal["resident", "agent", "bot"]
    text: str
    at: datetime
    external_id: str
    author: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, str, int], ...] = ()


def conversation_key(conversation: str) -> str:
    return _KEY_PREFIX + conversation


def _tickets(conversation: str) -> Any:
    return select(Ticket.id).where(Ticket.conversation_key == conversation_key(conversation))


def _shown(conversation: str) -> Any:
    """Messages of the conversation a resident may see.

    A resident's line must also carry the conversation in its external id: if
    a consultant merges someone else's chat into this ticket, that person's
    words stay out of this window.
    """
    return sa.and_(
        col(Message.ticket_id).in_(_tickets(conversation)),
        col(Message.channel) == Channel.WEBCHAT,
        sa.or_(
            col(Message.direction) == Direction.OUT,
            sa.and_(col(Message.direction) == Direction.IN,
                    col(Message.external_id).startswith(conversation + ":", autoescape=True)),
        ),
    )


def conversation_lines(store: Store, conversation: str, after: int,
                       limit: int = 200) -> list[HistoryLine]:
    """The conversation's lines with a sequence number above ``after``, oldest first."""
    with store.read() as session:
        rows = session.exec(
            select(Message, OutboxItem.payload, User.name)
            .outerjoin(OutboxItem, sa.and_(col(OutboxItem.message_id) == col(Message.id),
                                           col(OutboxItem.kind) == "reply"))
            .outerjoin(User, col(User.id) == col(Message.author_user_id))
            .where(_shown(conversation), col(Message.id) > after)
            .order_by(col(Message.id)).limit(limit)
        ).all()
        ids = [m.id for m, _, _ in rows if m.direction == Direction.IN and m.id is not None]
        files: dict[int, list[tuple[str, str, int]]] = {}
        if ids:
            for a in session.exec(select(Attachment).where(col(Attachment.message_id).in_(ids))
                                  .order_by(col(Attachment.id))):
                files.setdefault(a.message_id, []).append((a.filename, a.content_type, a.size))
    return [_line(m, payload, author, files) for m, payload, author in rows]


def _line(message: Message, payload: Mapping[str, Any] | None, author: str | None,
          files: dict[int, list[tuple[str, str, int]]]) -> HistoryLine:
    assert message.id is not None
    if message.direction == Direction.IN:
        return HistoryLine(seq=message.id, sender="resident", text=message.text,
                           at=message.created_at, external_id=message.external_id,
                           attachments=tuple(files.get(message.id, ())))
    return HistoryLine(seq=message.id,
                       sender="bot" if message.author_kind == AuthorKind.BOT else "agent",
                       text=message.text, at=message.created_at,
                       external_id=message.external_id, author=author or None,
                       buttons=_buttons(payload))


def _buttons(payload: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for button in (payload or {}).get("buttons") or ():
        label, data = button.get("label"), button.get("data")
        # Link buttons (signed email URLs) mean nothing in a chat window.
        if isinstance(label, str) and isinstance(data, str) and not button.get("url"):
            found.append((label, data))
    return tuple(found)


def offered_buttons(store: Store, conversation: str, recent: int = 20) -> set[str]:
    """Callback data of the buttons our recent messages offered in this conversation.

    A button frame is accepted only for data we offered, so a resident cannot
    forge an answer to a question nobody asked.
    """
    with store.read() as session:
        payloads = session.exec(
            select(OutboxItem.payload)
            .join(Message, col(Message.id) == col(OutboxItem.message_id))
            .where(_shown(conversation), col(Message.direction) == Direction.OUT,
                   col(OutboxItem.kind) == "reply")
            .order_by(col(Message.id).desc()).limit(recent)
        ).all()
    return {data for payload in payloads for _, data in _buttons(payload)}


def current_ticket(store: Store, conversation: str) -> str | None:
    """The number of the conversation's newest ticket, shown in the widget's header."""
    with store.read() as session:
        ticket_id = session.exec(
            _tickets(conversation).where(col(Ticket.merged_into_id).is_(None))
            .order_by(col(Ticket.id).desc()).limit(1)
        ).first()
    return format_number(ticket_id) if ticket_id is not None else None


def changed_since(store: Store, mark: int | None) -> tuple[int, dict[str, int]]:
    """(newest message id, {conversation: newest id} for web chat messages above ``mark``)."""
    with store.read() as session:
        newest = session.exec(select(func.max(Message.id))).one() or 0
        if mark is None or newest <= mark:
            return newest, {}
        rows = session.exec(
            select(Ticket.conversation_key, func.max(Message.id))
            .join(Message, col(Message.ticket_id) == col(Ticket.id))
            .where(col(Message.id) > mark, col(Message.id) <= newest,
                   col(Message.channel) == Channel.WEBCHAT,
                   col(Message.direction) != Direction.NOTE)
            .group_by(col(Ticket.conversation_key))
        ).all()
    return newest, {key[len(_KEY_PREFIX):]: int(top) for key, top in rows
                    if key and key.startswith(_KEY_PREFIX) and top is not None}
