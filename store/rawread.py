"""Reading whole files with raw `os` calls: the readers' hot path (a scan opens ~300,000 files).

No buffered file objects: one `os.open`, one `os.read` for a small file, and for a big one a read
of the size `fstat` gives, then on to the end, which a file being appended to may have moved.
"""

from __future__ import annotations

import os

O_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
#: One read takes a file this size whole (meta.yaml, params, tags, short metric files).
CHUNK = 1 << 16


def read_bytes(path: str) -> bytes:
    """The whole content of a file (raises OSError; a folder raises IsADirectoryError)."""
    fd = os.open(path, O_READ)
    try:
        data = os.read(fd, CHUNK)
        if len(data) == CHUNK:
            # A big file (a long metric history): read it again in one piece, not copied twice.
            os.lseek(fd, 0, os.SEEK_SET)
            data = read_rest(fd, 0)
        return data
    finally:
        os.close(fd)


def read_rest(fd: int, done: int = CHUNK, size: int | None = None) -> bytes:
    """What is left of an open file after its first `done` bytes (`size`: its fstat size).

    One read of the size fstat gives (a 3 MB metric file in 0.2 ms, where 1 MB reads joined
    take 5 ms), then reads to the end.
    """
    if size is None:
        size = os.fstat(fd).st_size
    chunks = [os.read(fd, max(size - done, 0) + CHUNK)]
    while chunk := os.read(fd, CHUNK * 16):
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
