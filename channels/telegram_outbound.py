"""Telegram outbound: one :class:`Reply` into sendMessage / sendPhoto / sendDocument calls.

Replies go out as plain text (no parse_mode): consultants write prose, and plain
text needs no escaping, so nothing a consultant types can break the message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message
from telegram.error import TelegramError

from channels.base import (
    AttachmentData,
    Channel,
    DeliveryReceipt,
    PermanentDeliveryError,
    Reply,
    ReplyButton,
    TemporaryDeliveryError,
)
from channels.telegram_api import BotConnection, FloodWait, map_error

__all__ = [
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_MESSAGE_LENGTH",
    "TelegramSender",
    "keyboard_for",
    "split_text",
]

log = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
# sendPhoto refuses photos above 10 MB; those go as documents.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
_PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
# Buttons whose labels fit on one phone-width row are laid out side by side
# (Ya / Tidak, the 1-5 survey); longer ones get a row each.
_ONE_ROW_CHARS = 30


def _units(text: str) -> int:
    # Telegram counts message length in UTF-16 code units (an emoji may be two).
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Cut ``text`` into messages of at most ``limit`` UTF-16 units.

    Cuts at the last paragraph break that fits, else a line break, else a space,
    else anywhere; the pieces read in order and together hold all the words.
    """
    text = text.strip()
    parts: list[str] = []
    while _units(text) > limit:
        window = _fitting_prefix(text, limit)
        cut = -1
        for separator in ("\n\n", "\n", " "):
            cut = window.rfind(separator)
            # A break in the first fifth would leave a stub message; look further.
            if cut > len(window) // 5:
                break
            cut = -1
        if cut <= 0:
            cut = len(window)
        head, text = text[:cut].rstrip(), text[cut:].lstrip()
        if head:
            parts.append(head)
    if text:
        parts.append(text)
    return parts


def _fitting_prefix(text: str, limit: int) -> str:
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def keyboard_for(buttons: Sequence[ReplyButton]) -> InlineKeyboardMarkup | None:
    """An inline keyboard; refuses callback data Telegram would reject."""
    if not buttons:
        return None
    keys: list[InlineKeyboardButton] = []
    for button in buttons:
        if button.url:
            keys.append(InlineKeyboardButton(button.label, url=button.url))
            continue
        if not 1 <= len(button.data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise PermanentDeliveryError(
                f"button {button.label!r}: callback data must be 1-{MAX_CALLBACK_DATA_BYTES} "
                f"bytes, got {len(button.data.encode())}"
            )
        keys.append(InlineKeyboardButton(button.label, callback_data=button.data))
    if sum(len(b.label) for b in buttons) <= _ONE_ROW_CHARS:
        return InlineKeyboardMarkup([keys])
    return InlineKeyboardMarkup([[key] for key in keys])


class TelegramSender:
    """Delivers replies to Telegram chats (an ``OutboundAdapter``).

    The recipient is ``reply.conversation_id`` (the chat) or else
    ``reply.recipient`` (a user id, which is also their private chat id).
    """

    channel = Channel.TELEGRAM

    def __init__(
        self,
        token: str,
        *,
        base_url: str | None = None,
        base_file_url: str | None = None,
        max_flood_wait: float = 30.0,
        request_timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.connection = BotConnection.create(
            token, base_url=base_url, base_file_url=base_file_url, timeout=request_timeout
        )
        self._max_flood_wait = max_flood_wait
        self._sleep = sleep
        self._opened = False
        # Parts of a split reply already delivered, by idempotency key: a retry after
        # a failure half-way resends only what is missing (within this process).
        self._delivered: OrderedDict[str, list[str]] = OrderedDict()

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.connection.close()

    async def send(self, reply: Reply) -> DeliveryReceipt:
        chat_id = (reply.conversation_id or reply.recipient or "").strip()
        if not chat_id:
            raise PermanentDeliveryError("reply has no Telegram chat id")
        markup = keyboard_for(reply.buttons)
        calls = self._plan(chat_id, reply, markup)
        if not calls:
            raise PermanentDeliveryError("reply has neither text nor attachments")
        if not self._opened:
            await self.connection.open()
            self._opened = True
        done = self._delivered.setdefault(reply.idempotency_key, [])
        flood_waited = 0.0
        for index, call in enumerate(calls):
            if index < len(done):
                continue
            while True:
                try:
                    message = await call()
                    break
                except FloodWait as exc:
                    if flood_waited + exc.retry_after > self._max_flood_wait:
                        raise TemporaryDeliveryError(
                            f"Telegram flood control: retry after {exc.retry_after:g}s",
                            exc.retry_after,
                        ) from exc
                    flood_waited += exc.retry_after
                    log.info("telegram flood control, waiting %.1fs", exc.retry_after)
                    await self._sleep(exc.retry_after)
                except TelegramError as exc:
                    raise map_error(exc, self.connection.token) from exc
            done.append(f"{message.chat.id}:{message.message_id}")
        self._delivered.pop(reply.idempotency_key, None)
        self._forget_old()
        return DeliveryReceipt(
            external_ref=",".join(done),
            detail=f"{len(done)} Telegram message(s) to chat {chat_id}",
        )

    def _forget_old(self) -> None:
        while len(self._delivered) > 1000:
            self._delivered.popitem(last=False)

    def _plan(
        self, chat_id: str, reply: Reply, markup: InlineKeyboardMarkup | None
    ) -> list[Callable[[], Awaitable[Message]]]:
        bot = self.connection.bot
        texts = split_text(reply.text)
        calls: list[Callable[[], Awaitable[Message]]] = []
        last_index = len(texts) + len(reply.attachments) - 1
        for index, part in enumerate(texts):
            keyboard = markup if index == last_index else None

            async def send_text(
                part: str = part, keyboard: InlineKeyboardMarkup | None = keyboard
            ) -> Message:
                return await bot.send_message(chat_id, part, reply_markup=keyboard)

            calls.append(send_text)
        for offset, attachment in enumerate(reply.attachments):
            keyboard = markup if len(texts) + offset == last_index else None
            calls.append(self._attachment_call(chat_id, attachment, keyboard))
        return calls

    def _attachment_call(
        self, chat_id: str, attachment: AttachmentData, keyboard: InlineKeyboardMarkup | None
    ) -> Callable[[], Awaitable[Message]]:
        bot = self.connection.bot

        async def send_file() -> Message:
            upload = InputFile(attachment.data, filename=attachment.filename)
            if attachment.content_type in _PHOTO_TYPES and len(attachment.data) <= MAX_PHOTO_BYTES:
                return await bot.send_photo(chat_id, upload, reply_markup=keyboard)
            return await bot.send_document(chat_id, upload, reply_markup=keyboard)

        return send_file
