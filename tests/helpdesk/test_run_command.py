"""The README's run command, as a new user types it: demo data (twice is fine),
then serve on the embedded SQLite default with no configuration."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.servers.ports import free_port


def tanya(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_")}
    return subprocess.run([sys.executable, "-m", "helpdesk.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def count_tickets(tmp_path: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'var' / 'tanya.db'}")
    with engine.connect() as conn:
        total = int(conn.execute(sa.text("SELECT count(*) FROM ticket")).scalar_one())
    engine.dispose()
    return total


def test_demo_then_serve_on_a_bare_directory(tmp_path: Path) -> None:
    first = tanya(tmp_path, "demo", "--tickets", "200")
    assert first.returncode == 0, first.stderr
    assert "supervisor" in first.stdout
    tickets = count_tickets(tmp_path)
    assert tickets >= 200
    again = tanya(tmp_path, "demo", "--tickets", "200")
    assert again.returncode == 0, again.stderr
    assert "nothing added" in again.stdout
    assert count_tickets(tmp_path) == tickets

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANYA_")}
    server = subprocess.Popen([sys.executable, "-m", "helpdesk.cli", "serve", "--port",
                               str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.3)
        assert health.json() == {"status": "ok"}
        signin = httpx.get(f"http://127.0.0.1:{port}/signin", timeout=5)
        assert signin.status_code == 200 and "csrf-token" in signin.text
        chat = httpx.get(f"http://127.0.0.1:{port}/chat", timeout=5)
        assert chat.status_code == 200
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C
        output, _ = server.communicate(timeout=30)
    # 130 is the shell's code for a program ended by Ctrl-C; the shutdown was clean.
    assert server.returncode in (0, 130), output
    assert "Application shutdown complete" in output and "Traceback" not in output
    assert "Created the administrator account admin@localhost" in output
