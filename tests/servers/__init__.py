"""Real servers started by the tests on 127.0.0.1: PostgreSQL, Dovecot IMAP,
an aiosmtpd SMTP server and Debian's Chromium (through Playwright).

Each helper starts in well under a second and cleans up after itself; see the
module docstrings for the API.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

__all__ = ["Reaper"]

# Runs in its own session, so a SIGKILL or a timeout that ends the test run
# does not take it along: it waits for EOF on stdin, which comes when the test
# process closes the pipe or dies. Unless told "disarm" first, it then stops
# the server (signal to the pid in its pid file) and deletes its directory.
_REAPER = r"""
import json, os, shutil, signal, sys, time
spec = json.loads(sys.argv[1])
if sys.stdin.buffer.read().endswith(b"disarm"):
    sys.exit(0)
pid = 0
try:
    with open(spec["pidfile"]) as fh:
        pid = int(fh.readline().split()[0])
except (OSError, ValueError, IndexError):
    pass
if pid > 0:
    try:
        if spec["group"]:
            os.killpg(pid, spec["signal"])
        else:
            os.kill(pid, spec["signal"])
        for _ in range(250):
            os.kill(pid, 0)
            time.sleep(0.02)
    except ProcessLookupError:
        pass
shutil.rmtree(spec["remove"], ignore_errors=True)
"""


class Reaper:
    """A watchdog process that cleans up a server if the test run dies."""

    def __init__(self, *, pidfile: Path, sig: int, group: bool, remove: Path) -> None:
        spec = {"pidfile": str(pidfile), "signal": sig, "group": group, "remove": str(remove)}
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-c", _REAPER, json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def disarm(self) -> None:
        """The server was cleaned up normally: let the watchdog exit idle."""
        proc, self._proc = self._proc, None
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(b"disarm")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        proc.wait()
