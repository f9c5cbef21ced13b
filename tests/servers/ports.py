"""Free TCP ports on the loopback interface for throwaway test servers."""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["free_port", "wait_for_port"]

_lock = threading.Lock()
# The kernel may hand the same ephemeral port to two callers that each close
# their probe socket before the server binds; remembering what we gave out
# keeps servers of one test run from colliding with each other.
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with _lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port: int = sock.getsockname()[1]
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free TCP port found on {host}")


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until a TCP connection to ``host:port`` succeeds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing accepted connections on {host}:{port}") from exc
            time.sleep(0.01)
