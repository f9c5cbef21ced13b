"""The edge between python-telegram-bot and the help desk.

Every call to the Bot API goes through a :class:`telegram.Bot` built here, and
every error it raises is mapped here, once, to the channel error tree of
:mod:`channels.base`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from channels.base import ChannelError, PermanentDeliveryError, TemporaryDeliveryError

__all__ = [
    "DEFAULT_BASE_FILE_URL",
    "DEFAULT_BASE_URL",
    "BotConnection",
    "FloodWait",
    "map_error",
]

DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_BASE_FILE_URL = "https://api.telegram.org/file/bot"


class FloodWait(TelegramError):
    """HTTP 429 from the Bot API: wait ``retry_after`` seconds before the next call.

    Raised by our request class instead of python-telegram-bot's ``RetryAfter``,
    whose ``retry_after`` attribute warns on every read in version 22 (and tests
    run with warnings as errors).
    """

    def __init__(self, retry_after: float, description: str) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class _FloodAwareRequest(HTTPXRequest):
    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout,
            write_timeout,
            connect_timeout,
            pool_timeout,
        )
        if code == 429:
            retry_after, description = _flood_details(payload)
            raise FloodWait(retry_after, description)
        return code, payload


def _flood_details(payload: bytes) -> tuple[float, str]:
    try:
        body = json.loads(payload)
        parameters = body.get("parameters") or {}
        retry_after = float(parameters.get("retry_after") or 1)
        return retry_after, str(body.get("description") or "Too Many Requests")
    except (ValueError, AttributeError, TypeError):
        # A 429 without a readable body still means "slow down".
        return 1.0, "Too Many Requests"


@dataclass(frozen=True, slots=True)
class BotConnection:
    """A :class:`telegram.Bot` plus the raw request used for long polling.

    getUpdates is fetched raw (not through ``Bot.get_updates``) because the
    library parses a whole batch at once: one malformed update would make every
    update of the batch unreadable, while we must quarantine just that one.
    """

    bot: Bot
    updates_request: HTTPXRequest
    token: str

    @classmethod
    def create(
        cls,
        token: str,
        *,
        base_url: str | None = None,
        base_file_url: str | None = None,
        timeout: float = 10.0,
        media_timeout: float = 60.0,
    ) -> BotConnection:
        if not token or ":" not in token:
            raise ValueError(
                "Telegram bot token missing or malformed: expected '<bot id>:<secret>' "
                "as given by @BotFather"
            )
        request = _FloodAwareRequest(
            connection_pool_size=8,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            media_write_timeout=media_timeout,
        )
        updates_request = _FloodAwareRequest(
            connection_pool_size=1,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
        )
        bot = Bot(
            token,
            base_url=base_url or DEFAULT_BASE_URL,
            base_file_url=base_file_url or DEFAULT_BASE_FILE_URL,
            request=request,
            get_updates_request=updates_request,
        )
        return cls(bot, updates_request, token)

    async def get_raw_updates(
        self, offset: int, wait: float, limit: int, allowed_updates: list[str]
    ) -> list[Any]:
        """One getUpdates call; the result exactly as Telegram sent it."""
        query = urlencode(
            {
                "offset": offset,
                "timeout": int(wait),
                "limit": limit,
                "allowed_updates": json.dumps(allowed_updates),
            }
        )
        try:
            result = await self.updates_request.post(
                url=f"{self.bot.base_url}/getUpdates?{query}",
                # The server holds a long poll open for ``timeout`` seconds.
                read_timeout=wait + 10.0,
            )
        except TelegramError as exc:
            raise map_error(exc, self.token) from exc
        if not isinstance(result, list):
            raise TemporaryDeliveryError(f"getUpdates returned {type(result).__name__}, not a list")
        return result

    async def open(self) -> None:
        try:
            await self.bot.initialize()
        except TelegramError as exc:
            raise map_error(exc, self.token) from exc

    async def close(self) -> None:
        await self.bot.shutdown()


def map_error(exc: TelegramError, token: str = "") -> ChannelError:
    """The one translation of Bot API failures into retry / give-up decisions."""
    reason = _scrub(str(exc), token)
    if isinstance(exc, FloodWait):
        return TemporaryDeliveryError(f"Telegram flood control: {reason}", exc.retry_after)
    if isinstance(exc, RetryAfter):  # pragma: no cover - our request class raises FloodWait
        return TemporaryDeliveryError(f"Telegram flood control: {reason}")
    if isinstance(exc, Forbidden):
        # "bot was blocked by the user", "user is deactivated", "bot was kicked from the group"
        return PermanentDeliveryError(f"Telegram refused: {reason}")
    if isinstance(exc, ChatMigrated):
        return PermanentDeliveryError(
            f"the group became a supergroup with chat id {exc.new_chat_id}; "
            "update the conversation to the new id"
        )
    if isinstance(exc, InvalidToken):
        # Never echo the message: the library puts the token in it.
        return TemporaryDeliveryError("the bot token was rejected by Telegram; check the token")
    if isinstance(exc, EndPointNotFound):
        return PermanentDeliveryError(f"Bot API method not found: {reason}")
    if isinstance(exc, Conflict):
        return TemporaryDeliveryError(f"another poller or a webhook uses this bot token: {reason}")
    # BadRequest subclasses NetworkError, so it must be tested first.
    if isinstance(exc, BadRequest):
        return PermanentDeliveryError(f"Telegram rejected the request: {reason}")
    if isinstance(exc, TimedOut):
        return TemporaryDeliveryError(f"Telegram did not answer in time: {reason}")
    if isinstance(exc, NetworkError):
        return TemporaryDeliveryError(f"network error talking to Telegram: {reason}")
    return TemporaryDeliveryError(f"Telegram error: {reason}")


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text
