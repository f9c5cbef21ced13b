"""The Telegram channel: a bot that residents chat with.

Inbound by long polling (:class:`TelegramPoller`, the default) or by webhook
(:class:`TelegramWebhook`); outbound by :class:`TelegramSender`. Conversion of
updates into inquiries is pure and shared (:func:`update_to_event`). The pieces
live in ``telegram_api`` (the edge to python-telegram-bot and its errors),
``telegram_convert``, ``telegram_inbound`` and ``telegram_outbound``.
"""

from __future__ import annotations

from channels.telegram_api import BotConnection, FloodWait, map_error
from channels.telegram_convert import (
    ALLOWED_UPDATES,
    CALLBACK_THANKS,
    START_GREETING,
    FileRef,
    TelegramEvent,
    check_webhook_secret,
    parse_update,
    update_to_event,
)
from channels.telegram_inbound import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    Outcome,
    TelegramPoller,
    TelegramUpdateProcessor,
    TelegramWebhook,
)
from channels.telegram_outbound import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_MESSAGE_LENGTH,
    TelegramSender,
    keyboard_for,
    split_text,
)

WEBHOOK_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

__all__ = [
    "ALLOWED_UPDATES",
    "CALLBACK_THANKS",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_MESSAGE_LENGTH",
    "START_GREETING",
    "WEBHOOK_SECRET_HEADER",
    "BotConnection",
    "FileRef",
    "FloodWait",
    "Outcome",
    "TelegramEvent",
    "TelegramPoller",
    "TelegramSender",
    "TelegramUpdateProcessor",
    "TelegramWebhook",
    "check_webhook_secret",
    "keyboard_for",
    "map_error",
    "parse_update",
    "split_text",
    "update_to_event",
]
