"""A throwaway Dovecot IMAP server on a free loopback port, for tests.

Dovecot's login processes refuse to run as root, so when the tests run as root
the whole server runs as ``nobody``/``nogroup`` from a directory in /tmp that
this user can reach (see NOTES-servers.md).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from . import Reaper
from .ports import free_port

__all__ = ["DOVECOT_BIN", "DovecotNotInstalled", "DovecotServer", "close_imap_client"]

DOVECOT_BIN = "/usr/sbin/dovecot"
HOST = "127.0.0.1"

_counter = itertools.count()


class DovecotNotInstalled(RuntimeError):
    """Dovecot is missing on this machine."""


def _server_identity() -> tuple[str, str, int, int]:
    """(user, group, uid, gid) the server runs as."""
    if os.geteuid() == 0:
        user, group = "nobody", "nogroup"
        return user, group, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    uid, gid = os.geteuid(), os.getegid()
    return pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name, uid, gid


_CONFIG = """\
# Written by tests/servers/dovecot.py: a loopback-only, unprivileged test server.
protocols = imap
listen = {host}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
debug_log_path = {base}/dovecot.log
instance_name = tanya-test-{port}
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# A wrong password is answered at once instead of after 2 s, and the anvil
# penalty for repeated failures from one IP does not slow later tests.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
# Many tests open several connections for one user at once.
mail_max_userip_connections = 512
# IDLE: changes are noticed through inotify; this is the fallback check
# interval for when inotify is unavailable (default 30 s).
mailbox_idle_check_interval = 1 secs
imap_idle_notify_interval = {idle_notify}
shutdown_clients = yes

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
  # Without a reachable penalty socket the auth process skips anvil's
  # growing delay (up to 15 s) after repeated failed logins from one IP:
  # tests of wrong passwords must not slow the tests after them.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
service imap {{
  process_limit = 1024
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
"""


class DovecotServer:
    """Dovecot serving Maildirs for the given users (name -> password).

    >>> imap = DovecotServer({"inbox@ptsp.test": "secret"}); imap.start()
    >>> imap.host, imap.port                          # ("127.0.0.1", 40123)
    >>> imap.deliver("inbox@ptsp.test", raw_bytes)     # or APPEND over IMAP
    >>> imap.stop(); imap.start()                      # same port, same mail
    >>> imap.close()                                   # stop and delete
    """

    def __init__(
        self,
        users: dict[str, str],
        *,
        port: int | None = None,
        idle_notify_interval: str = "2 mins",
    ) -> None:
        if not users:
            raise ValueError("at least one user is needed")
        for name, password in users.items():
            if any(ch in name + password for ch in ":\n\r") or not name:
                raise ValueError(f"user {name!r}: ':' and newlines are not allowed")
        self.users = dict(users)
        self.host = HOST
        self.port = port or free_port(HOST)
        self._idle_notify = idle_notify_interval
        self._user, self._group, self._uid, self._gid = _server_identity()
        self._base: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reaper: Reaper | None = None
        atexit.register(self.close)

    # -- paths -----------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        if self._base is None:
            raise RuntimeError("server has not been started")
        return self._base

    @property
    def config_file(self) -> Path:
        return self.base_dir / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "dovecot.log"

    def home(self, user: str) -> Path:
        return self.base_dir / "home" / user

    def maildir(self, user: str) -> Path:
        """The user's INBOX Maildir (with cur/, new/, tmp/)."""
        if user not in self.users:
            raise KeyError(f"unknown IMAP user {user!r}")
        return self.home(user) / "Maildir"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- set-up ------------------------------------------------------------
    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self._uid, self._gid)

    def _mkdir(self, path: Path, mode: int = 0o755) -> None:
        path.mkdir(mode=mode, exist_ok=True)
        path.chmod(mode)
        self._chown(path)

    def _prepare(self) -> None:
        if not os.path.exists(DOVECOT_BIN):
            raise DovecotNotInstalled(
                f"{DOVECOT_BIN} not found. Install the Debian package: apt-get install -y "
                "--no-install-recommends dovecot-imapd  (or run `bash tests/run.sh`, "
                "which installs it)."
            )
        # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700 and the
        # unprivileged server could not traverse it.
        base = Path(tempfile.mkdtemp(prefix="tanya-dovecot-"))
        self._base = base
        # The master leads its own process group (start_new_session), and
        # writes its pid to base_dir/master.pid.
        self._reaper = Reaper(
            pidfile=base / "run" / "master.pid", sig=signal.SIGKILL, group=True, remove=base
        )
        self._mkdir(base)
        for sub in ("run", "state", "home"):
            self._mkdir(base / sub)
        for user in self.users:
            self._mkdir(self.home(user), 0o700)
            maildir = self.maildir(user)
            self._mkdir(maildir, 0o700)
            for sub in ("cur", "new", "tmp"):
                self._mkdir(maildir / sub, 0o700)
        lines = [
            f"{user}:{{PLAIN}}{password}:{self._uid}:{self._gid}::{self.home(user)}::nodelay=yes\n"
            for user, password in self.users.items()
        ]
        users_file = base / "users"
        users_file.write_text("".join(lines), encoding="utf-8")
        users_file.chmod(0o600)
        self._chown(users_file)
        self.config_file.write_text(
            _CONFIG.format(
                host=self.host,
                port=self.port,
                base=base,
                user=self._user,
                group=self._group,
                uid=self._uid,
                gid=self._gid,
                idle_notify=self._idle_notify,
            ),
            encoding="utf-8",
        )
        self.config_file.chmod(0o644)

    # -- life cycle --------------------------------------------------------
    def start(self, timeout: float = 15.0) -> DovecotServer:
        """Start (or restart after stop()) and wait for the IMAP greeting."""
        if self.running:
            return self
        if self._base is None:
            self._prepare()
        root = os.geteuid() == 0
        self._proc = subprocess.Popen(
            [DOVECOT_BIN, "-F", "-c", str(self.config_file)],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            cwd=self.base_dir,
            user=self._uid if root else None,
            group=self._gid if root else None,
            extra_groups=[] if root else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Own process group, so stop() can kill every child it forked.
            start_new_session=True,
        )
        try:
            self._wait_for_greeting(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_greeting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited with status {self._proc.returncode}{self._log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                    greeting = sock.recv(1024)
                    if greeting.startswith(b"* OK"):
                        sock.sendall(b"z LOGOUT\r\n")
                        return
                    last_error = RuntimeError(f"unexpected greeting {greeting!r}")
            except OSError as exc:
                last_error = exc
            time.sleep(0.01)
        raise TimeoutError(
            f"dovecot did not greet on {self.host}:{self.port}: {last_error}{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-30:]
        except (OSError, RuntimeError):
            return ""
        return "\n--- dovecot.log (tail) ---\n" + "\n".join(lines)

    def stop(self, *, graceful: bool = True, timeout: float = 5.0) -> None:
        """Stop the server, keeping its mail and port for a later start().

        graceful=False kills it with SIGKILL: a crash, as seen by clients.
        Idempotent.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            if graceful:
                self._signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    pass
            self._signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        else:
            # The master is gone; its children may not be.
            self._signal_group(proc.pid, signal.SIGKILL)
        self._proc = None

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Stop and delete the server's directory and all mail; idempotent."""
        self.stop(graceful=False)
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
        if self._reaper is not None:
            self._reaper.disarm()
            self._reaper = None

    # -- mail --------------------------------------------------------------
    def deliver(self, user: str, raw: bytes) -> Path:
        """Drop one message into the user's INBOX as a new, unseen message.

        Written to tmp/ and renamed into new/ as the Maildir format requires,
        so the server never sees a half-written file.
        """
        maildir = self.maildir(user)
        now = time.time()
        unique = f"{int(now)}.M{int(now % 1 * 1e6)}P{os.getpid()}Q{next(_counter)}.tanya-test"
        tmp = maildir / "tmp" / unique
        with open(tmp, "wb") as fh:
            fh.write(raw)
        os.chmod(tmp, 0o600)
        self._chown(tmp)
        final = maildir / "new" / f"{unique},S={len(raw)}"
        os.rename(tmp, final)
        return final

    def message_files(self, user: str) -> list[Path]:
        """Every message file in the user's INBOX (new/ and cur/)."""
        maildir = self.maildir(user)
        return sorted([*(maildir / "new").iterdir(), *(maildir / "cur").iterdir()])

    # -- context manager ---------------------------------------------------
    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


async def close_imap_client(client: Any, timeout: float = 2.0) -> None:  # noqa: ASYNC109
    """LOGOUT an aioimaplib client and close its socket, even if the server is gone.

    aioimaplib returns from logout() once the server's tagged OK arrives but
    leaves closing the socket to the server's EOF; if the event loop ends
    first, the open socket surfaces as a ResourceWarning (an error in this
    test suite). So the transport is closed here explicitly.
    """
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.protocol.logout(), timeout)
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        transport.close()
        # Let the loop run the transport's close callback now.
        await asyncio.sleep(0)
