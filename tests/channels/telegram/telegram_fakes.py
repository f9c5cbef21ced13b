"""Fakes of the core's side of the adapter contract, for the Telegram tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from channels.base import HealthReport, Inquiry, ReceiveOutcome
from channels.telegram import TelegramPoller
from tests.servers.telegram_double import TelegramDouble

DATA = Path(__file__).resolve().parents[2] / "data" / "telegram"


def load_update(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))
    return result


class MemoryCursor:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}
        self.fail_saves = 0

    async def load(self, key: str) -> dict[str, Any]:
        return dict(self.values.get(key, {}))

    async def save(self, key: str, value: dict[str, Any]) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise OSError("cursor store unavailable")
        self.values[key] = dict(value)


class MemoryStore:
    """Stands in for intake: commits, dedupes on external_id, can be made to fail."""

    def __init__(self) -> None:
        self.inquiries: list[Inquiry] = []
        self.quarantined: list[tuple[str, bytes, str, str | None]] = []
        self.health: list[HealthReport] = []
        self.fail_next = 0

    async def sink(self, inquiry: Inquiry) -> ReceiveOutcome:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database is locked")
        for index, stored in enumerate(self.inquiries):
            if stored.external_id == inquiry.external_id:
                return ReceiveOutcome("PTSP-000001", index + 1, False, True)
        self.inquiries.append(inquiry)
        return ReceiveOutcome("PTSP-000001", len(self.inquiries), True, False)

    async def quarantine(self, channel: str, raw: bytes, reason: str, ref: str | None) -> None:
        self.quarantined.append((channel, raw, reason, ref))

    async def report(self, report: HealthReport) -> None:
        self.health.append(report)

    def by_id(self, external_id: str) -> Inquiry:
        return next(i for i in self.inquiries if i.external_id == external_id)


def make_poller(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor, **options: Any
) -> TelegramPoller:
    settings: dict[str, Any] = {
        "poll_timeout": 0,
        "request_timeout": 2.0,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    settings.update(options)
    return TelegramPoller(
        double.token,
        sink=store.sink,
        quarantine=store.quarantine,
        health=store.report,
        cursor=cursor,
        base_url=double.base_url,
        base_file_url=double.base_file_url,
        **settings,
    )
