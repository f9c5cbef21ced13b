"""Telegram updates into inquiries: pure conversion, no network.

Long polling and the webhook both hand every update to :func:`update_to_event`.
Files are only *described* here (:class:`FileRef`); the inbound runner downloads
them through getFile and adds them to the inquiry.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telegram import Message, Update, User
from telegram.constants import ChatType

from channels.base import Channel, Identity, IdentityKind, Inquiry, InvalidInput, ThreadHints

__all__ = [
    "ALLOWED_UPDATES",
    "CALLBACK_THANKS",
    "START_GREETING",
    "FileRef",
    "TelegramEvent",
    "check_webhook_secret",
    "parse_update",
    "update_to_event",
]

START_GREETING = (
    "Selamat datang di layanan Tanya PTSP! 👋\n"
    "Silakan tulis pertanyaan Anda tentang perizinan atau nonperizinan, status "
    "permohonan, persyaratan, atau jam layanan. Petugas kami akan membalas di sini.\n"
    "Anda juga dapat menghubungi call center 1500164."
)
"""The greeting for ``/start``; travels in ``Inquiry.meta["greeting"]`` so the core
can send it through the outbox without importing this module."""

CALLBACK_THANKS = "Terima kasih atas tanggapan Anda."
"""Shown to the resident as a toast when they press an inline button."""

# What long polling asks Telegram for; anything else is not a resident talking to us.
ALLOWED_UPDATES: tuple[str, ...] = ("message", "edited_message", "callback_query")

_COMMAND = re.compile(r"^/(start|help)(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)

# Service messages in groups (someone joined, the title changed): not inquiries.
_SERVICE_FIELDS = (
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "pinned_message",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "message_auto_delete_timer_changed",
    "video_chat_started",
    "video_chat_ended",
    "forum_topic_created",
)


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file attached to a Telegram message, to be fetched with getFile."""

    file_id: str
    filename: str
    content_type: str
    # What the message says; None when Telegram did not tell.
    size: int | None


@dataclass(frozen=True, slots=True)
class TelegramEvent:
    """One update, understood.

    ``inquiry`` is None when the update is deliberately ignored (a group that is
    not configured, a bot, a service message); ``ignored`` then says why.
    """

    update_id: int
    inquiry: Inquiry | None
    files: tuple[FileRef, ...] = ()
    ignored: str | None = None
    callback_query_id: str | None = None
    # The message whose inline keyboard was pressed: (chat id, message id).
    callback_message: tuple[int, int] | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


def check_webhook_secret(received: str | None, expected: str) -> bool:
    """Whether ``X-Telegram-Bot-Api-Secret-Token`` matches, in constant time."""
    if not expected or received is None:
        return False
    return hmac.compare_digest(received.encode(), expected.encode())


def parse_update(raw: Update | Mapping[str, Any] | bytes | str) -> Update:
    """Decode one update; :class:`InvalidInput` when it is not one."""
    if isinstance(raw, Update):
        return raw
    data: Any = raw
    if isinstance(raw, bytes | str):
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"update is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise InvalidInput(f"update is a JSON {type(data).__name__}, not an object")
    if not isinstance(data.get("update_id"), int):
        raise InvalidInput("update has no integer update_id")
    try:
        update = Update.de_json(dict(data), None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"malformed update: {type(exc).__name__} {exc}") from exc
    return update


def update_to_event(
    raw: Update | Mapping[str, Any] | bytes | str,
    *,
    allowed_group_ids: Collection[int] = (),
    now: datetime | None = None,
) -> TelegramEvent:
    """Convert one update. Raises :class:`InvalidInput` for junk (to quarantine).

    ``allowed_group_ids``: group chats whose messages are inquiries; messages in
    other groups are ignored. ``now`` stamps callback queries, which carry no time.
    """
    update = parse_update(raw)
    try:
        if update.message is not None:
            return _from_message(update.update_id, update.message, allowed_group_ids, False)
        if update.edited_message is not None:
            return _from_message(update.update_id, update.edited_message, allowed_group_ids, True)
        if update.callback_query is not None:
            return _from_callback(update, allowed_group_ids, now or datetime.now(UTC))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"malformed update: {type(exc).__name__} {exc}") from exc
    if update.my_chat_member is not None:
        # The resident blocked or unblocked the bot: nothing to ask or answer.
        return TelegramEvent(update.update_id, None, ignored="chat member status change")
    kinds = sorted(set(update.to_dict()) - {"update_id"}) or ["(empty)"]
    raise InvalidInput(f"unsupported update type: {', '.join(kinds)}")


def _ignored(update_id: int, reason: str) -> TelegramEvent:
    return TelegramEvent(update_id, None, ignored=reason)


def _chat_refused(message_chat_type: str, chat_id: int, allowed: Collection[int]) -> str | None:
    if message_chat_type == ChatType.PRIVATE:
        return None
    if message_chat_type in (ChatType.GROUP, ChatType.SUPERGROUP):
        return None if chat_id in allowed else f"group chat {chat_id} is not configured"
    return f"{message_chat_type} chats are not served"


def _from_message(
    update_id: int, message: Message, allowed: Collection[int], edited: bool
) -> TelegramEvent:
    chat_id = message.chat.id
    refused = _chat_refused(message.chat.type, chat_id, allowed)
    if refused:
        return _ignored(update_id, refused)
    user = message.from_user
    if user is None:
        return _ignored(update_id, "message has no sender (channel or anonymous admin)")
    if user.is_bot:
        return _ignored(update_id, "message from a bot")
    if any(getattr(message, name, None) for name in _SERVICE_FIELDS):
        return _ignored(update_id, "service message")

    own_id = f"{chat_id}:{message.message_id}"
    text = message.text or message.caption or ""
    meta: dict[str, Any] = {
        "update_id": update_id,
        "chat_id": chat_id,
        "chat_type": str(message.chat.type),
        "message_id": message.message_id,
    }
    if user.username:
        meta["username"] = user.username
    if user.language_code:
        meta["language_code"] = user.language_code
    extra: list[Identity] = []
    files = _files_of(message)
    described = _describe_content(message, user, extra, meta)
    if not text:
        text = described
    elif described:
        text = f"{text}\n{described}"

    command = _COMMAND.match(message.text or "")
    if command and not edited:
        meta["command"] = command.group(1)
        meta["greeting"] = START_GREETING
        if command.group(2):
            # Deep links (t.me/bot?start=PAYLOAD) tell where the resident came from.
            meta["start_payload"] = command.group(2).strip()

    if not text and not files:
        kinds = sorted(k for k, v in message.to_dict().items() if v and k not in _PLAIN_FIELDS)
        raise InvalidInput(f"unsupported message content: {', '.join(kinds) or '(empty)'}")

    reply_to: list[str] = []
    received_at = message.date
    external_id = own_id
    if edited:
        edit_date = message.edit_date or message.date
        received_at = edit_date
        external_id = f"{own_id}:edit:{int(edit_date.timestamp())}"
        meta["edited"] = True
        meta["original_external_id"] = own_id
        reply_to.append(own_id)
    if message.reply_to_message is not None:
        reply_to.append(f"{chat_id}:{message.reply_to_message.message_id}")

    inquiry = Inquiry(
        channel=Channel.TELEGRAM,
        external_id=external_id,
        sender=Identity(IdentityKind.TELEGRAM, str(user.id), _display_name(user)),
        text=text,
        received_at=_utc(received_at),
        thread=ThreadHints(reply_to_ids=tuple(reply_to), conversation_id=str(chat_id)),
        extra_identities=tuple(extra),
        meta=meta,
        raw_ref=f"update:{update_id}",
    )
    return TelegramEvent(update_id, inquiry, files=files)


# Fields every message has; what is left says what kind of content it carried.
_PLAIN_FIELDS = {
    "message_id",
    "date",
    "chat",
    "from",
    "edit_date",
    "reply_to_message",
    "message_thread_id",
    "entities",
    "caption_entities",
    "is_topic_message",
}


def _describe_content(
    message: Message, user: User, extra: list[Identity], meta: dict[str, Any]
) -> str:
    """Text for content that is not text: a shared contact, a location, a sticker."""
    contact = message.contact
    if contact is not None:
        meta["contact"] = {
            "phone_number": contact.phone_number,
            "name": " ".join(p for p in (contact.first_name, contact.last_name) if p),
            "user_id": contact.user_id,
        }
        if contact.user_id is not None and contact.user_id == user.id:
            # Only the resident's own number (the "share my phone number" button) may
            # link identities; a forwarded card of someone else must not.
            extra.append(Identity(IdentityKind.PHONE, contact.phone_number, _display_name(user)))
            meta["own_phone_shared"] = True
            return f"Membagikan nomor teleponnya: {contact.phone_number}"
        return f"Membagikan kontak: {meta['contact']['name']} {contact.phone_number}".strip()
    if message.location is not None:
        lat, lon = message.location.latitude, message.location.longitude
        meta["location"] = {"latitude": lat, "longitude": lon}
        return f"Membagikan lokasi: {lat:.6f}, {lon:.6f} (https://maps.google.com/?q={lat},{lon})"
    if message.sticker is not None:
        return f"[stiker {message.sticker.emoji or ''}]".replace(" ]", "]")
    return ""


def _files_of(message: Message) -> tuple[FileRef, ...]:
    mid = message.message_id
    if message.photo:
        # Telegram sends every resolution; the last is the largest, but sort to be sure.
        best = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return (FileRef(best.file_id, f"foto-{mid}.jpg", "image/jpeg", best.file_size),)
    refs: list[FileRef] = []
    document = message.document
    if document is not None:
        name = document.file_name or f"dokumen-{mid}{_ext(document.mime_type, '.bin')}"
        refs.append(
            FileRef(document.file_id, name, _ctype(document.mime_type, name), document.file_size)
        )
    for media, stem, default_type in (
        (message.video, "video", "video/mp4"),
        (message.animation, "animasi", "video/mp4"),
        (message.audio, "audio", "audio/mpeg"),
        (message.voice, "pesan-suara", "audio/ogg"),
        (message.video_note, "video-bulat", "video/mp4"),
    ):
        if media is None or (media is message.animation and document is not None):
            continue
        mime = getattr(media, "mime_type", None) or default_type
        name = getattr(media, "file_name", None) or f"{stem}-{mid}{_ext(mime, '.bin')}"
        refs.append(FileRef(media.file_id, name, mime, media.file_size))
    return tuple(refs)


def _ext(mime: str | None, default: str) -> str:
    if mime == "audio/ogg":
        return ".ogg"
    return (mimetypes.guess_extension(mime) if mime else None) or default


def _ctype(mime: str | None, filename: str) -> str:
    return mime or mimetypes.guess_type(filename)[0] or "application/octet-stream"


def _from_callback(update: Update, allowed: Collection[int], now: datetime) -> TelegramEvent:
    query = update.callback_query
    assert query is not None
    user = query.from_user
    if query.data is None:
        return _ignored(update.update_id, "callback query without data (game button)")
    message = query.message
    chat_id = message.chat.id if message is not None else user.id
    if message is not None:
        refused = _chat_refused(message.chat.type, chat_id, allowed)
        if refused:
            return _ignored(update.update_id, refused)
    label = query.data
    reply_to: tuple[str, ...] = ()
    callback_message: tuple[int, int] | None = None
    if message is not None:
        reply_to = (f"{chat_id}:{message.message_id}",)
        callback_message = (chat_id, message.message_id)
        markup = getattr(message, "reply_markup", None)
        for row in markup.inline_keyboard if markup is not None else ():
            for button in row:
                if button.callback_data == query.data:
                    label = button.text
    inquiry = Inquiry(
        channel=Channel.TELEGRAM,
        external_id=f"cbq:{query.id}",
        sender=Identity(IdentityKind.TELEGRAM, str(user.id), _display_name(user)),
        text=label,
        received_at=now,
        thread=ThreadHints(reply_to_ids=reply_to, conversation_id=str(chat_id)),
        meta={"callback": query.data, "update_id": update.update_id, "chat_id": chat_id},
        raw_ref=f"update:{update.update_id}",
    )
    return TelegramEvent(
        update.update_id,
        inquiry,
        callback_query_id=query.id,
        callback_message=callback_message,
    )


def _display_name(user: User) -> str:
    full = " ".join(p for p in (user.first_name, user.last_name) if p).strip()
    if full:
        return full
    return f"@{user.username}" if user.username else str(user.id)


def _utc(moment: datetime) -> datetime:
    # python-telegram-bot gives aware UTC datetimes; naive ones would be UTC too.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
