"""Telegram inbound: long polling and webhook, both through one update processor.

Nothing is acknowledged before it is committed: long polling saves the next
offset in the cursor store only after the sink returned (or the update was
quarantined or deliberately ignored); the webhook answers 200 only then, so
Telegram redelivers otherwise. The core dedupes on external_id, so an update
seen twice after a crash is stored once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import re
import time
from collections.abc import Collection, Mapping
from typing import Any

from telegram import Update
from telegram.error import TelegramError

from channels.base import (
    AttachmentData,
    Channel,
    CursorStore,
    HealthReport,
    HealthSink,
    Inquiry,
    InquirySink,
    InvalidInput,
    PermanentDeliveryError,
    QuarantineSink,
)
from channels.telegram_api import BotConnection, map_error
from channels.telegram_convert import (
    ALLOWED_UPDATES,
    CALLBACK_THANKS,
    TelegramEvent,
    check_webhook_secret,
    update_to_event,
)

__all__ = ["Outcome", "TelegramPoller", "TelegramUpdateProcessor", "TelegramWebhook"]

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024  # what getFile serves at most anyway


class Outcome(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"


class TelegramUpdateProcessor:
    """Turns one raw update into a committed inquiry (or a quarantined item).

    Raises when the sink, the quarantine or a download fails in a way that may
    pass; the caller must then not acknowledge the update.
    """

    def __init__(
        self,
        connection: BotConnection,
        *,
        sink: InquirySink,
        quarantine: QuarantineSink,
        allowed_group_ids: Collection[int] = (),
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    ) -> None:
        self._conn = connection
        self._sink = sink
        self._quarantine = quarantine
        self._allowed = frozenset(allowed_group_ids)
        self._max_bytes = max_attachment_bytes

    async def process(self, raw: Mapping[str, Any] | bytes | str | Update) -> Outcome:
        try:
            event = update_to_event(raw, allowed_group_ids=self._allowed)
        except InvalidInput as exc:
            await self._quarantine(Channel.TELEGRAM, _raw_bytes(raw), exc.reason, _ref_of(raw))
            return Outcome.QUARANTINED
        if event.inquiry is None:
            log.debug("telegram update %s ignored: %s", event.update_id, event.ignored)
            return Outcome.IGNORED
        inquiry = await self._with_attachments(event, event.inquiry)
        outcome = await self._sink(inquiry)
        if event.callback_query_id is not None:
            await self._acknowledge_button(event)
        return Outcome.DUPLICATE if outcome.duplicate else Outcome.STORED

    async def _with_attachments(self, event: TelegramEvent, inquiry: Inquiry) -> Inquiry:
        if not event.files:
            return inquiry
        attachments: list[AttachmentData] = []
        notices: list[str] = list(inquiry.notices)
        limit = _human_size(self._max_bytes)
        for ref in event.files:
            if ref.size is not None and ref.size > self._max_bytes:
                notices.append(
                    f"Lampiran {ref.filename!r} ({_human_size(ref.size)}) tidak disimpan: "
                    f"melebihi batas {limit}."
                )
                continue
            try:
                tg_file = await self._conn.bot.get_file(ref.file_id)
                if tg_file.file_size is not None and tg_file.file_size > self._max_bytes:
                    notices.append(
                        f"Lampiran {ref.filename!r} ({_human_size(tg_file.file_size)}) "
                        f"tidak disimpan: melebihi batas {limit}."
                    )
                    continue
                data = bytes(await tg_file.download_as_bytearray())
            except TelegramError as exc:
                mapped = map_error(exc, self._conn.token)
                if isinstance(mapped, PermanentDeliveryError):
                    # "file is too big", an expired file id: retrying will not help,
                    # so keep the message and say what is missing.
                    notices.append(
                        f"Lampiran {ref.filename!r} tidak dapat diunduh dari Telegram: "
                        f"{mapped.reason}"
                    )
                    continue
                raise mapped from exc
            if len(data) > self._max_bytes:
                notices.append(
                    f"Lampiran {ref.filename!r} ({_human_size(len(data))}) tidak disimpan: "
                    f"melebihi batas {limit}."
                )
                continue
            attachments.append(AttachmentData(ref.filename, ref.content_type, data))
        return dataclasses.replace(
            inquiry,
            attachments=inquiry.attachments + tuple(attachments),
            notices=tuple(notices),
        )

    async def _acknowledge_button(self, event: TelegramEvent) -> None:
        # Best effort: the answer is already stored, and a callback query older
        # than a few minutes can no longer be answered at all.
        bot = self._conn.bot
        try:
            await bot.answer_callback_query(event.callback_query_id or "", text=CALLBACK_THANKS)
            if event.callback_message is not None:
                chat_id, message_id = event.callback_message
                # Removing the buttons stops a second vote on the same question.
                await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
        except TelegramError as exc:
            log.info(
                "telegram callback %s not acknowledged: %s",
                event.callback_query_id,
                map_error(exc, self._conn.token),
            )


class TelegramPoller:
    """Long-polls getUpdates until cancelled (an ``InboundAdapter``)."""

    name = "telegram"

    def __init__(
        self,
        token: str,
        *,
        sink: InquirySink,
        quarantine: QuarantineSink,
        health: HealthSink,
        cursor: CursorStore,
        base_url: str | None = None,
        base_file_url: str | None = None,
        allowed_group_ids: Collection[int] = (),
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        poll_timeout: float = 30.0,
        request_timeout: float = 10.0,
        batch_size: int = 100,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        health_interval: float = 60.0,
        cursor_key: str = "telegram.updates",
    ) -> None:
        self.connection = BotConnection.create(
            token, base_url=base_url, base_file_url=base_file_url, timeout=request_timeout
        )
        self.processor = TelegramUpdateProcessor(
            self.connection,
            sink=sink,
            quarantine=quarantine,
            allowed_group_ids=allowed_group_ids,
            max_attachment_bytes=max_attachment_bytes,
        )
        self._health = health
        self._cursor = cursor
        self._cursor_key = cursor_key
        self._poll_timeout = poll_timeout
        self._batch_size = batch_size
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._health_interval = health_interval
        self._opened = False
        self._last_report = 0.0
        self._last_ok: bool | None = None
        self.counts: dict[str, int] = {o.value: 0 for o in Outcome} | {"errors": 0}

    async def run(self) -> None:
        failures = 0
        try:
            while True:
                try:
                    await self._open()
                    await self.poll_once()
                    failures = 0
                except Exception as exc:  # the loop must outlive any one failure
                    failures += 1
                    self.counts["errors"] += 1
                    delay = min(self._backoff_max, self._backoff_initial * 2 ** (failures - 1))
                    retry_after = getattr(exc, "retry_after", None)
                    if isinstance(retry_after, int | float):
                        delay = max(delay, float(retry_after))
                    log.warning("telegram polling failed (%s); retrying in %.1fs", exc, delay)
                    await self._report(False, f"{_describe(exc)}; retrying in {delay:.0f}s")
                    await asyncio.sleep(delay)
        finally:
            await self.close()

    async def _open(self) -> None:
        if self._opened:
            return
        await self.connection.open()
        try:
            # Polling and a webhook exclude each other; keep pending updates.
            await self.connection.bot.delete_webhook(drop_pending_updates=False)
        except TelegramError as exc:
            raise map_error(exc, self.connection.token) from exc
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            self._opened = False
            await self.connection.close()

    async def poll_once(self) -> int:
        """Fetch one batch and process it in order; returns how many were handled."""
        await self._open()
        state = await self._cursor.load(self._cursor_key)
        offset = int(state.get("offset", 0))
        batch = await self.connection.get_raw_updates(
            offset, self._poll_timeout, self._batch_size, list(ALLOWED_UPDATES)
        )
        handled = 0
        for raw in batch:
            update_id = raw.get("update_id") if isinstance(raw, dict) else None
            if not isinstance(update_id, int):
                # Without an id the update cannot be acknowledged on its own; it goes
                # away when a later update's offset is confirmed.
                await self.processor.process(json.dumps(raw).encode())
                self.counts[Outcome.QUARANTINED] += 1
                continue
            if update_id < offset:
                continue
            outcome = await self.processor.process(raw)
            self.counts[outcome] += 1
            offset = update_id + 1
            await self._cursor.save(self._cursor_key, {"offset": offset})
            handled += 1
        await self._report(True, None)
        return handled

    async def _report(self, ok: bool, detail: str | None) -> None:
        # A change of state is reported at once; the same state once per interval.
        now = time.monotonic()
        if ok == self._last_ok and now - self._last_report < self._health_interval:
            return
        self._last_ok = ok
        self._last_report = now
        try:
            await self._health(HealthReport(self.name, ok, detail, dict(self.counts)))
        except Exception:  # health is advisory; never stop polling for it
            log.exception("telegram health report failed")


class TelegramWebhook:
    """Webhook mode: the core's route hands each POST body to :meth:`handle`."""

    name = "telegram"
    SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

    def __init__(
        self,
        token: str,
        secret_token: str,
        *,
        sink: InquirySink,
        quarantine: QuarantineSink,
        base_url: str | None = None,
        base_file_url: str | None = None,
        allowed_group_ids: Collection[int] = (),
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        request_timeout: float = 10.0,
    ) -> None:
        if not self.SECRET_PATTERN.match(secret_token):
            raise ValueError(
                "Telegram webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        self._secret = secret_token
        self.connection = BotConnection.create(
            token, base_url=base_url, base_file_url=base_file_url, timeout=request_timeout
        )
        self.processor = TelegramUpdateProcessor(
            self.connection,
            sink=sink,
            quarantine=quarantine,
            allowed_group_ids=allowed_group_ids,
            max_attachment_bytes=max_attachment_bytes,
        )

    async def register(self, url: str) -> None:
        """Tell Telegram where to POST updates (call once at start-up)."""
        await self.connection.open()
        try:
            await self.connection.bot.set_webhook(
                url, secret_token=self._secret, allowed_updates=list(ALLOWED_UPDATES)
            )
        except TelegramError as exc:
            raise map_error(exc, self.connection.token) from exc

    async def handle(self, body: bytes, secret_header: str | None) -> int:
        """Process one webhook POST; returns the HTTP status to answer.

        401 for a wrong secret; 200 once the update is committed, quarantined or
        ignored; 503 when it could not be stored, so Telegram delivers it again.
        """
        if not check_webhook_secret(secret_header, self._secret):
            return 401
        await self.connection.open()
        try:
            await self.processor.process(body)
        except Exception:  # answered with 503, Telegram retries
            log.exception("telegram webhook update not stored")
            return 503
        return 200

    async def close(self) -> None:
        await self.connection.close()


def _raw_bytes(raw: Mapping[str, Any] | bytes | str | Update) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode()
    if isinstance(raw, Update):
        return raw.to_json().encode()
    try:
        return json.dumps(raw, ensure_ascii=False, default=str).encode()
    except (TypeError, ValueError):
        return repr(raw).encode()


def _ref_of(raw: Mapping[str, Any] | bytes | str | Update) -> str | None:
    if isinstance(raw, Update):
        return f"update:{raw.update_id}"
    if isinstance(raw, Mapping) and isinstance(raw.get("update_id"), int):
        return f"update:{raw['update_id']}"
    return None


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else f"{type(exc).__name__}: {exc}"


def _human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"
