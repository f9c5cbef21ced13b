"""Durable channel cursors, channel health and the quarantine, as the sinks and
stores the channel adapters are given (see :mod:`channels.base`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from channels.base import HealthReport
from helpdesk.models import ChannelState, QuarantineItem, QuarantineState, utcnow
from helpdesk.store import Store


class ChannelStates:
    """One row per channel runner: its cursor and its health."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def cursor(self, key: str) -> DbCursor:
        return DbCursor(self, key)

    def load_cursor(self, key: str) -> dict[str, Any]:
        with self.store.read() as session:
            row = session.get(ChannelState, key)
            return dict(row.cursor) if row is not None else {}

    def save_cursor(self, key: str, value: dict[str, Any]) -> None:
        def work(session: Session) -> None:
            row = _row(session, key, self.clock())
            row.cursor = dict(value)
            row.updated_at = self.clock()

        self.store.write_retrying(work)

    def record_health(self, report: HealthReport) -> None:
        now = self.clock()

        def work(session: Session) -> None:
            row = _row(session, report.channel, now)
            row.ok = report.ok
            if report.ok:
                row.last_success_at = now
            else:
                row.last_error = report.detail
                row.last_error_at = now
            if report.counts:
                row.counts = {k: int(v) for k, v in report.counts.items()}
            row.updated_at = now

        self.store.write_retrying(work)

    async def health(self, report: HealthReport) -> None:
        """The :data:`channels.base.HealthSink` adapters call."""
        await self.store.run(self.record_health, report)

    def all(self) -> list[ChannelState]:
        with self.store.read() as session:
            return list(session.exec(select(ChannelState).order_by(col(ChannelState.key))))


class DbCursor:
    """A :class:`channels.base.CursorStore` kept in the channel_state table."""

    def __init__(self, states: ChannelStates, prefix: str) -> None:
        self.states = states
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return key if key.startswith(self.prefix) else f"{self.prefix}:{key}"

    async def load(self, key: str) -> dict[str, Any]:
        return await self.states.store.run(self.states.load_cursor, self._key(key))

    async def save(self, key: str, value: dict[str, Any]) -> None:
        await self.states.store.run(self.states.save_cursor, self._key(key), value)


def _row(session: Session, key: str, now: datetime) -> ChannelState:
    row = session.get(ChannelState, key)
    if row is None:
        row = ChannelState(key=key, updated_at=now)
        session.add(row)
    return row


class Quarantine:
    """Input that could not become an inquiry: kept raw, with the reason."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.clock = clock

    def keep(self, channel: str, raw: bytes, reason: str, source_ref: str | None) -> int:
        return self.keep_many([(channel, raw, reason, source_ref)])[0]

    def keep_many(self, items: Sequence[tuple[str, bytes, str, str | None]]) -> list[int]:
        """Hold each (channel, raw, reason, source ref), all in one transaction
        (a call log's bad rows, without a commit each); returns their ids."""
        if not items:
            return []
        now = self.clock()

        def work(session: Session) -> list[int]:
            held = [QuarantineItem(channel=channel, raw=raw, reason=reason[:4000],
                                   source_ref=ref, created_at=now)
                    for channel, raw, reason, ref in items]
            session.add_all(held)
            session.flush()
            return [item.id for item in held if item.id is not None]

        return self.store.write_retrying(work)

    async def __call__(self, channel: str, raw: bytes, reason: str,
                       source_ref: str | None) -> None:
        """The :data:`channels.base.QuarantineSink` adapters call."""
        await self.store.run(self.keep, channel, raw, reason, source_ref)

    def list(self, state: str | None = QuarantineState.HELD,
             limit: int = 200) -> list[QuarantineItem]:
        with self.store.read() as session:
            query = select(QuarantineItem).order_by(col(QuarantineItem.id).desc()).limit(limit)
            if state:
                query = query.where(QuarantineItem.state == state)
            return list(session.exec(query))

    def get(self, item_id: int) -> QuarantineItem | None:
        with self.store.read() as session:
            return session.get(QuarantineItem, item_id)

    def mark(self, item_id: int, state: QuarantineState, reason: str | None = None) -> None:
        def work(session: Session) -> None:
            item = session.get_one(QuarantineItem, item_id)
            item.state = state
            item.resolved_at = self.clock() if state != QuarantineState.HELD else None
            if reason is not None:
                item.reason = reason[:4000]

        self.store.write_retrying(work)


def health_json(state: ChannelState) -> dict[str, Any]:
    """One channel's health as JSON (the CLI and the API share this shape)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "key": state.key,
        "ok": state.ok,
        "last_success_at": iso(state.last_success_at),
        "last_error": state.last_error,
        "last_error_at": iso(state.last_error_at),
        "counts": {str(k): int(v) for k, v in (state.counts or {}).items()},
        "updated_at": iso(state.updated_at),
    }
