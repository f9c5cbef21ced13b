"""Web chat: the widget's JSON frames to and from :class:`Inquiry` and chat lines.

A resident chats without an account. The widget keeps an unguessable token in
the browser; the help desk only ever sees its sha256, the conversation id, so a
leaked database does not let anyone write or read as a resident.

Frames from the widget (JSON text frames)::

    {"type": "hello", "token": "<token>" | null, "after": <last seq seen>}
    {"type": "message", "id": "<client message id>", "text": "...",
     "profile": {"name": "...", "email": "...", "phone": "..."},      (optional)
     "attachment": {"name": "...", "type": "image/png", "data": "<base64>"}}  (optional)
    {"type": "button", "id": "<client message id>", "label": "Ya", "data": "<callback>"}
    {"type": "ping"}

This module validates and converts them and nothing else; the core decides
what a message means. It imports the standard library and ``channels.base`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from channels.base import (
    AttachmentData,
    Channel,
    DeliveryReceipt,
    Identity,
    IdentityKind,
    Inquiry,
    InvalidInput,
    Reply,
    ThreadHints,
)

__all__ = [
    "ButtonFrame",
    "ChatLine",
    "FrameError",
    "Hello",
    "Limits",
    "MessageFrame",
    "Ping",
    "Profile",
    "WebchatSender",
    "conversation_id",
    "error_frame",
    "inquiry_from_frame",
    "line_frame",
    "new_token",
    "parse_frame",
]

# secrets.token_urlsafe(32): 32 random bytes, 43 URL-safe base64 characters.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_NAME_CHARS = 100
MAX_BUTTON_CHARS = 200
# Signatures of the types residents may send; a file whose bytes disagree with
# its declared type is refused (a script renamed to .png stays out).
_MAGIC: Mapping[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one resident may send; from the help desk's webchat configuration."""

    max_message_chars: int = 2000
    attachment_max_bytes: int = 5_242_880
    attachment_types: tuple[str, ...] = ("image/png", "image/jpeg", "application/pdf")

    @property
    def max_frame_chars(self) -> int:
        """The largest text frame worth parsing: one base64 attachment plus text."""
        return (self.attachment_max_bytes * 4) // 3 + 4 * self.max_message_chars + 16_384


@dataclass(frozen=True, slots=True)
class Hello:
    token: str | None
    after: int


@dataclass(frozen=True, slots=True)
class Profile:
    """What the resident chose to tell about themselves in the widget."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class MessageFrame:
    client_id: str
    text: str
    profile: Profile | None = None
    attachment: AttachmentData | None = None


@dataclass(frozen=True, slots=True)
class ButtonFrame:
    client_id: str
    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Frame = Hello | MessageFrame | ButtonFrame | Ping


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One message of a conversation as the widget shows it.

    ``seq`` is the stored message's id: monotonic, so "everything after the
    last seq I saw" is how a widget resumes.
    """

    seq: int
    sender: Literal["resident", "agent", "bot"]
    text: str
    at: datetime
    client_id: str | None = None
    author: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()
    attachments: tuple[tuple[str, str, int], ...] = field(default=())


class FrameError(InvalidInput):
    """A frame the widget should not have sent; ``code`` lets it say why in its language."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def new_token() -> str:
    return secrets.token_urlsafe(32)


def conversation_id(token: str) -> str:
    """The conversation a token opens: its sha256, the only form ever stored."""
    if not _TOKEN.fullmatch(token):
        raise FrameError("bad_token", "the chat token is malformed; start a new chat")
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def parse_frame(raw: str | bytes, limits: Limits) -> Frame:
    """One frame from the widget, validated; :class:`InvalidInput` says what is wrong."""
    if isinstance(raw, bytes):
        raise FrameError("bad_frame", "send JSON text frames, not binary frames")
    if len(raw) > limits.max_frame_chars:
        raise FrameError("too_large", f"frame too large ({len(raw)} characters)")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise FrameError("bad_frame", f"frame is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame is a JSON object with a 'type'")
    kind = data.get("type")
    if kind == "hello":
        return _hello(data)
    if kind == "message":
        return _message(data, limits)
    if kind == "button":
        return ButtonFrame(client_id=_client_id(data),
                           label=_short_text(data, "label", MAX_BUTTON_CHARS),
                           data=_short_text(data, "data", MAX_BUTTON_CHARS))
    if kind == "ping":
        return Ping()
    raise FrameError("bad_frame",
                     f"unknown frame type {kind!r}: expected hello, message, button or ping")


def _hello(data: Mapping[str, Any]) -> Hello:
    token = data.get("token")
    if token is not None and not (isinstance(token, str) and _TOKEN.fullmatch(token)):
        raise FrameError("bad_token", "the chat token is malformed; start a new chat")
    after = data.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise FrameError("bad_frame",
                         "'after' must be the last sequence number seen (an integer >= 0)")
    return Hello(token=token, after=after)


def _message(data: Mapping[str, Any], limits: Limits) -> MessageFrame:
    client_id = _client_id(data)
    text = data.get("text", "")
    if not isinstance(text, str):
        raise FrameError("bad_frame", "'text' must be a string")
    text = clean_text(text)
    if len(text) > limits.max_message_chars:
        raise FrameError("too_long", f"message too long: {len(text)} characters, the limit is "
                           f"{limits.max_message_chars}")
    attachment = _attachment(data.get("attachment"), limits)
    if not text and attachment is None:
        raise FrameError("empty", "the message is empty")
    return MessageFrame(client_id=client_id, text=text, profile=_profile(data.get("profile")),
                        attachment=attachment)


def _client_id(data: Mapping[str, Any]) -> str:
    value = data.get("id")
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise FrameError("bad_frame",
                         "'id' must be the widget's message id (8-64 letters, digits, _ or -)")
    return value


def _short_text(data: Mapping[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FrameError("bad_frame", f"'{key}' must be a non-empty string")
    value = clean_text(value)
    if len(value) > limit:
        raise FrameError("bad_frame", f"'{key}' is longer than {limit} characters")
    return value


def _profile(value: Any) -> Profile | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FrameError("bad_profile", "'profile' must be an object with name, email or phone")
    fields: dict[str, str | None] = {}
    for key in ("name", "email", "phone"):
        item = value.get(key)
        if item is None or item == "":
            fields[key] = None
            continue
        if not isinstance(item, str):
            raise FrameError("bad_profile", f"'profile.{key}' must be a string")
        item = " ".join(clean_text(item).split())
        if len(item) > (MAX_NAME_CHARS if key == "name" else 320):
            raise FrameError("bad_profile", f"'profile.{key}' is too long")
        fields[key] = item or None
    email = fields["email"]
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise FrameError("bad_email", "'profile.email' is not an email address")
    phone = fields["phone"]
    if phone is not None and not re.fullmatch(r"\+?[0-9 ()./-]{6,24}", phone):
        raise FrameError("bad_phone", "'profile.phone' is not a phone number")
    if not any(fields.values()):
        return None
    return Profile(name=fields["name"], email=email, phone=phone)


def _attachment(value: Any, limits: Limits) -> AttachmentData | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FrameError("bad_attachment",
                         "'attachment' must be an object with name, type and data")
    name, kind, data = value.get("name"), value.get("type"), value.get("data")
    if not isinstance(name, str) or not isinstance(kind, str) or not isinstance(data, str):
        raise FrameError("bad_attachment", "'attachment' needs string name, type and data (base64)")
    kind = kind.strip().lower()
    if kind not in limits.attachment_types:
        raise FrameError("attachment_type", f"file type {kind!r} is not accepted; send "
                           f"{', '.join(limits.attachment_types)}")
    if len(data) > (limits.attachment_max_bytes * 4) // 3 + 4:
        raise FrameError("attachment_size",
                         f"file too large: the limit is {limits.attachment_max_bytes} bytes")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise FrameError("bad_attachment", "'attachment.data' is not valid base64") from None
    if not content:
        raise FrameError("bad_attachment", "the file is empty")
    if len(content) > limits.attachment_max_bytes:
        raise FrameError("attachment_size", f"file too large: {len(content)} bytes, the limit is "
                           f"{limits.attachment_max_bytes}")
    signatures = _MAGIC.get(kind)
    if signatures is not None and not content.startswith(signatures):
        raise FrameError("attachment_type", f"the file's content is not {kind}")
    return AttachmentData(filename=safe_filename(name, kind), content_type=kind, data=content)


def clean_text(text: str) -> str:
    """Text without control characters (line breaks and tabs kept), trimmed."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(ch for ch in text
                   if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


def safe_filename(name: str, content_type: str) -> str:
    """The file's base name without path parts or control characters."""
    base = re.split(r"[\\/]", name)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    return base[:200] or "lampiran." + content_type.rsplit("/", 1)[-1]


def inquiry_from_frame(frame: MessageFrame | ButtonFrame, *, conversation: str,
                       received_at: datetime) -> Inquiry:
    """The inquiry a message or button frame stands for.

    The external id pairs the conversation with the widget's message id, so a
    resend after a dropped connection is recognised as the same message.
    """
    name: str | None = None
    extra: list[Identity] = []
    attachments: tuple[AttachmentData, ...] = ()
    meta: dict[str, Any] = {}
    if isinstance(frame, MessageFrame):
        text = frame.text
        if frame.attachment is not None:
            attachments = (frame.attachment,)
        if frame.profile is not None:
            name = frame.profile.name
            if frame.profile.email:
                extra.append(Identity(IdentityKind.EMAIL, frame.profile.email, name))
            if frame.profile.phone:
                extra.append(Identity(IdentityKind.PHONE, frame.profile.phone, name))
    else:
        text = frame.label
        meta["callback"] = frame.data
    return Inquiry(
        channel=Channel.WEBCHAT, external_id=f"{conversation}:{frame.client_id}",
        sender=Identity(IdentityKind.WEBCHAT, conversation, name), text=text,
        received_at=received_at, thread=ThreadHints(conversation_id=conversation),
        attachments=attachments, extra_identities=tuple(extra), meta=meta,
        raw_ref=f"webchat:{frame.client_id}",
    )


def line_frame(line: ChatLine) -> dict[str, Any]:
    """The frame that shows one message in the widget."""
    frame: dict[str, Any] = {
        "type": "message", "seq": line.seq, "from": line.sender, "text": line.text,
        "at": line.at.isoformat(),
    }
    if line.client_id:
        frame["id"] = line.client_id
    if line.author:
        frame["author"] = line.author
    if line.buttons:
        frame["buttons"] = [{"label": label, "data": data} for label, data in line.buttons]
    if line.attachments:
        frame["attachments"] = [{"name": n, "type": t, "size": s}
                                for n, t, s in line.attachments]
    return frame


def error_frame(code: str, message: str, *, client_id: str | None = None,
                retry_after: float | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id:
        frame["id"] = client_id
    if retry_after is not None:
        frame["retry_after"] = round(retry_after, 1)
    return frame


def client_id_of(external_id: str, conversation: str) -> str | None:
    """The widget's message id inside a stored external id, if it is this conversation's."""
    prefix = conversation + ":"
    return external_id[len(prefix):] if external_id.startswith(prefix) else None


class WebchatSender:
    """The outbound half: tells the open chat windows that a reply is waiting.

    The reply is already stored when the outbox hands it over, so "delivered"
    means "announced": an open window fetches it at once, a closed one gets it
    when the resident comes back.
    """

    channel = Channel.WEBCHAT

    def __init__(self, announce: Callable[[str], int]) -> None:
        self.announce = announce

    async def send(self, reply: Reply) -> DeliveryReceipt:
        conversation = reply.conversation_id or reply.recipient
        windows = self.announce(conversation)
        detail = (f"shown in {windows} open chat window(s)" if windows
                  else "stored; the resident sees it when the chat reconnects")
        return DeliveryReceipt(external_ref=reply.message_id, detail=detail)

