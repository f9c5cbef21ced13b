"""In-memory stand-ins for the core's side of the contract, and IMAP helpers for tests."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aioimaplib

from channels.base import HealthReport, Inquiry, ReceiveOutcome


class MemorySink:
    """Stores inquiries like the core does: dedupe on external_id, commit, return."""

    def __init__(self, before_commit: Callable[[Inquiry], Awaitable[None]] | None = None) -> None:
        self.inquiries: dict[str, Inquiry] = {}
        self.calls: list[str] = []
        self.before_commit = before_commit
        self.arrived = asyncio.Event()

    async def __call__(self, inquiry: Inquiry) -> ReceiveOutcome:
        self.calls.append(inquiry.external_id)
        if self.before_commit is not None:
            await self.before_commit(inquiry)
        duplicate = inquiry.external_id in self.inquiries
        if not duplicate:
            self.inquiries[inquiry.external_id] = inquiry
        self.arrived.set()
        number = list(self.inquiries).index(inquiry.external_id) + 1
        return ReceiveOutcome(f"PTSP-{number:06d}", number, not duplicate, duplicate)

    async def wait_for(self, count: int, within: float = 15.0) -> None:
        async with asyncio.timeout(within):
            while len(self.inquiries) < count:
                self.arrived.clear()
                await self.arrived.wait()


class MemoryQuarantine:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, str, str | None]] = []

    async def __call__(self, channel: str, raw: bytes, reason: str, ref: str | None) -> None:
        self.items.append((channel, raw, reason, ref))


class MemoryHealth:
    def __init__(self) -> None:
        self.reports: list[HealthReport] = []

    async def __call__(self, report: HealthReport) -> None:
        self.reports.append(report)


class MemoryCursor:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    async def load(self, key: str) -> dict[str, Any]:
        return dict(self.values.get(key, {}))

    async def save(self, key: str, value: dict[str, Any]) -> None:
        self.values[key] = dict(value)


@asynccontextmanager
async def imap_client(host: str, port: int, user: str, password: str) -> AsyncIterator[Any]:
    """Another mail client on the same mailbox (a consultant's Thunderbird, say)."""
    client = aioimaplib.IMAP4(host, port, timeout=10)
    await client.wait_hello_from_server()
    await client.login(user, password)
    try:
        yield client
    finally:
        try:
            await client.logout()
        finally:
            if client.protocol.transport is not None:
                client.protocol.transport.close()


_FLAGS = re.compile(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)")


async def flags_by_uid(client: Any, folder: str = "INBOX") -> dict[int, set[str]]:
    await client.select(folder)
    response = await client.uid("fetch", "1:*", "(UID FLAGS)")
    found: dict[int, set[str]] = {}
    for line in response.lines:
        if not isinstance(line, bytes):
            continue
        match = _FLAGS.search(line)
        if match:
            uid = int(match.group(1) or match.group(4))
            flags = (match.group(2) or match.group(3) or b"").decode().split()
            found[uid] = set(flags)
    return found


async def stop_task(task: asyncio.Task[Any], *, within: float = 10.0) -> None:
    """Cancel ``task`` and wait for it to end, failing with its stack after ``within`` s.

    A bare ``await task`` after ``cancel()`` waits for ever when the task lost
    the cancellation, and the whole run stalls with nothing to show why.
    """
    deadline = time.monotonic() + within
    task.cancel()
    while not task.done():
        if time.monotonic() >= deadline:
            stack = io.StringIO()
            task.print_stack(file=stack)
            raise AssertionError(
                f"task {task.get_name()} still runs {within} s after it was cancelled:\n"
                f"{stack.getvalue()}")
        await asyncio.wait({task}, timeout=min(0.5, max(deadline - time.monotonic(), 0.01)))
    if not task.cancelled():
        task.result()  # an error it ended with instead is the test's failure
        raise AssertionError(f"task {task.get_name()} returned instead of being cancelled")
