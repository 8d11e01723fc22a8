"""An `mlruns/` folder as every part of the file-store reader reads it: files and folders
read only inside the store, meta.yaml parsed with one warning per problem, experiments listed.

`FileStore` (reader.py) is this plus the runs, logged models and registry, and traces
readers (runs.py, models.py, traces.py), each a subclass of `StoreFolder`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import yamlfast
from ..base import Store
from ..entities import ACTIVE, DELETED, Experiment
from ..errors import NotAStoreError
from ..rawread import (
    CHUNK,
    MAX_FILE_BYTES,
    O_NOFOLLOW_READ,
    check_size,
    open_regular,
    read_bytes,
    read_rest,
    read_rewritten,
)
from ..values import as_time, shown
from .layout import REGISTRY, TRASH
from .scan_cache import ScanCache, stat_entry

#: meta.yaml keys whose value MLflow writes as a list or mapping (all others are scalars).
_NESTED_KEYS = frozenset({"tags", "aliases", "params", "metrics"})


def decode(data: bytes, path: str, warn) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warn(f"{path}: not valid UTF-8; undecodable bytes shown as \ufffd")
        return data.decode("utf-8", "replace")


def child_dirs(folder: str, dirs: bool = True) -> list[str]:
    """Sorted names of the folders (or the other entries) in `folder`; none when it is missing
    or unreadable."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_dir() == dirs)
    except OSError:
        return []


def child_files(folder: str) -> list[str]:
    return child_dirs(folder, dirs=False)


def safe_name(name: str) -> bool:
    """True when `name` is one folder name (no separator, not "." or ".."): no traversal."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: `.inf`
        return None


class StoreFolder(Store):
    """An `mlruns/` folder: the reading every part of the file store shares."""

    location: Path

    @property
    def folder(self) -> Path:
        return Path(self.location)

    def __init__(self, root: str | os.PathLike[str], use_cache: bool = True):
        super().__init__()
        self.location = Path(root)
        self.root = os.path.abspath(os.fspath(root))
        #: Files are read only inside this real path: a symlink leading out is not followed.
        self.root_real = os.path.realpath(self.root)
        if not os.path.isdir(self.root):
            raise NotAStoreError(f"{self.root} is not a folder; expected an mlruns folder.")
        if not self._looks_like_store():
            raise NotAStoreError(
                f"{self.root} is not an MLflow file store: it holds no experiment folder "
                "(a folder with a meta.yaml), no .trash and no models registry."
            )
        self.use_cache = use_cache
        self._cache: ScanCache | None = None
        #: run_id -> run folder, filled as runs are read, for `run()` and `metric_history()`.
        self._run_dirs: dict[str, str] = {}
        self._local = threading.local()

    # -- helpers --------------------------------------------------------------------------
    def _looks_like_store(self) -> bool:
        try:
            with os.scandir(self.root) as it:
                for entry in it:
                    if not entry.is_dir():
                        continue
                    if entry.name in (TRASH, REGISTRY):
                        return True
                    if os.path.isfile(os.path.join(entry.path, "meta.yaml")):
                        return True
        except OSError:
            return False
        return False

    def _warn(self, message: str) -> None:
        # A run read with warnings is not cached, so that reopening the store warns again.
        collector = getattr(self._local, "collector", None)
        if collector is not None:
            collector.append(message)
        self.warnings.add(message)

    def _read_yaml(
        self,
        path: str,
        what: str,
        warn_missing: bool = True,
        nested: frozenset = _NESTED_KEYS,
        prepare: Callable[[bytes], bytes] | None = None,
    ) -> dict | None:
        """A meta.yaml as a dict; None (after a warning) when missing, empty or malformed.
        `prepare` may drop a part the caller does not read before the file is parsed."""
        try:
            data = read_bytes(path, self.root_real)
            if not data:
                # MLflow retries an empty meta.yaml: it may be mid-rewrite (FileStore._read_yaml).
                data = read_rewritten(path, self.root_real)
        except FileNotFoundError:
            if warn_missing:
                self._warn(f"{path}: missing; {what} skipped")
            return None
        except OSError as exc:
            self._warn(f"{path}: cannot be read ({exc.strerror or exc}); {what} skipped")
            return None
        if not data.strip():
            self._warn(f"{path}: empty; {what} skipped")
            return None
        if prepare is not None:
            data = prepare(data)
        try:
            meta = yamlfast.loads(data)
        except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError and the like
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self._warn(f"{path}: malformed YAML ({first}); {what} skipped")
            return None
        if not isinstance(meta, dict):
            self._warn(f"{path}: not a YAML mapping; {what} skipped")
            return None
        odd = [k for k, v in meta.items() if type(v) in (list, dict) and k not in nested]
        if odd:
            # Where MLflow writes a scalar, a list or mapping is never turned into text.
            self._warn(f"{path}: {', '.join(map(str, odd))} not a single value; left out")
            for key in odd:
                del meta[key]
        return meta

    def _time(self, meta: dict, field: str, meta_path: str) -> int | None:
        """A time field of a meta.yaml; a value that is no time is said and left empty."""
        ms, ok = as_time(meta.get(field))
        if not ok:
            self._warn(f"{meta_path}: {field} {shown(meta.get(field))} is not a time; left empty")
        return ms

    def _read_folder(
        self,
        folder: str,
        dir_sig: list | None = None,
        file_sig: list | None = None,
        base_len: int = 0,
        read: Callable[[bytes, int, int], Any] | None = None,
    ) -> list[tuple[str, str, Any]]:
        """(key, path, content) of every file under `folder`; keys joined with "/".

        Keys may hold "/" (`loss/train` is the file `loss/train`), so the folder is walked like
        MLflow's os.walk: symlinked folders are neither entered nor taken as files. With
        `dir_sig`/`file_sig`, stat signatures of the folders/files are appended (paths relative
        after `base_len` characters), each taken before the listing or read it covers. The
        content is the file's bytes (up to MAX_FILE_BYTES), or what `read(head, fd, size)`
        makes of the open file whose first CHUNK bytes were `head`. Only regular files inside the store are read; others are
        skipped with a warning. This is the hottest loop of a scan, hence the inlined reads.
        """
        out: list[tuple[str, str, Any]] = []
        intern, o_open, o_read, o_close, o_fstat = sys.intern, os.open, os.read, os.close, os.fstat
        root_real = self.root_real
        stack = [(folder, "")]
        while stack:
            path, prefix = stack.pop()
            if dir_sig is not None:
                dir_sig.extend(stat_entry(path, path[base_len:]))
            try:
                it = os.scandir(path)
            except FileNotFoundError:
                continue
            except NotADirectoryError:
                self._warn(f"{path}: a file where a folder was expected; skipped")
                continue
            except OSError as exc:
                self._warn(f"{path}: cannot be listed ({exc.strerror or exc}); skipped")
                continue
            with it:
                for entry in it:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    if is_dir:
                        if not entry.is_symlink():
                            stack.append((entry.path, prefix + entry.name + "/"))
                        continue
                    file_path = entry.path
                    try:
                        if entry.is_file(follow_symlinks=False):
                            # A regular file by the listing's d_type, no stat needed: opened
                            # without blocking or following a link, in case it was replaced.
                            fd = o_open(file_path, O_NOFOLLOW_READ)
                            st = o_fstat(fd) if file_sig is not None or read is not None else None
                        else:  # a symlink, FIFO, device...: only a link into the store is read
                            fd, st = open_regular(file_path, root_real)
                        try:
                            if file_sig is not None:
                                assert st is not None  # taken above when file_sig is
                                file_sig.extend(
                                    (file_path[base_len:], st.st_mtime_ns, st.st_size, st.st_ino)
                                )
                            data = o_read(fd, CHUNK)
                            if read is not None:
                                assert st is not None  # taken above when read is
                                data = read(data, fd, st.st_size)
                            elif len(data) == CHUNK:
                                size = o_fstat(fd).st_size if st is None else st.st_size
                                check_size(file_path, size)
                                data += read_rest(fd, CHUNK, size, MAX_FILE_BYTES)
                        finally:
                            o_close(fd)
                    except OSError as exc:
                        self._warn(f"{file_path}: cannot be read ({exc.strerror or exc}); skipped")
                        continue
                    # Interned: names repeat across runs; the scan cache then holds each once.
                    out.append((intern(prefix + entry.name), file_path, data))
        return out

    def _read_values(
        self,
        folder: str,
        dir_sig: list | None = None,
        file_sig: list | None = None,
        base_len: int = 0,
    ) -> dict[str, str]:
        """{key: text} of a params or tags folder (each file's whole content is the value)."""
        values: dict[str, str] = {}
        for key, path, data in self._read_folder(folder, dir_sig, file_sig, base_len):
            if not data:
                data = read_rewritten(
                    path, self.root_real
                )  # "" or caught between MLflow's truncate and write
            try:
                values[key] = data.decode()
            except UnicodeDecodeError:
                values[key] = decode(data, path, self._warn)
        return values

    # -- experiments ----------------------------------------------------------------------
    def _experiment_dirs(self, include_deleted: bool) -> list[tuple[str, str, bool]]:
        """(folder name, path, in .trash) of experiment folders, active ones first."""
        out = []
        parents = [(self.root, False)]
        if include_deleted:
            parents.append((os.path.join(self.root, TRASH), True))
        for parent, trashed in parents:
            try:
                with os.scandir(parent) as it:
                    entries = sorted((e.name, e.path) for e in it if e.is_dir())
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._warn(f"{parent}: cannot be listed ({exc.strerror or exc})")
                continue
            for name, path in entries:
                if not trashed and (name.endswith(TRASH) or name == REGISTRY):
                    continue
                out.append((name, path, trashed))
        return out

    def _read_experiment(self, name: str, path: str, trashed: bool) -> Experiment | None:
        meta_path = os.path.join(path, "meta.yaml")
        if not os.path.exists(meta_path) and not name.isdigit():
            return None  # some other folder (MLflow warns "Malformed experiment" and skips it)
        meta = self._read_yaml(meta_path, "experiment")
        if meta is None:
            return None
        exp_id = meta.get("experiment_id")
        if isinstance(exp_id, int) and not isinstance(exp_id, bool):
            exp_id = str(exp_id)  # written as an int before MLflow 1.0
        if exp_id != name:
            # MLflow: "Experiment ID mismatch ... Experiment will be ignored."
            self._warn(f"{meta_path}: experiment_id {exp_id!r} differs from its folder; skipped")
            return None
        return Experiment(
            experiment_id=exp_id,
            name=str(meta.get("name", "")),
            artifact_location=str(meta.get("artifact_location") or ""),
            # MLflow 1.x takes the stage from where the folder is (.trash means deleted) and does
            # not write it; 2.x and 3.x write "deleted" before moving the folder to .trash.
            lifecycle_stage=DELETED if trashed else str(meta.get("lifecycle_stage") or ACTIVE),
            creation_time=self._time(meta, "creation_time", meta_path),
            last_update_time=self._time(meta, "last_update_time", meta_path),
            # The tags/ folder is the truth; a `tags:` copy in meta.yaml is stale.
            tags=self._read_values(os.path.join(path, "tags")),
        )

    def _experiments_with_paths(self, include_deleted: bool) -> list[tuple[Experiment, str]]:
        seen: set[str] = set()
        out = []
        for name, path, trashed in self._experiment_dirs(include_deleted):
            if name in seen:
                # Active and trashed copies of one id: MLflow finds the active one first.
                continue
            exp = self._read_experiment(name, path, trashed)
            if exp is None:
                continue
            seen.add(name)
            if include_deleted or exp.lifecycle_stage == ACTIVE:
                out.append((exp, path))
        return out

    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Experiments, active ones only unless `include_deleted`."""
        return [exp for exp, _ in self._experiments_with_paths(include_deleted)]

    def _experiment_path(self, experiment_id: str) -> str | None:
        """The folder of an experiment, active or in .trash; None for no such (or a bad) id."""
        if not safe_name(experiment_id) or experiment_id in (TRASH, REGISTRY):
            return None
        for folder in (self.root, os.path.join(self.root, TRASH)):
            path = os.path.join(folder, experiment_id)
            if os.path.isdir(path):
                return path
        return None

    def _selected_experiments(
        self, experiment_ids: Sequence[str] | None, include_deleted: bool
    ) -> list[tuple[str, str]]:
        """(experiment id, folder) of the experiments whose runs are asked for."""
        if experiment_ids is None:
            return [(e.experiment_id, p) for e, p in self._experiments_with_paths(include_deleted)]
        out = []
        for exp_id in dict.fromkeys(str(e) for e in experiment_ids):
            path = self._experiment_path(exp_id)
            if path is not None:
                out.append((exp_id, path))
        return out
