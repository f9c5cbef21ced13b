"""One worker per source: a mailbox poller or the Telegram poller runs in exactly
one process, whichever holds the source's lock, even with several web workers.

On PostgreSQL the lock is a session advisory lock held on a dedicated
connection; on the embedded SQLite default it is an exclusive file lock in the
data directory. A worker that does not get the lock tries again later, so
another takes over within a minute when the holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from channels.base import InboundAdapter
from helpdesk.store import Store

log = logging.getLogger(__name__)


class Exclusive:
    """Runs ``adapter`` only while this process holds the lock named ``key``."""

    def __init__(self, adapter: InboundAdapter, store: Store, lock_dir: Path, key: str,
                 retry_seconds: float = 30.0) -> None:
        self.adapter = adapter
        self.name = adapter.name
        self.store = store
        self.lock_dir = lock_dir
        self.key = key
        self.retry_seconds = retry_seconds

    async def run(self) -> None:
        while True:
            lock = await self.store.run(self._acquire)
            if lock is None:
                await asyncio.sleep(self.retry_seconds)
                continue
            try:
                await self.adapter.run()
            finally:
                await self.store.run(self._release, lock)

    def _acquire(self) -> Any | None:
        if self.store.is_postgres:
            number = int.from_bytes(hashlib.sha256(self.key.encode()).digest()[:8], "big",
                                    signed=True)
            conn = self.store.engine.connect()
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:n)"), {"n": number})
            if got.scalar():
                conn.commit()
                return conn
            conn.close()
            return None
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        safe = hashlib.sha256(self.key.encode()).hexdigest()[:16]
        handle = (self.lock_dir / f"{safe}.lock").open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        return handle

    def _release(self, lock: Any) -> None:
        with contextlib.suppress(Exception):
            lock.close()  # closing the connection or the file releases the lock
