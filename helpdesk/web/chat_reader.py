"""The open chat windows' reads, run in batches on one connection.

Every window reads the store after each notice: its backlog when it opens, its
own message when the resident writes, a reply when the outbox announces one.
One thread per read does not scale: when a thousand windows open at once, a
thousand reads queue in the thread pool that every other database call of the
process shares too (the outbox dispatcher's claim waited seconds behind them),
and forty threads running Python at once starve the event loop of the GIL.

Here the reads that wait are taken together, up to ``batch`` at a time, and run
one after another on one connection in a worker thread; at most ``lanes``
batches run at once, on threads of their own: a burst of other database work
(a thousand residents' messages being stored) does not hold up a reply's read,
and a burst of reads does not hold up the rest. A lone read still goes at once.

Reads that bring news to a window (a reply the outbox announced) go ahead of
the routine ones (a window's backlog when it opens, the echo of the resident's
own message), and while every lane is busy with routine batches a spare lane
reads them: after a burst of windows opening, the first consultant replies do
not wait for the queue, nor for a batch under way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.engine import Connection

from helpdesk.store import Store

T = TypeVar("T")


@dataclass(slots=True)
class _Read:
    work: Callable[[Connection], Any]
    future: asyncio.Future[Any]


class ChatReader:
    """Runs ``work(connection)`` for the chat windows of one event loop."""

    def __init__(self, store: Store, *, batch: int = 25, lanes: int = 2) -> None:
        self.store = store
        self.batch = batch
        self.lanes = lanes
        self.loop = asyncio.get_running_loop()
        # The lanes' threads, and one more for a lane that reads only urgent
        # work while every lane is busy with routine batches.
        self._threads = anyio.CapacityLimiter(lanes + 1)
        self._urgent: deque[_Read] = deque()
        self._routine: deque[_Read] = deque()
        # Counted in step with the lanes' loops (a finished task's done
        # callback runs later, and a read queued meanwhile would wait forever).
        self._running = 0
        self._spare_running = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def read(self, work: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """``work(connection)``'s result; ``urgent`` reads go before routine ones."""
        future: asyncio.Future[T] = self.loop.create_future()
        (self._urgent if urgent else self._routine).append(_Read(work, future))
        if self._running < self.lanes:
            self._running += 1
            self._start(self._lane())
        elif urgent and not self._spare_running:
            self._spare_running = True
            self._start(self._spare_lane())
        return await future

    def _start(self, lane: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(lane, name="chat-reader")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _lane(self) -> None:
        try:
            await self._drain(self._urgent, self._routine)
        finally:
            self._running -= 1

    async def _spare_lane(self) -> None:
        try:
            await self._drain(self._urgent)
        finally:
            self._spare_running = False

    async def _drain(self, *queues: deque[_Read]) -> None:
        while any(queues):
            batch: list[_Read] = []
            for queue in queues:
                while queue and len(batch) < self.batch:
                    read = queue.popleft()
                    if not read.future.done():  # not a window that has closed meanwhile
                        batch.append(read)
            if not batch:
                continue
            try:
                outcomes = await anyio.to_thread.run_sync(
                    _run_all, self.store, [read.work for read in batch], limiter=self._threads)
            except Exception as exc:  # no connection: the windows retry on the next notice
                _fail(batch, exc)
                continue
            except BaseException:  # the loop is closing: nobody is left to drain
                _fail([*batch, *self._urgent, *self._routine],
                      ConnectionError("the chat reader stopped"))
                self._urgent.clear()
                self._routine.clear()
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
