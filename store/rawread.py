"""Reading whole files with raw `os` calls: the readers' hot path (a scan opens ~300,000 files).

No buffered file objects: one `os.open`, one `os.read` for a small file, and for a big one a read
of the size `fstat` gives, then on to the end, which a file being appended to may have moved.

A store may hold hostile files, so every file is opened without blocking (a FIFO would block
`open` and `read` forever), without following a symbolic link out of the store (a link to
/dev/zero or /etc/passwd), and read only when it is a regular file of a sane size.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import OrderedDict

#: Non-blocking: opening a FIFO with no writer would otherwise wait forever (regular files
#: ignore the flag).
O_READ = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: `O_READ` refusing a symbolic link (ELOOP): for a file listed as regular, in case it was
#: replaced by a link since.
O_NOFOLLOW_READ = O_READ | _O_NOFOLLOW
#: One read takes a file this size whole (meta.yaml, params, tags, short metric files).
CHUNK = 1 << 16
#: MLflow writes a tag, param or meta.yaml by opening it with "w" (which truncates) and then
#: writing, so a reader in between sees nothing (49 of 8,354 readings of a tag MLflow kept
#: setting came out ""). An empty file is read again until it has content or it is this old:
#: the writer gets this long from its truncate (its mtime) to write.
REWRITE_NS = 300_000_000
#: How often such a file is looked at meanwhile.
REWRITE_POLL_SECONDS = 0.005

#: The most read of one meta.yaml, param or tag file; MLflow's own values are at most a few KB.
MAX_FILE_BYTES = 16 << 20
#: Databases whose header `read_db_header` keeps a descriptor of (the oldest closed beyond).
DB_HEADER_FDS = 64
_db_fds: OrderedDict[tuple[int, int], int] = OrderedDict()
_db_fds_lock = threading.Lock()


class SkippedFile(OSError):
    """A file not read because of what it is (`strerror` says what); callers warn and go on."""

    def __init__(self, path: str, why: str):
        super().__init__(errno.EPERM, why, path)


def inside(root_real: str, target_real: str) -> bool:
    """True when the real path `target_real` is `root_real` or under it."""
    return target_real == root_real or target_real.startswith(root_real.rstrip(os.sep) + os.sep)


def open_regular(path: str, root_real: str | None = None) -> tuple[int, os.stat_result]:
    """(fd, fstat) of the regular file at `path`, opened without blocking.

    A symbolic link is followed only when it leads inside `root_real` (a real path: the store's
    folder); without a root, never. Anything but a regular file (FIFO, device, socket) raises
    `SkippedFile`, as does a link leading out; a folder raises IsADirectoryError, and other
    failures OSError as `os.open` does.
    """
    try:
        fd = os.open(path, O_NOFOLLOW_READ)
    except OSError as exc:
        if exc.errno != errno.ELOOP or not _O_NOFOLLOW:
            raise
        target = os.path.realpath(path)
        if root_real is None or not inside(root_real, target):
            raise SkippedFile(path, "a symbolic link leading out of the store") from None
        fd = os.open(target, O_NOFOLLOW_READ)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not stat.S_ISREG(st.st_mode):
            raise SkippedFile(path, f"not a regular file ({_kind(st.st_mode)})")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def check_size(path: str, size: int, limit: int = MAX_FILE_BYTES) -> None:
    """Raise `SkippedFile` when a file of `size` bytes is more than `limit` to read whole."""
    if size > limit:
        raise SkippedFile(path, f"{size:,} bytes, more than the {limit:,} read at most")


def read_bytes(
    path: str, root_real: str | None = None, limit: int | None = MAX_FILE_BYTES
) -> bytes:
    """The whole content of a regular file (see `open_regular`; `limit`: None for no limit).

    Raises OSError (`SkippedFile` for a file not read because of what it is); a folder raises
    IsADirectoryError.
    """
    fd, st = open_regular(path, root_real)
    try:
        if limit is not None:
            check_size(path, st.st_size, limit)
        data = os.read(fd, CHUNK)
        if len(data) == CHUNK:
            # A big file (a long metric history): read it again in one piece, not copied twice.
            os.lseek(fd, 0, os.SEEK_SET)
            data = read_rest(fd, 0, st.st_size, limit)
        return data
    finally:
        os.close(fd)


def read_rest(
    fd: int, done: int = CHUNK, size: int | None = None, limit: int | None = None
) -> bytes:
    """What is left of an open file after its first `done` bytes (`size`: its fstat size).

    One read of the size fstat gives (a 3 MB metric file in 0.2 ms, where 1 MB reads joined
    take 5 ms), then reads to the end, which a file being appended to may have moved; with a
    `limit`, at most that many bytes in all (a file growing without end stops there).
    """
    if size is None:
        size = os.fstat(fd).st_size
    chunks = [os.read(fd, max(size - done, 0) + CHUNK)]
    total = done + len(chunks[0])
    while (limit is None or total <= limit) and (chunk := os.read(fd, CHUNK * 16)):
        chunks.append(chunk)
        total += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def read_rewritten(path: str, root_real: str | None = None) -> bytes:
    """The content of a regular file that was just read empty, once its writer has written it.

    Waits only while the file is younger than REWRITE_NS: an empty value written long ago
    (or even half a second ago) costs one stat. b"" when it stays empty.
    """
    deadline = None
    while True:
        try:
            st = os.stat(path)
        except OSError:
            return b""
        if not stat.S_ISREG(st.st_mode):
            return b""
        now = time.time_ns()
        if deadline is None:
            # From the truncate; a clock far ahead (a network filesystem) waits no longer.
            deadline = min(st.st_mtime_ns, now) + REWRITE_NS
        if st.st_size:
            try:
                data = read_bytes(path, root_real)
            except OSError:
                return b""
            if data:
                return data
        if now >= deadline:
            return b""
        time.sleep(min(REWRITE_POLL_SECONDS, (deadline - now) / 1e9))


def read_head(path: str, size: int, root_real: str | None = None) -> bytes:
    """Up to the first `size` bytes of a regular file (a preview); see `open_regular`."""
    fd, _ = open_regular(path, root_real)
    try:
        chunks = []
        while size > 0 and (chunk := os.read(fd, min(size, CHUNK * 16))):
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_db_header(path: str, size: int = 100) -> bytes:
    """The first `size` bytes of the regular file at `path`, a database this process may hold
    SQLite locks on (a registry write, a read transaction), read without ever closing a
    descriptor of it: any close drops every POSIX lock the process holds on the file, SQLite's
    included, and MLflow would then write in the middle of our write (its commits failed with
    "disk I/O error" while we opened stores and wrote the registry). As SQLite itself does,
    the descriptor is kept, one per file, for the next look."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise SkippedFile(path, _kind(st.st_mode))
    key = (st.st_dev, st.st_ino)
    with _db_fds_lock:
        fd = _db_fds.get(key)
        if fd is not None and os.fstat(fd).st_nlink == 0:
            # That file was deleted and its inode number reused: closing it drops no lock on
            # the new one (locks belong to the file, not the number).
            os.close(_db_fds.pop(key))
            fd = None
        if fd is None:
            fd = os.open(path, O_READ)
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            # Replaced between stat and open by a file whose descriptor we keep already: that
            # one stays, and this one is left open (closing it would drop the locks).
            fd = _db_fds.setdefault(key, fd)
        _db_fds.move_to_end(key)
        while len(_db_fds) > DB_HEADER_FDS:
            os.close(_db_fds.popitem(last=False)[1])
        return os.pread(fd, size, 0)
