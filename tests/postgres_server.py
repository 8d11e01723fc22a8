"""A throwaway PostgreSQL server for the tests of the direct PostgreSQL store.

`PostgresServer` runs initdb into a temporary folder and starts `postgres` on 127.0.0.1 at a
free port (a socket folder of its own, fsync off: the data is thrown away). initdb refuses to
run as root, so as root every server command runs as the `postgres` system user, the folder
chowned to it. The superuser `postgres` logs in over TCP with a password (scram-sha-256), so
the tests meet password authentication as a team server has it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

#: The programs the tests need, looked for on PATH and then in Debian's versioned folders.
PROGRAMS = ("initdb", "pg_ctl", "postgres")
SUPERUSER = "postgres"
PASSWORD = "s3cret-pw"
#: Seconds to wait for the server to accept connections: generous for a loaded CI machine.
START_TIMEOUT = 120


def find_bin_dir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: PATH first, then the newest
    /usr/lib/postgresql/<version>/bin; None when there is none."""
    on_path = [shutil.which(p) for p in PROGRAMS]
    if all(on_path):
        # Each may be a symlink into the real folder (Debian's /usr/local/bin links).
        return Path(os.path.realpath(on_path[0])).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    return next((d for d in versions if all((d / p).is_file() for p in PROGRAMS)), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, started and stopped by the tests."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # Not under pytest's tmp folder: that is private to root, and the server may run as
        # the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="mltui-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", SUPERUSER, "--"]

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin_dir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stderr or done.stdout)[-2000:]}")

    def start(self) -> None:
        self.sockets.mkdir()
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self.as_user:
            shutil.chown(self.root, SUPERUSER)
            for path in (self.sockets, pwfile):
                shutil.chown(path, SUPERUSER)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            str(START_TIMEOUT),
            "start",
        )
        self._wait_until_accepting()

    def _wait_until_accepting(self) -> None:
        import psycopg

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                psycopg.connect(self.conninfo("postgres"), connect_timeout=5).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "immediate", timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- addresses ---------------------------------------------------------------------------
    def uri(self, database: str, *, password: str | None = PASSWORD, scheme="postgresql") -> str:
        auth = SUPERUSER if password is None else f"{SUPERUSER}:{password}"
        return f"{scheme}://{auth}@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str) -> str:
        return self.uri(database)

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URI (password included)."""
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.uri(name)

    def execute(self, database: str, *statements: str) -> None:
        """Run SQL as the superuser (tests that alter a database)."""
        import psycopg

        with psycopg.connect(self.conninfo(database), autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)
