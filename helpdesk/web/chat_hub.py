"""Who is watching which web chat conversation, in this process.

The database is the truth: a notice from the hub only says "look again", and an
open chat window then reads every message after the last one it sent. That
keeps the order and the sequence numbers right whoever wrote the message.

Same-process notices are instant (the outbox's web chat sender calls
:meth:`ChatHub.announce`). Several web workers may serve one database, so while
any window is open here, one poll per process (not per window) asks the
database every couple of seconds which conversations got new messages and
wakes their windows: a reply dispatched by another worker still arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# (watermark) -> (new watermark, {conversation: its newest message id} for the
# conversations with messages above the old one). None asks only for the watermark.
ChangedSince = Callable[[int | None], Awaitable[tuple[int, Mapping[str, int]]]]


@dataclass(eq=False)
class Watcher:
    """One open chat window's doorbell."""

    conversation: str
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event = field(default_factory=asyncio.Event)
    # The newest sequence number the window has shown; the poll skips windows
    # that are already up to date instead of making each read the store again.
    seen: int = 0

    def ring(self) -> None:
        # Announcements may come from another thread's loop (an outbox
        # dispatcher running elsewhere in the process).
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.event.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self) -> None:
        await self.event.wait()
        self.event.clear()


class ChatHub:
    def __init__(self, *, poll_seconds: float = 2.0) -> None:
        self.poll_seconds = poll_seconds
        self._watchers: dict[str, set[Watcher]] = {}
        self._lock = threading.Lock()
        self._poller: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, conversation: str, changed_since: ChangedSince | None = None
              ) -> Iterator[Watcher]:
        """Register a window on ``conversation`` for as long as the block runs.

        With ``changed_since`` the process-wide database poll runs while any
        window is open.
        """
        watcher = Watcher(conversation, asyncio.get_running_loop())
        with self._lock:
            self._watchers.setdefault(conversation, set()).add(watcher)
        if changed_since is not None and (self._poller is None or self._poller.done()):
            self._poller = asyncio.create_task(self._poll(changed_since), name="chat-hub-poll")
        try:
            yield watcher
        finally:
            with self._lock:
                group = self._watchers.get(conversation)
                if group is not None:
                    group.discard(watcher)
                    if not group:
                        del self._watchers[conversation]
                idle = not self._watchers
            if idle and self._poller is not None:
                self._poller.cancel()
                self._poller = None

    def announce(self, conversation: str, newest: int | None = None) -> int:
        """Wake every window open on ``conversation`` (that has not yet shown
        ``newest``); returns how many windows are open on it."""
        with self._lock:
            group = list(self._watchers.get(conversation, ()))
        for watcher in group:
            if newest is None or watcher.seen < newest:
                watcher.ring()
        return len(group)

    @property
    def open_windows(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._watchers.values())

    async def _poll(self, changed_since: ChangedSince) -> None:
        # Start from the newest message now: windows read their own backlog.
        # Each poll looks back one extra round, so a message whose transaction
        # committed just after a poll read past its id is still seen next time.
        marks: list[int] = []
        while True:
            try:
                since = marks[0] if marks else None
                mark, conversations = await changed_since(since)
                for conversation, newest in conversations.items():
                    self.announce(conversation, newest)
                marks = [*marks[-1:], mark]
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end live delivery
                log.exception("web chat poll failed; trying again")
            await asyncio.sleep(self.poll_seconds)
