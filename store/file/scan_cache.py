"""A cache of parsed runs so that reopening a large, unchanged file store takes well under a second.

Each run's parsed record is kept with the stat signature (mtime_ns, size, inode) of everything
whose change could change the record:

- `meta.yaml`: rewritten whole by MLflow (rename, or copy over when /tmp is another filesystem);
- each metric file: a point is an append, which changes the file's size and mtime only;
- each tag file: `set_tag` on an existing key rewrites the file in place, leaving its folder as is;
- the `params`, `metrics`, `tags` folders and their sub-folders: a new key (or a deleted tag)
  adds or removes a file, which changes the folder's mtime.

Param files are not stat'ed one by one: MLflow never rewrites a param with another value (it
refuses to, file_store._validate_new_param_value), so a new param always shows as a folder change.

A record whose files were modified in the last few seconds is not trusted later ("racy" in git's
terms: a second write within the filesystem's timestamp granularity could leave the signature
unchanged), so live runs are simply re-read. The cache lives in the user's cache folder, never in
the store, and holds plain data written with `marshal` (no pickle: nothing in it can run code),
after a SHA-256 of that data: a damaged file (a flipped bit can turn marshal data into other
well-formed data, another run's name or a metric's value) is dropped, never served. A cache that
cannot be read, for any reason, is ignored.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..process import GcPause
from ..series_cache import RACY_NS, cache_dir

#: Bump when the record layout or the reader's semantics change: old caches are then ignored.
FORMAT = 4
_MAGIC = "mltui-scan-cache"
_DIGEST_SIZE = hashlib.sha256().digest_size

#: Stat signature of a run folder as the reader collects it: a flat list of
#: (relative path, mtime_ns, size, inode) entries, None fields for a missing path.
Sig = list[Any]


def seal(data: bytes) -> bytes:
    """`data` as the cache file holds it: its SHA-256, then the data."""
    return hashlib.sha256(data).digest() + data


def unseal(sealed: bytes) -> bytes | None:
    """The data of a cache file, or None when it does not match its SHA-256 (damaged)."""
    digest, data = sealed[:_DIGEST_SIZE], sealed[_DIGEST_SIZE:]
    return data if hashlib.sha256(data).digest() == digest else None


def stat_entry(path: str, rel: str) -> Sig:
    """The signature entry of one path, recorded under the name `rel` (None fields if missing)."""
    try:
        s = os.stat(path)
    except OSError:
        return [rel, None, None, None]
    return [rel, s.st_mtime_ns, s.st_size, s.st_ino]


def unchanged(base: str, rels: tuple[str, ...], stats: list[Any]) -> bool:
    """True when every path `base + rel` still has the recorded (mtime, size, inode).

    `rels` start with "/" (or are "" for `base` itself). This is the whole cost of a warm
    reopen, ~18 stats a run: the usual case (nothing missing) is one comprehension and one list
    comparison in C, and only a missing path takes the loop that checks it was missing before.
    """
    st = os.stat
    try:
        now = [
            v
            for s in map(st, [base + rel for rel in rels])
            for v in (s.st_mtime_ns, s.st_size, s.st_ino)
        ]
    except OSError:
        pass
    else:
        return now == stats
    i = 0
    for rel in rels:
        try:
            s = st(base + rel)
        except OSError:
            if stats[i] is not None:
                return False
        else:
            if list(_signature_of(s)) != stats[i : i + 3]:
                return False
        i += 3
    return True


def _signature_of(s: os.stat_result) -> tuple[int, int, int]:
    return s.st_mtime_ns, s.st_size, s.st_ino


def is_racy(sig: Sig, now_ns: int) -> bool:
    """True when a path of `sig` was modified too recently for its signature to be trusted."""
    limit = now_ns - RACY_NS
    for i in range(1, len(sig), 4):
        mtime = sig[i]
        if mtime is not None and mtime > limit:
            return True
    return False


def entry_parts(sig: Sig, now_ns: int) -> tuple[tuple[str, ...], list] | None:
    """(paths, stats) of a signature as the cache keeps them; None when it is too recent to trust.

    Separate from `ScanCache.put` so that worker processes reading a store can do this part.
    """
    if is_racy(sig, now_ns):
        return None
    intern = sys.intern
    rels = tuple(intern("/" + rel) if rel else "" for rel in sig[::4])
    stats = sig[:]
    del stats[::4]
    return rels, stats


class ScanCache:
    """Parsed run records of one store, keyed by run folder relative to the store root."""

    def __init__(
        self,
        store_root: str | os.PathLike[str],
        directory: Path | None = None,
        *,
        part: str = "",
    ):
        """The cache of the store at `store_root`; a `part` (experiment folders) is a cache
        file of its own, so that reading a few runs never loads a large store's whole cache."""
        self.root = os.path.realpath(os.fspath(store_root))
        self.directory = directory if directory is not None else cache_dir()
        name = self.root + ("\0" + part if part else "")
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:24]
        self.path = self.directory / f"scan-{digest}.marshal"
        #: run key -> [paths (a tuple shared by runs of the same shape), stats, record]
        self.entries: dict[str, list[Any]] = {}
        self._shapes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.dirty = False
        self.loaded = False
        #: Whether `load` found a cache file of this store (written by an earlier scan).
        self.found = False
        self.lock = threading.Lock()

    def _header(self) -> list[Any]:
        return [_MAGIC, FORMAT, marshal.version, list(sys.version_info[:2]), self.root]

    def load(self) -> None:
        """Read the cache file once; anything unreadable or from another version is ignored."""
        if self.loaded:
            return
        self.loaded = True
        # A million small objects come out at once; the cyclic GC would walk them all again
        # and again meanwhile (~10% of a warm reopen) although marshal makes no cycles.
        pause = GcPause()
        pause.start()
        try:
            with open(self.path, "rb") as fh:
                data = unseal(fh.read())
            payload = None if data is None else marshal.loads(data)
            if (
                isinstance(payload, list)
                and len(payload) == 2
                and payload[0] == self._header()
                and isinstance(payload[1], dict)
            ):
                self.entries = payload[1]
                self.found = True
        except Exception:  # whatever is wrong with a cache, it is only a cache
            self.entries = {}
        finally:
            pause.stop()

    def get(self, key: str, run_dir: str) -> Any | None:
        """The cached record of the run at `run_dir` if nothing it depends on has changed."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            rels, stats, record = entry
            if unchanged(run_dir, rels, stats):
                return record
        except (TypeError, ValueError, IndexError):
            pass  # a malformed entry: treat as a miss
        return None

    def put(self, key: str, sig: Sig, record: Any, now_ns: int | None = None) -> None:
        """Remember `record`, unless its files changed too recently to be trusted."""
        self.put_parts(key, entry_parts(sig, time.time_ns() if now_ns is None else now_ns), record)

    def put_parts(self, key: str, parts: tuple[tuple[str, ...], list] | None, record: Any) -> None:
        """Remember `record` under `entry_parts` of its signature (None: forget the run)."""
        if parts is None:
            if self.entries.pop(key, None) is not None:
                self.dirty = True
            return
        rels, stats = parts
        # Runs logged alike have the same paths: one shared tuple, which marshal writes once.
        self.entries[key] = [self._shapes.setdefault(rels, rels), stats, record]
        self.dirty = True

    def retain(self, prefix: str, keys: set[str]) -> None:
        """Forget runs under folder `prefix` (an experiment) that are not in `keys`."""
        stale = [k for k in self.entries if k.startswith(prefix) and k not in keys]
        for k in stale:
            del self.entries[k]
        if stale:
            self.dirty = True

    def save(self) -> None:
        """Write the cache atomically if it changed; failures are ignored (it is only a cache)."""
        if not self.dirty:
            return
        try:
            data = seal(marshal.dumps([self._header(), self.entries]))
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(prefix=".scan-", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, self.path)
            except BaseException:
                os.unlink(tmp)
                raise
            self.dirty = False
        except (OSError, ValueError):
            pass
