"""Database engines and transactions, the same code on SQLite and PostgreSQL.

SQLite is the embedded default: one file in WAL mode, one writer at a time.
Write transactions begin with ``BEGIN IMMEDIATE`` so two writers queue on the
lock instead of failing half-way when a reader tries to become a writer.
PostgreSQL runs at READ COMMITTED; unique constraints settle races and the
caller retries (see :meth:`Store.write_retrying`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

T = TypeVar("T")


class RetryableConflict(Exception):
    """Raised inside a write to ask :meth:`Store.write_retrying` for another go."""


class Store:
    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(url, echo=echo, immediate=False)
            self.write_engine = _sqlite_engine(url, echo=echo, immediate=True)
        else:
            self.engine = sa.create_engine(url, echo=echo, pool_size=pool_size,
                                           max_overflow=pool_size, pool_pre_ping=True,
                                           json_serializer=to_json, json_deserializer=orjson.loads)
            self.write_engine = self.engine
        # One writer per process on SQLite: threads wait here rather than
        # spinning on SQLite's busy handler.
        self._write_lock = threading.Lock() if self.is_sqlite else None

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on error."""
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            with Session(self.write_engine, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        finally:
            if lock is not None:
                lock.release()

    def write_retrying(self, work: Callable[[Session], T], *, attempts: int = 8) -> T:
        """Run ``work`` in a write transaction, again from the start after a
        conflict (a unique constraint another worker won, a locked database)."""
        for attempt in range(attempts):
            try:
                with self.write() as session:
                    return work(session)
            except (IntegrityError, RetryableConflict):
                if attempt == attempts - 1:
                    raise
            except OperationalError as exc:
                if not _is_transient(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.01 * (2**attempt))
        raise AssertionError("unreachable")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking database work off the event loop."""
        return await anyio.to_thread.run_sync(fn, *args)


def to_json(value: Any) -> str:
    """JSON columns (event data, message meta, outbox payloads) as text.

    orjson writes them five to ten times faster than the json module, and an
    import writes several per call. A value it refuses (an integer beyond 64
    bits) goes through json."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def _is_transient(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return ("locked" in text or "busy" in text or "deadlock" in text
            or "could not serialize" in text)


def _sqlite_engine(url: str, *, echo: bool, immediate: bool) -> Engine:
    engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False,
                                                            "timeout": 30},
                              json_serializer=to_json, json_deserializer=orjson.loads)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event issue BEGIN itself (pysqlite's own
        # transaction handling would defer it and break IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # SQLite's default page cache is 2 MB; the ticket table's indexes alone
        # outgrow it at a few thousand tickets, and every write then rereads
        # pages. 32 MB per connection keeps them in memory.
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
