"""The chat windows' reads: batched on one connection, each on its indexes."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import anyio.to_thread
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from channels.webchat import MessageFrame, inquiry_from_frame, parse_frame
from helpdesk.bootstrap import Services
from helpdesk.runners.webchat import limits_of
from helpdesk.store import Store
from helpdesk.web import chat_reader
from helpdesk.web.chat_history import (
    CHANGED,
    LINES,
    OFFERED,
    changed_since,
    conversation_lines,
    current_ticket,
)
from helpdesk.web.chat_reader import ChatReader
from tests.helpdesk.webchat_harness import consultant_reply

# Off-topic enough that no FAQ entry answers it automatically.
QUESTION = "Selamat siang, saya mau tanya soal berkas saya kemarin"


def _chat(services: Services, conversation: str) -> str:
    """A resident's first message in ``conversation``; returns the ticket's number."""
    frame = parse_frame(json.dumps({"type": "message", "id": "message-1", "text": QUESTION}),
                        limits_of(services.config.channels.webchat))
    assert isinstance(frame, MessageFrame)
    inquiry = inquiry_from_frame(frame, conversation=conversation,
                                 received_at=services.clock())
    return services.intake.receive(inquiry).ticket_number


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the reader's trips to a worker thread (and how many reads each carried)."""
    hops: list[int] = []
    run_all = chat_reader._run_all

    def counted(store: Store, works: list[Callable[[Connection], Any]]) -> list[Any]:
        hops.append(len(works))
        return run_all(store, works)

    monkeypatch.setattr(chat_reader, "_run_all", counted)
    return hops


async def test_reads_that_wait_together_share_one_connection(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    store = services.store
    numbers = {f"{i:064x}": _chat(services, f"{i:064x}") for i in range(1, 121)}
    hops = _counting(monkeypatch)
    reader = ChatReader(store, batch=50, lanes=1)
    found = await asyncio.gather(*(reader.read(partial(current_ticket, conversation=c))
                                   for c in numbers))
    assert found == list(numbers.values())
    # 120 windows, three trips to a worker thread rather than 120.
    assert hops == [50, 50, 20]
    # A lone read goes at once, in its own small batch.
    assert await reader.read(partial(current_ticket, conversation="f" * 64)) is None
    assert hops[-1] == 1


async def test_reads_do_not_queue_behind_the_shared_thread_pool(services: Services) -> None:
    conversation = "d" * 64
    number = _chat(services, conversation)
    reader = ChatReader(services.store)
    # Every thread of the pool that other database work shares is busy (a
    # thousand residents' messages being stored, say).
    pool = anyio.to_thread.current_default_thread_limiter()
    release = threading.Event()
    busy = [asyncio.ensure_future(anyio.to_thread.run_sync(release.wait))
            for _ in range(int(pool.total_tokens))]
    try:
        while pool.borrowed_tokens < pool.total_tokens:  # noqa: ASYNC110 - no event for this
            await asyncio.sleep(0.01)
        async with asyncio.timeout(5):
            assert await reader.read(partial(current_ticket, conversation=conversation)) == number
    finally:
        release.set()
        await asyncio.gather(*busy)


async def test_news_for_a_window_is_read_before_routine_backlogs(services: Services) -> None:
    reader = ChatReader(services.store, batch=10, lanes=1)
    ran: list[str] = []
    underway, go_on = threading.Event(), threading.Event()

    def work(name: str, conn: Connection) -> str:
        if name == "backlog-0":
            underway.set()
            go_on.wait(5)
        ran.append(name)
        return name

    routine = [asyncio.ensure_future(reader.read(partial(work, f"backlog-{i}")))
               for i in range(30)]
    await asyncio.to_thread(underway.wait, 5)  # the first batch of ten is being read
    try:
        # Neither the twenty queued behind nor the batch under way hold it up.
        assert await asyncio.wait_for(reader.read(partial(work, "reply"), urgent=True), 5)
        assert ran == ["reply"]
    finally:
        go_on.set()
    await asyncio.gather(*routine)
    assert ran[1:] == [f"backlog-{i}" for i in range(30)]


async def test_a_read_that_fails_fails_alone(services: Services) -> None:
    conversation = "a" * 64
    number = _chat(services, conversation)
    reader = ChatReader(services.store, lanes=1)

    def broken(conn: Connection) -> object:
        # On PostgreSQL this also aborts the transaction the batch shares.
        return conn.execute(sa.text("SELECT * FROM no_such_table")).all()

    before, failed, after = await asyncio.gather(
        reader.read(partial(current_ticket, conversation=conversation)),
        reader.read(broken),
        reader.read(partial(current_ticket, conversation=conversation)),
        return_exceptions=True)
    assert before == number and after == number
    assert isinstance(failed, sa.exc.SQLAlchemyError)


async def test_the_read_of_a_window_that_closed_is_skipped(store: Store) -> None:
    reader = ChatReader(store, lanes=1)
    ran: list[str] = []

    def work(name: str, conn: Connection) -> str:
        ran.append(name)
        return name

    kept = asyncio.ensure_future(reader.read(partial(work, "kept")))
    closed = asyncio.ensure_future(reader.read(partial(work, "closed")))
    await asyncio.sleep(0)  # both are queued; the lane has not run yet
    closed.cancel()
    assert await kept == "kept"
    assert ran == ["kept"]


async def test_a_reply_reads_back_with_its_author_and_the_poll_sees_it(
        services: Services) -> None:
    conversation = "b" * 64
    number = _chat(services, conversation)
    _chat(services, "c" * 64)  # someone else's chat stays out of this window
    reply = consultant_reply(services, number, "Balasan petugas")
    reader = ChatReader(services.store)
    lines = await reader.read(partial(conversation_lines, conversation=conversation, after=0))
    assert [(line.sender, line.text) for line in lines] == [
        ("resident", QUESTION), ("agent", "Balasan petugas")]
    assert lines[-1].seq == reply
    later = await reader.read(partial(conversation_lines, conversation=conversation,
                                      after=lines[0].seq))
    assert [line.seq for line in later] == [reply]
    mark, changed = await reader.read(partial(changed_since, mark=reply - 1))
    assert mark == reply and changed == {conversation: reply}


@pytest.mark.parametrize("statement", [LINES, OFFERED, CHANGED], ids=["lines", "offered",
                                                                      "changed"])
def test_chat_reads_do_not_walk_every_web_chat_message(sqlite_url: str,
                                                       statement: sa.Select[Any]) -> None:
    # SQLite without statistics would take ``channel = 'webchat'`` to the
    # (channel, external_id) index: a scan that grows with every chat ever held.
    store = Store(sqlite_url)
    try:
        with store.engine.connect() as conn:
            compiled = statement.compile(dialect=conn.dialect)
            values = {"key": "webchat:x", "own": "x:%", "after": 0, "limit": 10, "mark": 0,
                      "newest": 10}
            params = compiled.construct_params(values)
            assert compiled.positiontup is not None
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled),
                tuple(params[name] for name in compiled.positiontup)).all()
    finally:
        store.dispose()
    steps = " / ".join(str(row[3]) for row in plan)
    assert "SEARCH message USING INDEX ix_message_ticket" in steps or (
        "SEARCH message USING INTEGER PRIMARY KEY" in steps), steps
    assert "sqlite_autoindex_message" not in steps, steps
