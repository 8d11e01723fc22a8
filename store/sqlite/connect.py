"""Opening an MLflow SQLite database (`mlflow.db`): read-only, and creating no file beside it.

The database is opened through a `mode=ro` URI and is never created, migrated or written. A
WAL database with no `-shm` is read without locks (`_open`: SQLite's unix-none VFS, or
immutable), and such a connection is never closed (`_let_go`). Each read is one transaction
(`snapshot`); a read meeting a writer's lock waits briefly inside SQLite, then `read` tries
again until `busy_timeout`. The header says whether the file is an SQLite database at all, and
in WAL mode; its schema is checked by `read_schema` (reader.py).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

from ..errors import NotAStoreError, StoreError, StoreLocked
from ..rawread import read_db_header
from .database import ReadAgain, SqlDatabase

SQLITE_MAGIC = b"SQLite format 3\x00"
#: How long one try to read waits inside SQLite for a writer's lock; `read` tries again after
#: a pause until `busy_timeout` has passed (database.py).
LOCK_ATTEMPT_SECONDS = 0.1
#: unix-none connections let go of, kept open for the process's lifetime (`_let_go`), as
#: rawread.read_db_header keeps its descriptors.
_KEPT_OPEN: list[sqlite3.Connection] = []


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


class SqliteConnection(SqlDatabase):
    """An SQLite database file's read-only connection, its transactions and its errors."""

    #: The database file.
    location: Path
    #: The database engine, as messages name it.
    database_kind = "SQLite"

    def __init__(self, db_path: Path | str, busy_timeout: float) -> None:
        location = Path(db_path).absolute()
        # MLflow 3 puts `./mlruns` beside the database; 1.x recorded paths relative to it.
        super().__init__(location, location.parent, busy_timeout)
        self._conn: sqlite3.Connection | None = None
        #: Read without locks (see `_open`), valid while the files are as `_opened_files` says.
        self._private = False
        self._opened_files: tuple = ()
        #: The connection is unix-none's, which is never closed (`_let_go`).
        self._unix_none = False
        self._check_file()

    def _check_file(self) -> None:
        path = self.location
        if not path.exists():
            raise NotAStoreError(f"{path} does not exist")
        if path.is_dir():
            raise NotAStoreError(f"{path} is a folder, not an SQLite database")
        try:
            header = read_db_header(str(path))
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not header:
            raise NotAStoreError(f"{path} is an empty file, not an MLflow database")
        if not header.startswith(SQLITE_MAGIC):
            raise NotAStoreError(f"{path} is not an SQLite database")
        # Bytes 18-19 are the file format's write/read versions: 2 means WAL mode.
        self._wal = len(header) >= 20 and 2 in (header[18], header[19])

    def _files(self) -> tuple:
        """(mtime_ns, size, inode) of the database, its `-wal` and its `-shm`; None if absent."""
        out: list[tuple[int, int, int] | None] = []
        for suffix in ("", "-wal", "-shm"):
            try:
                st = os.stat(f"{self.location}{suffix}")
            except OSError:
                out.append(None)
            else:
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def _connect(self, options: str) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                f"file:{quote(str(self.location))}?mode=ro{options}",
                uri=True,
                # Each attempt waits briefly inside SQLite; `read` retries until busy_timeout.
                timeout=min(self.busy_timeout, LOCK_ATTEMPT_SECONDS),
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _open(self) -> sqlite3.Connection:
        """Connect read-only, in a way that creates no file beside the database.

        A read-only connection to a WAL database creates a missing `-shm` or `-wal` and leaves
        it behind, or fails in a folder it cannot write. Every connection to a WAL database
        makes both, so with either missing no other process has it open, and we read it
        privately (with no `-wal`, immutable): SQLite's lock-free "unix-none" VFS in exclusive locking mode keeps the WAL
        index in our own memory, creates nothing and still reads the commits in the `-wal`.
        That holds while the files stay as they were; `_connection` and `snapshot` reopen
        (normally, once a writer has made its `-shm`) and read again when they change.
        """
        self._opened_files = files = self._files()
        self._wal_unseen = False
        # With no -wal, even beside a -shm left over, a connection would create the -wal.
        self._private = self._wal and None in files[1:]
        why = f"{self.location.name} is in WAL mode with no -shm file beside it"
        if not self._private:
            conn = self._connect("")
            if not self._wal:
                return conn
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                error = self._error(exc)
                if isinstance(error, StoreLocked):
                    raise error from exc
                # Typically a `-shm` we may not read: its WAL index is out of reach.
                self._private = True
                why = f"could not open the WAL index of {self.location.name} ({exc})"
        conn = self._open_private(files)
        if files[1] is None:
            self._note(
                f"{self.location.name} is in WAL mode with no -wal file beside it: opened it "
                "immutable so that reading creates no files; reopened normally once a writer "
                "appears"
            )
        elif not self._wal_unseen:
            self._note(
                f"{why}: read without locks so that reading creates no file (commits in its "
                "-wal included); reopened normally when its files change"
            )
        return conn

    def _open_private(self, files: tuple) -> sqlite3.Connection:
        if files[1] is None:
            # No -wal: every commit is in the database file. unix-none would create an empty
            # -wal for as long as it is open; immutable creates nothing.
            return self._connect("&immutable=1")
        try:
            conn = self._connect("&vfs=unix-none")
        except StoreError:
            # No unix-none VFS (not a Unix): immutable creates nothing but ignores the -wal.
            conn = self._connect("&immutable=1")
        else:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # before the first read: no -shm
            self._unix_none = True
            return conn
        if files[1][1] > 0:
            self._wal_unseen = True
            self.warnings.add(
                f"{self.location.name}-wal holds commits that cannot be read here without "
                "creating a -shm file beside the database: they are not shown"
            )
        return conn

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _connection(self) -> sqlite3.Connection:
        if self.closing.is_set():
            raise StoreError(f"{self.location} is closed")
        if self._conn is not None and self._private and self._files() != self._opened_files:
            # A writer came (or the files were replaced): private reads could now be torn.
            self._let_go()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def close(self) -> None:
        """Close the connection; a read waiting for a writer's lock gives up."""
        super().close()
        with self.read_lock:
            self._let_go()

    def _let_go(self) -> None:
        """Close the connection, or keep it for good if closing could drop a lock.

        Closing a unix-none connection closes its own descriptor of the database, and any close
        drops every POSIX lock this process holds on the file: our registry writer's write in
        flight would lose its lock, and another process's last connection could then delete
        the -wal under it (the write lost). The unix VFS (immutable and normal connections)
        keeps such a descriptor open itself while the process holds locks on the file.
        """
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._unix_none:
            self._unix_none = False
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA shrink_memory")  # its page cache: all it costs is the fd
            _KEPT_OPEN.append(conn)
        else:
            conn.close()

    def _error(self, exc: sqlite3.Error) -> StoreError:
        """The StoreError saying in one sentence what an SQLite error means for the reader."""
        text = str(exc)
        code = (getattr(exc, "sqlite_errorname", None) or "").upper()
        low = text.lower()
        if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in low:
            return StoreLocked(
                f"{self.location} is locked by a process writing to it (waited "
                f"{self.busy_timeout:g} s); try again in a moment"
            )
        if code == "SQLITE_READONLY_ROLLBACK":
            return StoreError(
                f"{self.location} holds an unfinished write left by a crashed writer (its "
                "-journal file); opening it once with MLflow or the sqlite3 shell rolls it back"
            )
        if code.startswith("SQLITE_NOTADB") or "not a database" in low:
            return NotAStoreError(f"{self.location} is not an SQLite database ({text})")
        if code.startswith("SQLITE_CORRUPT") or "malformed" in low:
            return StoreError(f"{self.location} is damaged: {text}")
        return StoreError(f"cannot read {self.location}: {text}")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so the queries inside it see the same state of the database.

        Kept short: while it is open a writer in rollback-journal mode waits to commit.
        """
        with self.read_lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                _rollback(conn)
                if "decode" in str(exc).lower() and conn.text_factory is str:
                    # Text that is not UTF-8: MLflow itself would fail; we read it with
                    # replacement characters (slower, so only once it is needed).
                    conn.text_factory = _text
                    self.warnings.add(
                        f"{self.location} holds text that is not valid UTF-8; "
                        "shown with replacement characters"
                    )
                    raise ReadAgain from exc
                raise self._error(exc) from exc
            except sqlite3.Error as exc:
                _rollback(conn)
                raise self._error(exc) from exc
            except BaseException:
                _rollback(conn)
                raise
            else:
                conn.execute("COMMIT")
                if self._private and self._files() != self._opened_files:
                    raise ReadAgain  # read without locks while the files changed: maybe torn

    def display_name(self) -> str:
        """The database as warnings name it."""
        return self.location.name


def _rollback(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):  # no transaction left to end
        conn.execute("ROLLBACK")
