"""Fixtures: the Bot API double on loopback and fakes of the core."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from channels.telegram import TelegramPoller, TelegramSender
from tests.channels.telegram.telegram_fakes import MemoryCursor, MemoryStore, make_poller
from tests.servers.telegram_double import TelegramDouble, running_double


@pytest.fixture
def double() -> Iterator[TelegramDouble]:
    with running_double() as server:
        yield server


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def cursor() -> MemoryCursor:
    return MemoryCursor()


@pytest.fixture
async def poller(
    double: TelegramDouble, store: MemoryStore, cursor: MemoryCursor
) -> AsyncIterator[TelegramPoller]:
    runner = make_poller(double, store, cursor)
    try:
        yield runner
    finally:
        await runner.close()


@pytest.fixture
async def sender(double: TelegramDouble) -> AsyncIterator[TelegramSender]:
    adapter = TelegramSender(
        double.token,
        base_url=double.base_url,
        base_file_url=double.base_file_url,
        request_timeout=2.0,
        max_flood_wait=5.0,
    )
    try:
        yield adapter
    finally:
        await adapter.close()
