"""Delivery latency of consultants' replies to open web chat windows.

Run with ``python bench/webchat.py`` (options: ``--conversations 1000 --rate 200
--database-url postgresql+psycopg://...``). The app runs under uvicorn on a
loopback port with the outbox dispatcher beside it, as ``tanya-ptsp serve``
does. A second process opens the resident windows (one WebSocket each), writes
one question in each, and waits. This process then queues one consultant reply
per conversation at a steady rate (store the reply and its outbox item, wake
the dispatcher) and the window process notes when each reply frame arrives.
Latency is queue-to-frame on one monotonic clock (CLOCK_MONOTONIC is shared by
the processes). Goal: p99 <= 100 ms with 1,000 windows open, none dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

REPLY_TIMEOUT = 15.0


def raise_file_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the residents' side (a child process) -----------------------------------------
async def residents(url: str, count: int, expected: int) -> None:
    arrived: dict[int, float] = {}
    tickets: list[str] = [""] * count
    done = asyncio.Event()
    go = asyncio.Event()

    async def window(i: int) -> None:
        async with websockets.connect(url, max_size=2**20, ping_interval=None,
                                      open_timeout=60) as socket:
            await socket.send(json.dumps({"type": "hello", "token": None, "after": 0}))
            client = f"bench-{i:06d}"
            sent = False
            async for raw in socket:
                frame = json.loads(raw)
                if frame["type"] == "ready" and not sent:
                    sent = True
                    await socket.send(json.dumps({"type": "message", "id": client,
                                                  "text": f"Pertanyaan warga nomor {i}"}))
                elif frame["type"] == "ack":
                    tickets[i] = frame["ticket"]
                    if all(tickets):
                        go.set()
                elif frame["type"] == "message" and frame["from"] != "resident":
                    arrived[i] = time.monotonic()
                    if len(arrived) >= expected:
                        done.set()
                    if i in arrived:
                        await done.wait()
                        return
                elif frame["type"] == "error":
                    print(f"window {i}: {frame}", file=sys.stderr)

    tasks = []
    for i in range(count):
        tasks.append(asyncio.create_task(window(i)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not open 1,000 handshakes in one instant
    await asyncio.wait_for(go.wait(), 300)
    print(json.dumps({"ready": tickets}), flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), expected / 10 + REPLY_TIMEOUT + 60)
    done.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"arrived": arrived}), flush=True)


# -- the help desk's side ----------------------------------------------------------------
async def run(args: argparse.Namespace) -> None:
    import uvicorn

    from helpdesk.bootstrap import build_services
    from helpdesk.config import load_config
    from helpdesk.migrate import upgrade
    from helpdesk.models import Ticket
    from helpdesk.outbox import queue_reply
    from helpdesk.store import Store
    from helpdesk.ticket_numbers import parse_number
    from helpdesk.web.app import create_app
    from tests.servers.ports import free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-webchat-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    store = Store(url, pool_size=20)
    upgrade(store)
    base = load_config(environ={})
    # Residents here write once each; the per-address limit is for the internet.
    webchat = replace(base.channels.webchat, messages_per_minute_per_ip=1_000_000)
    config = replace(base, base_dir=str(workdir),
                     channels=replace(base.channels, webchat=webchat))
    services = build_services(config, store=store)
    # One event loop for the web app, the dispatcher and the consultants'
    # replies, as in ``tanya-ptsp serve`` where the workspace's reply request
    # and the dispatcher share the server's loop.
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_level="warning",
        ws="websockets-sansio", ws_ping_interval=None, backlog=4096))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
        await asyncio.sleep(0.01)
    ws_url = f"ws://127.0.0.1:{port}/chat/ws"
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--residents", ws_url, "--conversations",
        str(args.conversations), stdout=subprocess.PIPE)
    assert child.stdout is not None
    # The machine may be shared: the load says how far to trust a figure.
    load_before = os.getloadavg()[0]
    print(f"opening {args.conversations} chat windows on {store.url.get_backend_name()}...")
    started = time.monotonic()
    ready = json.loads(await child.stdout.readline())["ready"]
    print(f"  {len(ready)} conversations open with a ticket each in "
          f"{time.monotonic() - started:.1f} s")

    dispatcher = asyncio.create_task(services.dispatcher.run())
    sent_at: dict[int, float] = {}

    def queue(i: int) -> None:
        with services.store.write() as session:
            ticket = session.get_one(Ticket, parse_number(ready[i]))
            queue_reply(session, ticket, f"Balasan petugas nomor {i}", now=services.clock())

    interval = 1.0 / args.rate
    begin = time.monotonic()
    for i in range(len(ready)):
        pause = begin + i * interval - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        sent_at[i] = time.monotonic()
        await asyncio.to_thread(queue, i)
        services.dispatcher.wakeup.set()
    line = await child.stdout.readline()
    await child.wait()
    dispatcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await dispatcher
    server.should_exit = True
    await serving
    services.close()
    shutil.rmtree(workdir, ignore_errors=True)

    arrived = {int(k): v for k, v in json.loads(line)["arrived"].items()}
    latencies = sorted((arrived[i] - sent_at[i]) * 1000 for i in arrived)
    dropped = len(sent_at) - len(arrived)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    print(f"replies: {len(sent_at)} at {args.rate}/s to {args.conversations} open windows; "
          f"delivered {len(arrived)}, dropped {dropped}")
    print(f"queue -> frame latency: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
          f"p99 {q[98]:.1f} ms, max {latencies[-1]:.1f} ms")
    print(f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    goal = q[98] <= 100 and dropped == 0
    print("goal (p99 <= 100 ms, none dropped):", "met" if goal else "NOT met")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0,
                        help="consultant replies queued per second")
    parser.add_argument("--database-url", default=os.environ.get("TANYA_DATABASE_URL", ""))
    parser.add_argument("--residents", metavar="WS_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_file_limit()
    if args.residents:
        asyncio.run(residents(args.residents, args.conversations, args.conversations))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
