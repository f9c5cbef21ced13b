"""Stopping the IMAP poller: a cancel is never lost, whenever it lands.

aioimaplib wraps each command in ``asyncio.wait_for``. On Python 3.11 that
swallows a cancellation arriving in the same loop turn as the command's answer
and returns the answer instead, so a poller awaiting it directly would carry on
after being stopped, and whoever awaits the stopped task waits for ever.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from channels.email.imap import ImapPoller, MailboxUnavailable
from tests.channels.email.email_fakes import (
    MemoryCursor,
    MemoryHealth,
    MemoryQuarantine,
    MemorySink,
)


def poller() -> ImapPoller:
    return ImapPoller(
        name="email:konsultasi", host="127.0.0.1", port=143, username="u", password="p",
        sink=MemorySink(), quarantine=MemoryQuarantine(), health=MemoryHealth(),
        cursor=MemoryCursor(), security="none")


async def library_command(answer: asyncio.Future[str]) -> str:
    """What aioimaplib does for every command: the answer, under asyncio.wait_for."""
    return await asyncio.wait_for(answer, timeout=30)


@pytest.mark.parametrize("turns", range(4))
@pytest.mark.parametrize("connected", [False, True], ids=["no-connection", "connected"])
async def test_a_cancel_landing_with_the_answer_still_stops_the_call(
        connected: bool, turns: int) -> None:
    loop = asyncio.get_running_loop()
    imap = poller()
    if connected:
        imap._lost = loop.create_future()
    answer: asyncio.Future[str] = loop.create_future()
    call = asyncio.create_task(imap._call(library_command(answer)))
    for _ in range(3):
        await asyncio.sleep(0)  # the call and the command are now both waiting
    assert not call.done()
    answer.set_result("OK")  # the server answers ...
    for _ in range(turns):
        await asyncio.sleep(0)
    # ... as the poller is stopped: a cancel that was taken must end the call.
    if call.cancel():
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await call
    else:
        assert call.result() == "OK"


async def test_a_dropped_connection_ends_the_call() -> None:
    loop = asyncio.get_running_loop()
    imap = poller()
    lost: asyncio.Future[Any] = loop.create_future()
    imap._lost = lost
    never: asyncio.Future[str] = loop.create_future()
    call = asyncio.create_task(imap._call(library_command(never)))
    await asyncio.sleep(0)
    lost.set_result(None)
    async with asyncio.timeout(5):
        with pytest.raises(MailboxUnavailable, match="lost"):
            await call


async def test_a_call_with_a_time_limit_gives_up() -> None:
    imap = poller()
    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with asyncio.timeout(5):
        with pytest.raises(TimeoutError):
            await imap._call(library_command(never), within=0.05)



class Transport:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class LoggedInClient:
    """Just enough of aioimaplib.IMAP4 for the poller to log it out."""

    def __init__(self, answer: asyncio.Future[str]) -> None:
        self.answer = answer
        self.transport = Transport()
        self.protocol = SimpleNamespace(transport=self.transport, state="SELECTED", tasks=set())
        self.tasks: set[asyncio.Future[Any]] = set()
        self._client_task = asyncio.get_running_loop().create_future()
        self._client_task.set_result(None)

    async def logout(self) -> str:
        return await library_command(self.answer)


@pytest.mark.parametrize("turns", range(6))
async def test_a_poller_stopped_while_logging_out_stops_and_closes_the_socket(
        turns: int) -> None:
    loop = asyncio.get_running_loop()
    imap = poller()
    answer: asyncio.Future[str] = loop.create_future()
    client = LoggedInClient(answer)
    imap._client, imap._lost = client, loop.create_future()  # type: ignore[assignment]
    closing = asyncio.create_task(imap.close())
    for _ in range(3):
        await asyncio.sleep(0)  # LOGOUT sent, its answer awaited
    assert not closing.done()
    answer.set_result("OK")
    for _ in range(turns):
        await asyncio.sleep(0)
    if closing.cancel():
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await closing
    else:
        await closing
    assert client.transport.closed
