"""A throwaway PostgreSQL cluster on a free loopback port, for tests.

Debian's server binaries refuse to run as root, so when the tests run as root
the cluster belongs to the ``postgres`` OS user that the package creates.
"""

from __future__ import annotations

import atexit
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

from . import Reaper
from .ports import free_port

__all__ = ["PostgresCluster", "PostgresNotInstalled", "find_bindir"]

HOST = "127.0.0.1"
SUPERUSER = "postgres"
OS_USER = "postgres"

_VALID_DBNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class PostgresNotInstalled(RuntimeError):
    """The PostgreSQL server binaries are missing on this machine."""


def find_bindir() -> Path:
    """Directory holding initdb/pg_ctl of the newest installed major version."""
    candidates = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def major(path: str) -> float:
        try:
            return float(Path(path).parent.parent.name)
        except ValueError:
            return -1.0

    if not candidates:
        raise PostgresNotInstalled(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb). "
            "Install the Debian package: apt-get install -y --no-install-recommends "
            "postgresql  (or run `bash tests/run.sh`, which installs it)."
        )
    return Path(max(candidates, key=major)).parent


def _run_as_other_user() -> bool:
    return os.geteuid() == 0


class PostgresCluster:
    """initdb + pg_ctl in a private temp directory.

    >>> pg = PostgresCluster(); pg.start()
    >>> url = pg.create_database("intake_test")   # postgresql+psycopg://...
    >>> pg.stop()
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        max_connections: int = 200,
        bindir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port(HOST)
        self.host = HOST
        self.max_connections = max_connections
        self._bindir = bindir
        self._settings = settings or {}
        self._base: Path | None = None
        self._reaper: Reaper | None = None
        self._running = False
        self._databases: set[str] = set()
        atexit.register(self.stop)

    # -- paths -----------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        if self._base is None:
            raise RuntimeError("cluster has not been started")
        return self._base

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def running(self) -> bool:
        return self._running

    # -- URLs ------------------------------------------------------------
    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of a database in this cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string for psycopg.connect()."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    # -- life cycle --------------------------------------------------------
    def _cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        bindir = self._bindir or find_bindir()
        argv = [str(bindir / args[0]), *args[1:]]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.base_dir),
        }
        other = _run_as_other_user()
        proc = subprocess.run(
            argv,
            env=env,
            cwd=self.base_dir,
            user=OS_USER if other else None,
            group=OS_USER if other else None,
            extra_groups=[] if other else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed with status {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}{self._log_tail()}"
            )
        return proc

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-30:]
        except OSError:
            return ""
        return "\n--- postgres.log (tail) ---\n" + "\n".join(lines)

    def _init(self) -> None:
        if self._bindir is None:
            self._bindir = find_bindir()
        # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700 and the
        # postgres user could not reach its data directory through it.
        self._base = Path(tempfile.mkdtemp(prefix="tanya-pg-"))
        self.socket_dir.mkdir()
        # SIGQUIT is PostgreSQL's immediate shutdown.
        self._reaper = Reaper(
            pidfile=self.data_dir / "postmaster.pid",
            sig=signal.SIGQUIT,
            group=False,
            remove=self._base,
        )
        if _run_as_other_user():
            shutil.chown(self._base, OS_USER, OS_USER)
            shutil.chown(self.socket_dir, OS_USER, OS_USER)
        self._cmd(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        )
        settings = {
            "port": str(self.port),
            "listen_addresses": f"'{HOST}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "max_connections": str(self.max_connections),
            # Durability is pointless for a cluster deleted after the run.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
            "log_min_messages": "warning",
            **self._settings,
        }
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        # Written as root: the file stays readable by postgres (0644 umask),
        # which is all the server needs.
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n# tests/servers/postgres.py\n" + conf)

    def start(self) -> PostgresCluster:
        """Create (first time) and start the cluster; waits until it accepts."""
        if self._running:
            return self
        if self._base is None:
            self._init()
        self._cmd(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._running = True
        return self

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop at once (no shutdown checkpoint); idempotent.

        keep_data=True leaves the data so that start() brings the same cluster
        back on the same port (a test of "database down, then back").
        """
        if self._base is None:
            return
        if self._running:
            proc = self._cmd(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
                check=False,
            )
            if proc.returncode != 0:
                self._kill_postmaster()
            self._running = False
        if not keep_data:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None
            self._databases.clear()
            if self._reaper is not None:
                self._reaper.disarm()
                self._reaper = None

    def _kill_postmaster(self) -> None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)

    # -- databases -----------------------------------------------------------
    def execute(self, statement: str | sql.SQL | sql.Composed, dbname: str = "postgres") -> None:
        """Run one statement in autocommit mode (CREATE/DROP DATABASE need it)."""
        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database and return its SQLAlchemy URL.

        template0 is copied because it never has connections, so parallel
        creations cannot fail with "source database is being accessed".
        """
        if name is None:
            name = "t_" + uuid.uuid4().hex[:16]
        if not _VALID_DBNAME.match(name):
            raise ValueError(f"invalid database name {name!r}")
        self.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
        self._databases.add(name)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting anything still attached to it."""
        self.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        self._databases.discard(name)

    # -- context manager -------------------------------------------------
    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
