"""The open chat windows' reads, run in batches on one connection.

Every window reads the store after each notice: its backlog when it opens, its
own message when the resident writes, a reply when the outbox announces one.
One thread per read does not scale: when a thousand windows open at once, a
thousand reads queue in the thread pool that every other database call of the
process shares too (the outbox dispatcher's claim waited seconds behind them),
and forty threads running Python at once starve the event loop of the GIL.

Here the reads that wait are taken together, up to ``batch`` at a time, and run
one after another on one connection in one worker thread; at most ``lanes``
batches run at once. A lone read still goes at once; under a burst each read
costs its statements only, and the rest of the process keeps its threads.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from helpdesk.store import Store

T = TypeVar("T")


@dataclass(slots=True)
class _Read:
    work: Callable[[Connection], Any]
    future: asyncio.Future[Any]


class ChatReader:
    """Runs ``work(connection)`` for the chat windows of one event loop."""

    def __init__(self, store: Store, *, batch: int = 100, lanes: int = 2) -> None:
        self.store = store
        self.batch = batch
        self.lanes = lanes
        self.loop = asyncio.get_running_loop()
        self._waiting: deque[_Read] = deque()
        # Counted in step with the lanes' loops (a finished task's done
        # callback runs later, and a read queued meanwhile would wait forever).
        self._running = 0
        self._lanes: set[asyncio.Task[None]] = set()

    async def read(self, work: Callable[[Connection], T]) -> T:
        future: asyncio.Future[T] = self.loop.create_future()
        self._waiting.append(_Read(work, future))
        if self._running < self.lanes:
            self._running += 1
            lane = self.loop.create_task(self._drain(), name="chat-reader")
            self._lanes.add(lane)
            lane.add_done_callback(self._lanes.discard)
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_waiting()
        finally:
            self._running -= 1

    async def _drain_waiting(self) -> None:
        while self._waiting:
            batch: list[_Read] = []
            while self._waiting and len(batch) < self.batch:
                read = self._waiting.popleft()
                if not read.future.done():  # not a window that has closed meanwhile
                    batch.append(read)
            if not batch:
                continue
            try:
                outcomes = await self.store.run(_run_all, self.store,
                                                [read.work for read in batch])
            except Exception as exc:  # no connection: the windows retry on the next notice
                _fail(batch, exc)
                continue
            except BaseException:  # the loop is closing: nobody is left to drain
                _fail([*batch, *self._waiting], ConnectionError("the chat reader stopped"))
                self._waiting.clear()
                raise
            for read, (ok, value) in zip(batch, outcomes, strict=True):
                if read.future.done():
                    continue
                if ok:
                    read.future.set_result(value)
                else:
                    read.future.set_exception(value)


def _fail(reads: list[_Read], exc: Exception) -> None:
    for read in reads:
        if not read.future.done():
            read.future.set_exception(exc)


def _run_all(store: Store, works: list[Callable[[Connection], Any]]
             ) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any]] = []
    with store.engine.connect() as conn:
        for work in works:
            try:
                outcomes.append((True, work(conn)))
            except Exception as exc:
                outcomes.append((False, exc))
                # PostgreSQL refuses every later statement of a transaction
                # that failed; the other windows' reads start a new one.
                with contextlib.suppress(Exception):
                    conn.rollback()
    return outcomes
