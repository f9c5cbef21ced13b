"""Live updates for staff pages, as server-sent events on ``/live``.

One poller per process reads the events table for rows newer than the last it
saw (the ``event.id`` primary key is the cursor) about once a second, and fans
each out to every open stream: a thousand open tabs cost one query a second,
not a thousand. Pages decide what an event means to them (a new message on the
ticket shown, a new ticket in the queue).

Who has which ticket open is kept in this process's memory: with several web
workers a consultant sees the viewers on their own worker only. Replies are
events, so "another consultant replied" reaches every worker.

A stream ends after a few minutes and the browser reconnects by itself; the
reconnect passes :func:`~helpdesk.web.auth.require_role` again, so a
deactivated or signed-out user stops receiving events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from helpdesk.bootstrap import Services
from helpdesk.models import Event, Role, User
from helpdesk.web.auth import current_user, require_role, services_of

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 300.0
QUEUE_SIZE = 200
BATCH = 500


@dataclass(eq=False)
class Subscriber:
    user_id: int
    name: str
    ticket_id: int | None
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, kind: str, payload: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((kind, payload))
        except asyncio.QueueFull:
            # A stalled tab: end its stream; the browser reconnects and reloads.
            self.overflowed = True


class LiveHub:
    def __init__(self, services: Services, *, poll_seconds: float = POLL_SECONDS) -> None:
        self.services = services
        self.poll_seconds = poll_seconds
        self.subscribers: set[Subscriber] = set()
        self.last_id: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._names: dict[int, str] = {}

    async def subscribe(self, user: User, ticket_id: int | None) -> Subscriber:
        assert user.id is not None
        sub = Subscriber(user.id, user.name or user.email, ticket_id)
        if self.last_id is None:
            self.last_id = await self.services.store.run(self._max_id)
        self.subscribers.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="live-poller")
        if ticket_id is not None:
            self._announce_viewers(ticket_id)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if sub.ticket_id is not None:
            self._announce_viewers(sub.ticket_id)
        if not self.subscribers and self._task is not None:
            self._task.cancel()
            self._task = None

    def viewers(self, ticket_id: int) -> list[dict[str, Any]]:
        seen: dict[int, str] = {}
        for sub in self.subscribers:
            if sub.ticket_id == ticket_id:
                seen[sub.user_id] = sub.name
        return [{"id": uid, "name": name} for uid, name in sorted(seen.items())]

    def _announce_viewers(self, ticket_id: int) -> None:
        payload = {"ticket_id": ticket_id, "viewers": self.viewers(ticket_id)}
        for sub in self.subscribers:
            if sub.ticket_id == ticket_id:
                sub.offer("viewers", payload)

    def _max_id(self) -> int:
        with self.services.store.read() as session:
            return session.exec(select(func.max(Event.id))).one() or 0

    def _fetch(self, after: int) -> list[dict[str, Any]]:
        with self.services.store.read() as session:
            rows = list(session.execute(
                sa.select(col(Event.id), col(Event.kind), col(Event.ticket_id),
                          col(Event.actor_user_id), col(Event.actor))
                .where(col(Event.id) > after).order_by(col(Event.id)).limit(BATCH)).all())
            unknown = {r[3] for r in rows if r[3] is not None and r[3] not in self._names}
            if unknown:
                for uid, name, email in session.exec(
                        select(col(User.id), col(User.name), col(User.email))
                        .where(col(User.id).in_(unknown))):
                    if uid is not None:
                        self._names[uid] = name or email
        return [{"id": r[0], "kind": r[1], "ticket_id": r[2], "actor_user_id": r[3],
                 "actor": r[4], "actor_name": self._names.get(r[3]) if r[3] else None}
                for r in rows]

    async def poll_once(self) -> int:
        events = await self.services.store.run(self._fetch, self.last_id or 0)
        for event in events:
            self.last_id = event["id"]
            for sub in list(self.subscribers):
                sub.offer("ticket", event)
        return len(events)

    async def _run(self) -> None:
        while self.subscribers:
            try:
                count = await self.poll_once()
            except Exception:  # a database hiccup must not end live updates for good
                log.exception("live updates: reading new events failed")
                count = 0
            if count < BATCH:
                await asyncio.sleep(self.poll_seconds)


def hub_of(request: Request) -> LiveHub:
    hub: LiveHub | None = getattr(request.app.state, "live_hub", None)
    if hub is None:
        hub = LiveHub(services_of(request))
        request.app.state.live_hub = hub
    return hub


def _sse(kind: str, payload: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


@require_role(Role.CONSULTANT, Role.SUPERVISOR)
async def live(request: Request) -> Response:
    hub = hub_of(request)
    user = current_user(request)
    raw = request.query_params.get("ticket", "")
    ticket_id = int(raw) if raw.isdigit() else None
    sub = await hub.subscribe(user, ticket_id)
    lasting = float(getattr(request.app.state, "live_stream_seconds", STREAM_SECONDS))

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\n"
            yield _sse("hello", {"user_id": user.id})
            ends = time.monotonic() + lasting
            while not sub.overflowed:
                left = ends - time.monotonic()
                if left <= 0:
                    break
                try:
                    # Not wait_for, which on Python 3.11 can swallow the cancel of a
                    # closed connection.
                    async with asyncio.timeout(min(KEEPALIVE_SECONDS, left)):
                        kind, payload = await sub.queue.get()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield _sse(kind, payload)
        finally:
            with contextlib.suppress(Exception):
                hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


routes = [Route("/live", live, methods=["GET"])]
