"""What a web chat conversation shows: its messages read back from the store.

A conversation is every ticket whose conversation key is ``webchat:<id>``; its
lines are their web chat messages (the resident's and ours, never internal
notes), in id order. The id is the sequence number the widget resumes from.

Every open chat window reads here after each notice, so the statements are
built once and run on a plain connection (an ORM query built per call cost more
than the database work). Everything here is blocking: the chat reads it through
:class:`helpdesk.web.chat_reader.ChatReader`, off the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from channels.base import Channel
from helpdesk.models import Attachment, AuthorKind, Direction, Message, OutboxItem, Ticket, User
from helpdesk.ticket_numbers import format_number

_KEY_PREFIX = f"{Channel.WEBCHAT}:"

_a = Attachment.__table__.c  # type: ignore[attr-defined]
_m = Message.__table__.c  # type: ignore[attr-defined]
_o = OutboxItem.__table__.c  # type: ignore[attr-defined]
_t = Ticket.__table__.c  # type: ignore[attr-defined]
_u = User.__table__.c  # type: ignore[attr-defined]

# Not a plain ``channel = 'webchat'``: without planner statistics SQLite takes
# that term to the (channel, external_id) unique index and walks every web chat
# message ever stored (measured: 1.3 ms a read with 2,000 messages, growing
# with the table) instead of the conversation's tickets through
# (ticket_id, id), 0.02 ms. An expression is no index key, so the good plan is
# the only one left; PostgreSQL plans it the same way.
_WEBCHAT = (_m.channel + "") == str(Channel.WEBCHAT)

_CONVERSATION_TICKETS = sa.select(_t.id).where(_t.conversation_key == sa.bindparam("key"))

# Messages of the conversation a resident may see. A resident's line must also
# carry the conversation in its external id: if a consultant merges someone
# else's chat into this ticket, that person's words stay out of this window.
_SHOWN = sa.and_(
    _m.ticket_id.in_(_CONVERSATION_TICKETS),
    _WEBCHAT,
    sa.or_(_m.direction == str(Direction.OUT),
           sa.and_(_m.direction == str(Direction.IN),
                   _m.external_id.like(sa.bindparam("own"), escape="/"))),
)

LINES = (
    sa.select(_m.id, _m.direction, _m.author_kind, _m.text, _m.created_at, _m.external_id,
              _o.payload, _u.name)
    .select_from(
        Message.__table__  # type: ignore[attr-defined]
        .outerjoin(OutboxItem.__table__,  # type: ignore[attr-defined]
                   sa.and_(_o.message_id == _m.id, _o.kind == "reply"))
        .outerjoin(User.__table__, _u.id == _m.author_user_id))  # type: ignore[attr-defined]
    .where(_SHOWN, _m.id > sa.bindparam("after"))
    .order_by(_m.id).limit(sa.bindparam("limit"))
)
FILES = (
    sa.select(_a.message_id, _a.filename, _a.content_type, _a.size)
    .where(_a.message_id.in_(sa.bindparam("ids", expanding=True))).order_by(_a.id)
)
OFFERED = (
    sa.select(_o.payload)
    .join_from(OutboxItem.__table__, Message.__table__,  # type: ignore[attr-defined]
               _m.id == _o.message_id)
    .where(_SHOWN, _m.direction == str(Direction.OUT), _o.kind == "reply")
    .order_by(_m.id.desc()).limit(sa.bindparam("limit"))
)
CURRENT_TICKET = (
    sa.select(_t.id)
    .where(_t.conversation_key == sa.bindparam("key"), _t.merged_into_id.is_(None))
    .order_by(_t.id.desc()).limit(1)
)
NEWEST_MESSAGE = sa.select(sa.func.max(_m.id))
# Read by id range (the primary key), which is what the poll narrows by.
CHANGED = (
    sa.select(_t.conversation_key, sa.func.max(_m.id))
    .join_from(Message.__table__, Ticket.__table__,  # type: ignore[attr-defined]
               _m.ticket_id == _t.id)
    .where(_m.id > sa.bindparam("mark"), _m.id <= sa.bindparam("newest"), _WEBCHAT,
           _m.direction != str(Direction.NOTE))
    .group_by(_t.conversation_key)
)


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


def _conversation(conversation: str) -> dict[str, str]:
    """The parameters of :data:`_SHOWN` for one conversation."""
    own = conversation.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return {"key": conversation_key(conversation), "own": own + ":%"}


def conversation_lines(conn: Connection, conversation: str, after: int,
                       limit: int = 200) -> list[HistoryLine]:
    """The conversation's lines with a sequence number above ``after``, oldest first."""
    rows = conn.execute(LINES, {**_conversation(conversation), "after": after,
                                "limit": limit}).all()
    ids = [row.id for row in rows if row.direction == Direction.IN]
    files: dict[int, list[tuple[str, str, int]]] = {}
    if ids:
        for message_id, filename, content_type, size in conn.execute(FILES, {"ids": ids}):
            files.setdefault(message_id, []).append((filename, content_type, size))
    return [_line(row, files) for row in rows]


def _line(row: Any, files: dict[int, list[tuple[str, str, int]]]) -> HistoryLine:
    if row.direction == Direction.IN:
        return HistoryLine(seq=row.id, sender="resident", text=row.text,
                           at=row.created_at, external_id=row.external_id,
                           attachments=tuple(files.get(row.id, ())))
    return HistoryLine(seq=row.id,
                       sender="bot" if row.author_kind == AuthorKind.BOT else "agent",
                       text=row.text, at=row.created_at,
                       external_id=row.external_id, author=row.name or None,
                       buttons=_buttons(row.payload))


def _buttons(payload: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for button in (payload or {}).get("buttons") or ():
        label, data = button.get("label"), button.get("data")
        # Link buttons (signed email URLs) mean nothing in a chat window.
        if isinstance(label, str) and isinstance(data, str) and not button.get("url"):
            found.append((label, data))
    return tuple(found)


def offered_buttons(conn: Connection, conversation: str, recent: int = 20) -> set[str]:
    """Callback data of the buttons our recent messages offered in this conversation.

    A button frame is accepted only for data we offered, so a resident cannot
    forge an answer to a question nobody asked.
    """
    payloads = conn.execute(OFFERED, {**_conversation(conversation), "limit": recent}).scalars()
    return {data for payload in payloads for _, data in _buttons(payload)}


def current_ticket(conn: Connection, conversation: str) -> str | None:
    """The number of the conversation's newest ticket, shown in the widget's header."""
    ticket_id = conn.execute(CURRENT_TICKET, {"key": conversation_key(conversation)}).scalar()
    return format_number(ticket_id) if ticket_id is not None else None


def changed_since(conn: Connection, mark: int | None) -> tuple[int, dict[str, int]]:
    """(newest message id, {conversation: newest id} for web chat messages above ``mark``)."""
    newest = conn.execute(NEWEST_MESSAGE).scalar() or 0
    if mark is None or newest <= mark:
        return newest, {}
    rows = conn.execute(CHANGED, {"mark": mark, "newest": newest}).all()
    return newest, {key[len(_KEY_PREFIX):]: int(top) for key, top in rows
                    if key and key.startswith(_KEY_PREFIX) and top is not None}
