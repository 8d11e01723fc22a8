"""A cache of parsed metric histories, so that a chart of long histories opens again at once.

Parsing a 100,000-point metric file takes ~60 ms, and a query of as many SQLite rows ~100 ms:
a chart of 10 such runs spends most of a second reading. This cache keeps the columns of each
long history (steps, timestamps, values: the bytes of `array('q')`, `array('q')`, `array('d')`)
in the user's cache folder, one file per history, beside the scan cache (`cache_dir()`), never
in the store.

- File store: an entry is keyed on the metric file's path and remembers the file's
  (size, mtime_ns, inode) when parsed. The same signature is a hit without reading the file.
  MLflow only appends to a metric file, so a file that grew on the same inode is read, the part
  parsed before is checked to be byte for byte unchanged (its SHA-256), and only the new lines
  are parsed: a live run's history is re-read at the cost of its tail. Anything else (another
  inode, a shorter file, a changed prefix) is parsed whole. The parsed part ends at the last
  newline, so a half-written last line is parsed once it is complete, as without the cache.
- SQLite: an entry is keyed on the database, run and metric, and holds the signature of the
  database file and its `-wal` file: any commit changes one of them, and then the history is
  queried again.

As in the scan cache, a signature whose mtime is within the last few seconds is "racy" (a second
write within the filesystem's timestamp granularity could leave it unchanged): such an entry is
not trusted on its signature alone (file store: the prefix is checked; SQLite: not cached).
Entries are plain data, a `marshal` header then the arrays' raw bytes (never pickle), written
atomically (temporary file, then `os.replace`); a cache file that cannot be read or does not
match is ignored. Short histories are not cached (under MIN_FILE_BYTES, 256 KiB, or MIN_POINTS:
they parse faster than a cache file is written). The folder's series files are kept under
`MAX_BYTES` (256 MiB) together: the least recently used go first (a hit touches its file).
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .rawread import open_regular, read_rest

#: A file modified this recently is not trusted to show its next change in its signature
#: (the scan cache of file stores, store/file/scan_cache.py, uses it too).
RACY_NS = 3_000_000_000


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where mltui keeps caches: $MLTUI_CACHE_DIR, else $XDG_CACHE_HOME/mltui, else ~/.cache/mltui."""
    env = os.environ if env is None else env
    if env.get("MLTUI_CACHE_DIR"):
        return Path(env["MLTUI_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mltui"


#: Bump when the entry layout or the reader's semantics change: old entries are then ignored.
FORMAT = 1
_MAGIC = "mltui-series-cache"
#: Metric files smaller than this (about 8,000 points) are parsed, not cached.
MIN_FILE_BYTES = 1 << 18
#: SQLite histories of fewer points are queried, not cached.
MIN_POINTS = 8192
#: What the series files of the cache folder may hold together (least recently used go first).
MAX_BYTES = 256 << 20
_PREFIX = "series-"
_SUFFIX = ".marshal"

#: (steps, timestamps, values, malformed lines) as `file.metrics.metric_columns` gives them.
Columns = tuple[Sequence[int], Sequence[int], Sequence[float], int]


def _is_racy(mtime_ns: int | None, now_ns: int) -> bool:
    return mtime_ns is not None and mtime_ns > now_ns - RACY_NS


def _as_array(column: Sequence, typecode: str) -> array:
    return (
        column if type(column) is array and column.typecode == typecode else array(typecode, column)
    )


class SeriesCache:
    """Parsed histories of metric files and SQLite queries, one cache file per history."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        max_bytes: int | None = None,
        min_file_bytes: int | None = None,
        min_points: int | None = None,
    ) -> None:
        """Limits default to the module's MAX_BYTES, MIN_FILE_BYTES and MIN_POINTS."""
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self.min_file_bytes = MIN_FILE_BYTES if min_file_bytes is None else min_file_bytes
        self.min_points = MIN_POINTS if min_points is None else min_points
        self._lock = threading.Lock()

    # -- entries ---------------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        return self.directory / f"{_PREFIX}{digest}{_SUFFIX}"

    def _header(self, name: str) -> list[Any]:
        return [_MAGIC, FORMAT, marshal.version, sys.byteorder, name]

    def _fields(self, name: str) -> list[Any] | None:
        """An entry's fields alone (its header), or None if absent or unreadable."""
        try:
            with open(self._path(name), "rb") as fh:
                size = int.from_bytes(fh.read(4), "little")
                header = marshal.loads(fh.read(size))
            if header[:-2] != self._header(name) or type(header[-2]) is not list:
                return None
        except Exception:  # whatever is wrong with a cache file, it is only a cache
            return None
        return header[-2]

    def _load(self, name: str) -> tuple[list[Any], array, array, array] | None:
        """(the entry's fields, steps, timestamps, values), or None if absent or unreadable.

        A cache file is the length of a marshal'd header (4 bytes, little-endian), the header,
        then the three columns' bytes.
        """
        path = self._path(name)
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            size = int.from_bytes(data[:4], "little")
            header = marshal.loads(data[4 : 4 + size])
            if header[:-2] != self._header(name) or type(header[-2]) is not list:
                return None
            fields, n = header[-2], header[-1]
            start = 4 + size
            if type(n) is not int or len(data) != start + 24 * n:
                return None
            view = memoryview(data)
            columns = []
            for typecode in ("q", "q", "d"):
                column = array(typecode)
                column.frombytes(view[start : start + 8 * n])
                columns.append(column)
                start += 8 * n
        except Exception:  # whatever is wrong with a cache file, it is only a cache
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return fields, columns[0], columns[1], columns[2]

    def _save(self, name: str, fields: list[Any], steps: array, timestamps: array, values: array):
        """Write one entry atomically, then prune; failures are ignored (it is only a cache)."""
        try:
            header = marshal.dumps([*self._header(name), fields, len(values)])
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".series-", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(len(header).to_bytes(4, "little"))
                    fh.write(header)
                    for column in (steps, timestamps, values):
                        fh.write(memoryview(column))
                os.replace(tmp, self._path(name))
            except BaseException:
                os.unlink(tmp)
                raise
        except (OSError, ValueError):
            return
        self.prune()

    def prune(self) -> None:
        """Delete the least recently used series files until they hold at most `max_bytes`."""
        with self._lock:
            try:
                files = []
                with os.scandir(self.directory) as it:
                    for entry in it:
                        if entry.name.startswith(_PREFIX) and entry.name.endswith(_SUFFIX):
                            st = entry.stat()
                            files.append((st.st_mtime_ns, st.st_size, entry.path))
            except OSError:
                return
            total = sum(size for _, size, _ in files)
            for _, size, path in sorted(files):
                if total <= self.max_bytes:
                    break
                with contextlib.suppress(OSError):
                    os.unlink(path)
                total -= size

    # -- file store ------------------------------------------------------------------------------
    def metric_file(
        self, path: str, parse: Callable[[bytes], Columns], root_real: str | None = None
    ) -> Columns:
        """`parse` of the metric file at `path` (its complete lines), from the cache when it can.

        Raises OSError as reading the file would (FileNotFoundError when there is none); only
        a regular file is read, and a symlink only if it leads inside `root_real`.
        """
        fd, before = open_regular(path, root_real)
        try:
            if before.st_size < self.min_file_bytes:
                return parse(read_rest(fd, 0, before.st_size))
            name = _file_name(path)
            entry = _file_entry(self._load(name))
            sig = [before.st_size, before.st_mtime_ns, before.st_ino]
            if entry is not None and entry[0] == sig and entry[1]:
                return entry[5], entry[6], entry[7], entry[4]
            data = read_rest(fd, 0, before.st_size)
            after = os.fstat(fd)
        finally:
            os.close(fd)
        parsed = data.rfind(b"\n") + 1
        columns = None
        if entry is not None:
            old_sig, _, done, digest, bad, steps, timestamps, values = entry
            if (
                old_sig[2] == before.st_ino
                and done <= parsed
                and hashlib.sha256(memoryview(data)[:done]).digest() == digest
            ):
                # The lines parsed before are all still there: parse only those after them.
                columns = steps, timestamps, values, bad
                if done < parsed:
                    tail = _fit(parse(data[done:]))
                    columns = tail and (
                        steps + tail[0],
                        timestamps + tail[1],
                        values + tail[2],
                        bad + tail[3],
                    )
        if columns is None:
            whole = parse(data)
            columns = _fit(whole)
            if columns is None:  # a step beyond 64 bits: not cached, the caller decides
                return whole
        # Trusted on its signature alone only when the read saw one unchanging file, modified
        # long enough ago for a later change to show in the signature.
        trusted = (
            len(data) == before.st_size
            and [after.st_size, after.st_mtime_ns, after.st_ino] == sig
            and not _is_racy(before.st_mtime_ns, time.time_ns())
        )
        if entry is None or entry[:3] != (sig, trusted, parsed) or entry[4] != columns[3]:
            digest = hashlib.sha256(memoryview(data)[:parsed]).digest()
            fields = [sig, trusted, parsed, digest, columns[3]]
            self._save(name, fields, *columns[:3])
        return columns

    def holds_file(self, path: str, st: os.stat_result) -> bool:
        """Whether `metric_file(path)` would parse at most the lines added since it was cached:
        an entry made from this inode, of no more bytes than the file has now."""
        fields = _file_fields(self._fields(_file_name(path)))
        return fields is not None and fields[0][2] == st.st_ino and fields[2] <= st.st_size

    # -- SQLite ----------------------------------------------------------------------------------
    @staticmethod
    def database_signature(db_path: str) -> list[Any]:
        """(size, mtime_ns, inode) of the database and of its `-wal` file (None if absent)."""
        sig: list[Any] = []
        for path in (db_path, db_path + "-wal"):
            try:
                st = os.stat(path)
            except OSError:
                sig += [None, None, None]
            else:
                sig += [st.st_size, st.st_mtime_ns, st.st_ino]
        return sig

    def holds_query(self, db_path: str, run_id: str, key: str, variant: str = "") -> bool:
        """Whether `query` would answer from the cache (the database has not changed since)."""
        fields = self._fields(_query_name(db_path, run_id, key, variant))
        return fields == [self.database_signature(db_path)]

    def query(
        self,
        db_path: str,
        run_id: str,
        key: str,
        read: Callable[[], tuple[array, array, array]],
        variant: str = "",
    ) -> tuple[array, array, array]:
        """`read()` (steps, timestamps, values of one history), from the cache when it can.

        `variant` tells apart readings of the same file that can differ (a connection that
        cannot see the -wal file's commits keeps its own entries).
        """
        name = _query_name(db_path, run_id, key, variant)
        before = self.database_signature(db_path)
        cached = self._load(name)
        if cached is not None and cached[0] == [before]:
            return cached[1], cached[2], cached[3]
        steps, timestamps, values = read()
        now = time.time_ns()
        if (
            len(values) >= self.min_points
            and not any(_is_racy(before[i], now) for i in (1, 4))
            and self.database_signature(db_path) == before
        ):
            self._save(name, [before], steps, timestamps, values)
        return steps, timestamps, values

    # -- anything else -----------------------------------------------------------------------
    def holds(self, name: str, signature: list[Any]) -> bool:
        """Whether `keyed(name, signature, ...)` would answer without calling `read`."""
        return self._fields(name) == [signature]

    def keyed(
        self, name: str, signature: list[Any], read: Callable[[], tuple[array, array, array]]
    ) -> tuple[array, array, array]:
        """`read()` (steps, timestamps, values of one history), from the cache while the entry
        `name` was saved with an equal `signature` (the caller's proof that nothing changed)."""
        cached = self._load(name)
        if cached is not None and cached[0] == [signature]:
            return cached[1], cached[2], cached[3]
        steps, timestamps, values = read()
        if len(values) >= self.min_points:
            self._save(name, [signature], steps, timestamps, values)
        return steps, timestamps, values


def _file_name(path: str) -> str:
    return "file\0" + path


def _query_name(db_path: str, run_id: str, key: str, variant: str) -> str:
    return "sqlite\0" + "\0".join((db_path, run_id, key, variant))


def _fit(columns: Columns) -> tuple[array, array, array, int] | None:
    """The columns as arrays ('q', 'q', 'd'); None when a value does not fit (a huge step)."""
    try:
        return (
            _as_array(columns[0], "q"),
            _as_array(columns[1], "q"),
            _as_array(columns[2], "d"),
            columns[3],
        )
    except (OverflowError, TypeError):
        return None


def _file_entry(cached: tuple[list[Any], array, array, array] | None) -> tuple | None:
    """(signature, trusted, bytes parsed, their SHA-256, malformed lines, steps, timestamps,
    values) of a metric file's entry, or None when there is none or it is not of that shape."""
    if cached is None:
        return None
    fields = _file_fields(cached[0])
    return None if fields is None else (*fields, *cached[1:])


def _file_fields(fields: list[Any] | None) -> tuple | None:
    """(signature, trusted, bytes parsed, their SHA-256, malformed lines) of a metric file's
    entry, or None when they are not of that shape."""
    if fields is None or len(fields) != 5:
        return None
    sig, trusted, parsed, digest, bad = fields
    if (
        type(sig) is not list
        or len(sig) != 3
        or not all(type(v) is int for v in sig)
        or type(trusted) is not bool
        or type(parsed) is not int
        or type(digest) is not bytes
        or type(bad) is not int
    ):
        return None
    return sig, trusted, parsed, digest, bad
