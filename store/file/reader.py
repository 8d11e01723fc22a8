"""The file store reader: an `mlruns/` folder written by MLflow 1.x, 2.x or 3.x.

Mirrors mlflow/store/tracking/file_store.py and mlflow/store/model_registry/file_store.py of
MLflow 1.30, 2.22 and 3.17, read-only, with four deliberate differences:

- MLflow 3.12+ only finds a run whose folder has `metrics/`, `params/` and `artifacts/`
  (`_is_valid_run_directory`). Stores copied with git lose empty folders, so we show such runs.
- MLflow fails a whole search on one malformed file; we skip what is broken, say so once in
  `store.warnings`, and keep everything else.
- A metric file's unterminated last line is a write in progress; MLflow parses it (`1795 0.`
  becomes a point), we ignore it until its newline arrives.
- MLflow 3.x reads the step of a 5-field metric line (a point logged with a dataset) as 0; we
  keep the step that was logged.

Speed: a 10,000-run store is ~300,000 small files, so the hot path reads bytes with `os.open`
and `os.read` (fewer system calls than `open()`), parses meta.yaml by hand (`yamlfast`), computes
the latest metric without building objects per line, and keeps parsed runs in `ScanCache`.
"""

from __future__ import annotations

import json
import marshal
import os
import re
import sys
import threading
import time
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .. import parallel, yamlfast
from ..artifacts import ArtifactRoot, resolve_artifact_root
from ..base import Store, StoreWarnings
from ..entities import (
    ACTIVE,
    DELETED,
    STAGE_DELETED_INTERNAL,
    STAGES,
    TAG_RUN_NAME,
    Dataset,
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    Metric,
    ModelOutput,
    ModelVersion,
    RegisteredModel,
    Run,
    is_prompt,
    logged_model_order,
)
from ..errors import NotAStoreError
from ..process import GcPause as _GcPause
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
from ..series import Series
from ..traces import (
    Assessment,
    Span,
    Trace,
    TraceInfo,
    assessment_from_dict,
    sorted_assessments,
    spans_from_dicts,
    trace_info_from_dict,
    without_location,
)
from ..values import as_time, shown
from .follower import FileFollower
from .layout import (
    REGISTRY,
    RESERVED_EXPERIMENT_FOLDERS,
    TRASH,
    status_name,
)
from .metrics import complete_lines, file_series_job, latest_point_of_file, read_metric_file
from .registry import FileRegistryBackend
from .scan_cache import ScanCache, entry_parts, stat_entry

#: Runs handed over per batch by `iter_runs`.
BATCH_SIZE = 500
#: The first batch is smaller: what a screen shows first, handed over as soon as it is read.
FIRST_BATCH = 100
#: Below this many runs a scan is fast enough without the store's cache...
CACHE_MIN_RUNS = 200
#: ...unless it took this long (runs with long metric files, whose latest values are found by
#: reading them whole): then those experiments get a cache file of their own.
SLOW_SCAN_SECONDS = 0.25
#: A batch of runs is handed over when this long has passed since the last, however small.
BATCH_SECONDS = 0.2
#: LoggedModelStatus by the integer a 3.x logged model's meta.yaml holds.
LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}

#: meta.yaml keys whose value MLflow writes as a list or mapping (all others are scalars).
_NESTED_KEYS = frozenset({"tags", "aliases", "params", "metrics"})
_RUN_ID = re.compile(r"[0-9a-f]{32}\Z")

# A run record is plain data, so that the scan cache can store it with marshal.
# (run_id, experiment_id, run_name, status, start_time, end_time, lifecycle_stage, artifact_uri,
#  user_id, deleted_time, params, tags, metrics{key: (value, timestamp, step)})
Record = tuple


def scan_runs_job(root: str, items: Sequence[tuple[str, str]]) -> bytes:
    """Read run folders (scan-cache key, folder) of the store at `root`, in a worker or not.

    The result is one `marshal` string (plain values, cheap to send and safe to read back) of
    (key, record or None, `entry_parts` of its stat signature, warnings) for each folder, in
    order.
    """
    store = _scanners.get(root)
    if store is None:
        store = _scanners[root] = FileStore(root, use_cache=False)
    out = []
    for key, run_dir in items:
        warned: list[str] = []
        store._local.collector = warned
        try:
            record, sig = store._run_record(run_dir, want_sig=True)
        finally:
            store._local.collector = None
        # A record comes with its signature (asked for); a folder that is no run has neither.
        parts = entry_parts(sig, time.time_ns()) if record is not None and sig is not None else None
        out.append((key, record, parts, warned))
    store.warnings = StoreWarnings()  # the collector has them; nothing piles up here
    return marshal.dumps(out)


#: Stores opened by `scan_runs_job`, by root: a worker reads many jobs of the same store.
_scanners: dict[str, FileStore] = {}


def _is_record(value: Any) -> bool:
    """True when a record from the cache has the shape `_run_record` gives (else: re-read)."""
    return (
        type(value) is tuple
        and len(value) == 13
        and type(value[10]) is dict
        and type(value[11]) is dict
        and type(value[12]) is dict
        and all(type(p) is tuple and len(p) == 3 for p in value[12].values())
    )


def _decode(data: bytes, path: str, warn) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        warn(f"{path}: not valid UTF-8; undecodable bytes shown as \ufffd")
        return data.decode("utf-8", "replace")


def _child_dirs(folder: str, dirs: bool = True) -> list[str]:
    """Sorted names of the folders (or the other entries) in `folder`; none when it is missing
    or unreadable."""
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_dir() == dirs)
    except OSError:
        return []


def _child_files(folder: str) -> list[str]:
    return _child_dirs(folder, dirs=False)


def _safe_name(name: str) -> bool:
    """True when `name` is one folder name (no separator, not "." or ".."): no traversal."""
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: `.inf`
        return None


class FileStore(Store):
    """An `mlruns/` folder, read as MLflow's FileStore reads it."""

    kind = "file"
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
                values[key] = _decode(data, path, self._warn)
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
        if not _safe_name(experiment_id) or experiment_id in (TRASH, REGISTRY):
            return None
        for folder in (self.root, os.path.join(self.root, TRASH)):
            path = os.path.join(folder, experiment_id)
            if os.path.isdir(path):
                return path
        return None

    # -- runs -----------------------------------------------------------------------------
    def _run_record(self, run_dir: str, want_sig: bool) -> tuple[Record | None, list | None]:
        """One run's record (meta, params, tags, latest metrics) and, if asked, its signature.

        The signature covers what ScanCache needs (see its docstring): meta.yaml, every folder,
        every tag and metric file. Each stat is taken before the read it covers.
        """
        meta_path = run_dir + "/meta.yaml"
        sig: list | None = [] if want_sig else None
        base_len = len(run_dir) + 1
        if sig is not None:
            sig.extend(stat_entry(meta_path, "meta.yaml"))
        # A folder without meta.yaml is only worth a warning if it is named like a run: MLflow
        # stores can hold other folders (artifacts logged beside runs), which it skips quietly.
        looks_like_run = bool(_RUN_ID.match(os.path.basename(run_dir)))
        meta = self._read_yaml(meta_path, "run", warn_missing=looks_like_run)
        if meta is None:
            return None, None
        run_id = meta.get("run_id") or meta.get("run_uuid") or os.path.basename(run_dir)
        exp_id = meta.get("experiment_id")
        if isinstance(exp_id, int) and not isinstance(exp_id, bool):
            exp_id = str(exp_id)  # written as an int before MLflow 1.0
        status = status_name(meta.get("status"))
        if status is None:
            self._warn(f"{meta_path}: unknown status {meta.get('status')!r}")
            status = str(meta.get("status"))

        params = self._read_values(run_dir + "/params", sig, None, base_len)
        tags = self._read_values(run_dir + "/tags", sig, sig, base_len)
        metrics: dict[str, tuple[float, int, int]] = {}
        for key, path, (point, bad, blank) in self._read_folder(
            run_dir + "/metrics", sig, sig, base_len, latest_point_of_file
        ):
            if bad:
                self._warn(f"{path}: {bad} malformed line(s) ignored")
            if point is None:
                what = "empty metric file" if blank else "no complete metric line"
                self._warn(f"{path}: {what}; metric skipped")
                continue
            metrics[key] = (point[2], point[1], point[0])

        record = (
            str(run_id),
            None if exp_id is None else str(exp_id),
            str(meta.get("run_name") or ""),
            status,
            self._time(meta, "start_time", meta_path),
            self._time(meta, "end_time", meta_path),
            str(meta.get("lifecycle_stage") or ACTIVE),
            str(meta.get("artifact_uri") or ""),
            str(meta.get("user_id") or ""),
            self._time(meta, "deleted_time", meta_path),
            params,
            tags,
            metrics,
        )
        return record, sig

    @staticmethod
    def _run_from_record(record: Record) -> Run:
        (run_id, exp_id, run_name, status, start, end, stage, uri, user, deleted, params, tags,
         metrics) = record  # fmt: skip
        return Run(
            run_id=run_id,
            experiment_id=exp_id,
            # MLflow fills an empty run_name from the mlflow.runName tag (1.x runs).
            run_name=run_name or tags.get(TAG_RUN_NAME, ""),
            status=status,
            start_time=start,
            end_time=end,
            lifecycle_stage=stage,
            artifact_uri=uri,
            user_id=user,
            params=dict(params),
            metrics={k: Metric(k, v, ts, step) for k, (v, ts, step) in metrics.items()},
            tags=dict(tags),
            deleted_time=deleted,
        )

    def _list_run_dirs(self, exp_path: str) -> list[str]:
        try:
            with os.scandir(exp_path) as it:
                return sorted(
                    e.name for e in it if e.name not in RESERVED_EXPERIMENT_FOLDERS and e.is_dir()
                )
        except OSError as exc:
            self._warn(f"{exp_path}: cannot be listed ({exc.strerror or exc})")
            return []

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

    def _scan_cache(self) -> ScanCache:
        if self._cache is None:
            self._cache = ScanCache(self.root)
        return self._cache

    def _load_run(self, key: str, run_dir: str, cache: ScanCache | None) -> Record | None:
        """One run's record: from the cache if unchanged, else read (and cached if clean)."""
        if cache is None:
            return self._run_record(run_dir, want_sig=False)[0]
        record = cache.get(key, run_dir)
        if record is not None and _is_record(record):
            return record
        warned: list[str] = []
        self._local.collector = warned
        try:
            record, sig = self._run_record(run_dir, want_sig=True)
        finally:
            self._local.collector = None
        # A record comes with its signature (asked for); a folder that is no run has neither.
        if record is not None and sig is not None and not warned:
            with cache.lock:
                cache.put(key, sig, record)
        return record

    def iter_runs(
        self, experiment_ids: Sequence[str] | None = None, include_deleted: bool = False
    ) -> Iterator[list[Run]]:
        """Runs with params, latest metrics and tags, in batches of up to 500 (the first: 100),
        each handed over at the latest `BATCH_SECONDS` after the one before."""
        root_len = len(self.root) + 1
        jobs: list[tuple[str, str, str]] = []
        listed: dict[str, set[str]] = {}
        for exp_id, exp_path in self._selected_experiments(experiment_ids, include_deleted):
            exp_key = exp_path[root_len:] + "/"
            keys = listed[exp_key] = set()
            for name in self._list_run_dirs(exp_path):
                keys.add(exp_key + name)
                jobs.append((exp_id, exp_key + name, exp_path + "/" + name))
        small = len(jobs) < CACHE_MIN_RUNS
        cache = None
        if self.use_cache:
            # A few runs: their own small cache file, which exists once a scan was slow.
            if small:
                cache = ScanCache(self.root, part="\0".join(sorted(listed)))
            else:
                cache = self._scan_cache()
            with cache.lock:
                cache.load()
        batch: list[Run] = []
        gc_pause = _GcPause()
        gc_pause.start()
        records = self._records(jobs, cache)
        limit = FIRST_BATCH  # a screenful comes first, at once
        # Time spent reading (not while the consumer holds a batch), and when a batch is due.
        reading = 0.0
        resumed = time.perf_counter()
        due = resumed + BATCH_SECONDS
        try:
            for (exp_id, _key, run_dir), record in zip(jobs, records, strict=True):
                if record is None:
                    continue
                if record[1] != exp_id:
                    # MLflow: "Wrong experiment ID (...) recorded for run ... Run will be ignored."
                    self._warn(
                        f"{run_dir}/meta.yaml: experiment_id {record[1]!r} differs from its "
                        f"experiment folder {exp_id!r}; run skipped"
                    )
                    continue
                self._run_dirs[record[0]] = run_dir
                if not include_deleted and record[6] != ACTIVE:
                    continue
                batch.append(self._run_from_record(record))
                if len(batch) >= limit or time.perf_counter() >= due:
                    gc_pause.stop()  # never paused while the consumer has the batch
                    reading += time.perf_counter() - resumed
                    yield batch
                    resumed = time.perf_counter()
                    due = resumed + BATCH_SECONDS
                    gc_pause.start()
                    batch = []
                    limit = BATCH_SIZE
        finally:
            records.close()  # workers' jobs not yet started are dropped
            gc_pause.stop()
        reading += time.perf_counter() - resumed
        if batch:
            yield batch
        if cache is not None and (not small or reading >= SLOW_SCAN_SECONDS or cache.found):
            with cache.lock:
                for exp_key, keys in listed.items():
                    cache.retain(exp_key, keys)
                cache.save()

    def _records(
        self, jobs: list[tuple[str, str, str]], cache: ScanCache | None
    ) -> Generator[Record | None, None, None]:
        """The record of each job's run folder, in order (None for a folder that is no run).

        When thousands of folders are not in the cache at all (a first open), those are sent to
        worker processes (`self.workers.map_in_order`) at once, and the first batch is read here
        meanwhile, so that it still shows quickly. The rest is read as without workers: from
        the cache where unchanged, else here.
        """
        head, rest = jobs[:BATCH_SIZE], jobs[BATCH_SIZE:]
        entries = cache.entries if cache is not None else {}
        absent = [(key, run_dir) for _, key, run_dir in rest if key not in entries]
        results = None
        if len(absent) >= parallel.MIN_SCAN_RUNS:
            size = parallel.SCAN_CHUNK
            chunks = [(self.root, absent[i : i + size]) for i in range(0, len(absent), size)]
            results = self.workers.map_in_order(scan_runs_job, chunks)
        for _, key, run_dir in head:
            yield self._load_run(key, run_dir, cache)
        if results is None:
            for _, key, run_dir in rest:
                yield self._load_run(key, run_dir, cache)
            return
        sent = {key for key, _ in absent}
        read = self._unpacked(results, cache)
        for _, key, run_dir in rest:
            yield next(read) if key in sent else self._load_run(key, run_dir, cache)

    def _unpacked(
        self, results: Iterable[bytes], cache: ScanCache | None
    ) -> Iterator[Record | None]:
        """Records of `scan_runs_job` results, their warnings given and clean ones cached."""
        for key, record, parts, warnings in (
            item for data in results for item in marshal.loads(data)
        ):
            for message in warnings:
                self._warn(message)
            if cache is not None and record is not None and not warnings:
                with cache.lock:
                    cache.put_parts(key, parts, record)
            yield record

    def experiment_activity(
        self, include_deleted: bool = False, deleted_runs: bool | None = None
    ) -> dict[str, tuple[int, int | None]]:
        """Run counts and last activity from the runs' meta.yaml alone.

        One small file a run instead of every param, tag and metric file: the experiments
        screen of a 10,000-run store gets its counts in a fraction of a full read. Runs are
        counted as `iter_runs` yields them (same skips, same warnings).
        """
        count_deleted = include_deleted if deleted_runs is None else deleted_runs
        out: dict[str, tuple[int, int | None]] = {}
        for exp_id, exp_path in self._selected_experiments(None, include_deleted):
            for name in self._list_run_dirs(exp_path):
                meta = self._read_yaml(
                    f"{exp_path}/{name}/meta.yaml", "run", warn_missing=bool(_RUN_ID.match(name))
                )
                if meta is None:
                    continue
                run_exp = meta.get("experiment_id")
                if run_exp is None or str(run_exp) != exp_id:
                    continue  # iter_runs warns and skips it too
                if not count_deleted and str(meta.get("lifecycle_stage") or ACTIVE) != ACTIVE:
                    continue
                count, last = out.get(exp_id, (0, None))
                for t in (_int_or_none(meta.get("start_time")), _int_or_none(meta.get("end_time"))):
                    if t is not None and (last is None or t > last):
                        last = t
                out[exp_id] = (count + 1, last)
        return out

    def _find_run_dir(self, run_id: str) -> str | None:
        run_id = str(run_id)
        known = self._run_dirs.get(run_id)
        if known is not None and os.path.isdir(known):
            return known
        if not _safe_name(run_id):
            return None
        for _name, exp_path, _trashed in self._experiment_dirs(include_deleted=True):
            candidate = os.path.join(exp_path, run_id)
            if os.path.isfile(os.path.join(candidate, "meta.yaml")):
                return candidate
        return None

    def run(self, run_id: str) -> Run | None:
        """One run in full, dataset inputs and model outputs included; None if there is none."""
        run_dir = self._find_run_dir(run_id)
        if run_dir is None:
            return None
        record, _ = self._run_record(run_dir, want_sig=False)
        if record is None:
            return None
        run = self._run_from_record(record)
        exp_path = os.path.dirname(run_dir)
        run.inputs = self._read_inputs(run_dir, exp_path)
        run.outputs = self._read_outputs(run_dir)
        return run

    def dataset_inputs(self, run_ids: Iterable[str]) -> dict[str, list[DatasetInput]]:
        """The dataset inputs of each run: its `inputs/` folder alone, not the whole run."""
        out: dict[str, list[DatasetInput]] = {}
        for run_id in run_ids:
            run_dir = self._find_run_dir(run_id)
            if run_dir is not None:
                out[run_id] = self._read_inputs(run_dir, os.path.dirname(run_dir))
        return out

    def _read_inputs(self, run_dir: str, exp_path: str) -> list[DatasetInput]:
        """Dataset inputs: `inputs/<id>/meta.yaml` naming a folder of `<exp>/datasets/`."""
        inputs_dir = os.path.join(run_dir, "inputs")
        datasets_dir = os.path.join(exp_path, "datasets")
        if not os.path.isdir(inputs_dir) or not os.path.isdir(datasets_dir):
            return []
        out = []
        for name in sorted(os.listdir(inputs_dir)):
            meta = self._read_yaml(os.path.join(inputs_dir, name, "meta.yaml"), "input")
            if meta is None or meta.get("source_type") != "DATASET":
                continue  # model inputs (3.x) are not dataset inputs
            source_id = str(meta.get("source_id") or "")
            ds_path = os.path.join(datasets_dir, source_id)
            if not _safe_name(source_id) or not os.path.isdir(ds_path):
                self._warn(f"{inputs_dir}/{name}: dataset {source_id!r} not found; skipped")
                continue
            ds = self._read_yaml(os.path.join(ds_path, "meta.yaml"), "dataset")
            if ds is None:
                continue
            tags = meta.get("tags") or {}
            out.append(
                DatasetInput(
                    dataset=Dataset(
                        name=str(ds.get("name", "")),
                        digest=str(ds.get("digest", "")),
                        source_type=str(ds.get("source_type", "")),
                        source=str(ds.get("source", "")),
                        schema=_str_or_none(ds.get("schema")),
                        profile=_str_or_none(ds.get("profile")),
                    ),
                    tags={str(k): str(v) for k, v in tags.items()}
                    if isinstance(tags, dict)
                    else {},
                )
            )
        return out

    def _read_outputs(self, run_dir: str) -> list[ModelOutput]:
        """3.x logged-model outputs: `outputs/<model_id>/meta.yaml`."""
        outputs_dir = os.path.join(run_dir, "outputs")
        if not os.path.isdir(outputs_dir):
            return []
        out = []
        for name in sorted(os.listdir(outputs_dir)):
            meta = self._read_yaml(os.path.join(outputs_dir, name, "meta.yaml"), "output")
            if meta is None or meta.get("destination_type") != "MODEL_OUTPUT":
                continue
            # MLflow writes the model id into destination_id too, and reads it from there.
            model_id = meta.get("destination_id") or meta.get("source_id") or name
            out.append(
                ModelOutput(model_id=str(model_id), step=_int_or_none(meta.get("step")) or 0)
            )
        return out

    def _metric_path(self, run_id: str, key: str) -> str | None:
        """The metric file of `key` in the run's folder (None for a bad key or an unknown run)."""
        run_dir = self._find_run_dir(run_id)
        parts = key.split("/")
        if run_dir is None or not key or any(p in ("", ".", "..") for p in parts):
            return None
        return os.path.join(run_dir, "metrics", *parts)

    def _metric_columns(self, run_id: str, key: str):
        """(steps, timestamps, values) of one metric file of one run; None if there is none.

        Long files come from the series cache when unchanged (or grown: then only their new
        lines are parsed); malformed lines are warned about either way.
        """
        path = self._metric_path(run_id, key)
        if path is None:
            return None
        columns, warning = read_metric_file(path, self._series_cache(), self.root_real)
        if warning:
            self._warn(warning)
        return columns

    def series_job(self, run_id: str, key: str) -> tuple | None:
        """Reading this history in a worker process (store/parallel.py), or None to read it here:
        a short file, one the series cache holds (or holds all but the new lines of), no file."""
        path = self._metric_path(run_id, key)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        cache = self._series_cache()
        if st.st_size < parallel.MIN_JOB_BYTES or (
            cache is not None and cache.holds_file(path, st)
        ):
            return None
        directory = None if cache is None else str(cache.directory)
        return file_series_job, path, directory, self.root_real

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, in file order (MLflow's order)."""
        found = self._metric_columns(run_id, key)
        if found is None:
            return []
        steps, timestamps, values = found
        gc_pause = _GcPause()
        gc_pause.start()
        try:
            return [
                Metric(key, value, ts, step)
                for step, ts, value in zip(steps, timestamps, values, strict=True)
            ]
        finally:
            gc_pause.stop()

    def metric_series(self, run_id: str, key: str) -> Series:
        """`metric_history` as columns, parsed straight from the file's bytes."""
        found = self._metric_columns(run_id, key)
        if found is None:
            return Series(array("q"), array("q"), array("d"))
        steps, timestamps, values = found
        return Series(
            steps if type(steps) is array else array("q", steps),
            timestamps if type(timestamps) is array else array("q", timestamps),
            values if type(values) is array else array("d", values),
        )

    # -- logged models (MLflow 3) ---------------------------------------------------------
    def logged_models(self, experiment_ids: Iterable[str] | None = None) -> list[LoggedModel]:
        """MLflow 3 logged models of the given experiments (all, deleted ones too, if None)."""
        if experiment_ids is None:
            selected = [(e.experiment_id, p) for e, p in self._experiments_with_paths(True)]
        else:
            selected = self._selected_experiments(list(experiment_ids), True)
        out = []
        for exp_id, exp_path in selected:
            models_dir = os.path.join(exp_path, "models")
            for name in _child_dirs(models_dir):
                model = self._read_logged_model(os.path.join(models_dir, name), exp_id)
                if model is not None:
                    out.append(model)
        out.sort(key=logged_model_order)
        return out

    def _read_logged_model(self, model_dir: str, exp_id: str) -> LoggedModel | None:
        meta = self._read_yaml(os.path.join(model_dir, "meta.yaml"), "logged model")
        if meta is None:
            return None
        if meta.get("lifecycle_stage") == DELETED:
            return None  # MLflow's _list_models hides deleted models
        model_exp = meta.get("experiment_id")
        if str(model_exp) != exp_id:
            self._warn(f"{model_dir}/meta.yaml: experiment_id {model_exp!r} is wrong; skipped")
            return None
        status = meta.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            status = LOGGED_MODEL_STATUS.get(status, str(status))
        metrics = []
        for key, path, data in self._read_folder(os.path.join(model_dir, "metrics")):
            metrics.extend(self._logged_model_metrics(data, key, path))
        return LoggedModel(
            model_id=str(meta.get("model_id") or os.path.basename(model_dir)),
            experiment_id=exp_id,
            name=str(meta.get("name") or ""),
            artifact_location=str(meta.get("artifact_location") or ""),
            creation_timestamp=_int_or_none(meta.get("creation_timestamp")),
            last_updated_timestamp=_int_or_none(meta.get("last_updated_timestamp")),
            model_type=_str_or_none(meta.get("model_type")),
            source_run_id=_str_or_none(meta.get("source_run_id")),
            status=str(status if status is not None else "UNSPECIFIED"),
            status_message=_str_or_none(meta.get("status_message")),
            lifecycle_stage=str(meta.get("lifecycle_stage") or ACTIVE),
            params=self._read_values(os.path.join(model_dir, "params")),
            tags=self._read_values(os.path.join(model_dir, "tags")),
            metrics=metrics,
        )

    def _logged_model_metrics(self, data: bytes, key: str, path: str) -> list[LoggedModelMetric]:
        """The latest point per dataset of a logged model's metric file.

        Lines are "<ts> <value> <step> <run_id>" plus "<dataset> <digest>" when logged with a
        dataset; MLflow keeps the (step, timestamp, value)-greatest point of each dataset.
        """
        best: dict[tuple[bytes, ...], tuple[int, int, float]] = {}
        run_ids: dict[tuple[bytes, ...], bytes] = {}
        bad = 0
        for line in complete_lines(data).split(b"\n")[:-1]:
            parts = line.strip().split(b" ")
            if len(parts) not in (4, 6):
                bad += 1
                continue
            try:
                point = (int(parts[2]), int(parts[0]), float(parts[1]))
            except ValueError:
                bad += 1
                continue
            group = tuple(parts[4:])
            if group not in best or point > best[group]:
                best[group] = point
                run_ids[group] = parts[3]
        if bad:
            self._warn(f"{path}: {bad} malformed line(s) ignored")

        def text(part: bytes) -> str:
            return _decode(part, path, self._warn)

        return [
            LoggedModelMetric(
                key,
                v,
                ts,
                step,
                dataset_name=text(group[0]) if group else None,
                dataset_digest=text(group[1]) if group else None,
                run_id=text(run_ids[group]),
            )
            for group, (step, ts, v) in best.items()
        ]

    # -- traces ---------------------------------------------------------------------------
    def traces(self, experiment_ids: Iterable[str]) -> list[TraceInfo]:
        """Trace infos of `<exp>/traces/<trace_id>/`, oldest first (MLflow's search order)."""
        out = []
        for exp_id, exp_path in self._selected_experiments(list(experiment_ids), True):
            traces_dir = os.path.join(exp_path, "traces")
            for name in _child_dirs(traces_dir):
                info = self._read_trace_info(os.path.join(traces_dir, name), exp_id, False)
                if info is not None:
                    out.append(info)
        out.sort(key=lambda t: (t.request_time or 0, t.trace_id))
        return out

    def trace(self, trace_id: str) -> Trace | None:
        trace_dir = self._find_trace_dir(trace_id)
        if trace_dir is None:
            return None
        exp_id = os.path.basename(os.path.dirname(os.path.dirname(trace_dir)))
        info = self._read_trace_info(trace_dir, exp_id)
        if info is None:
            return None
        path = os.path.join(trace_dir, "artifacts", "traces.json")
        return Trace(info, self._read_spans(path))

    def _find_trace_dir(self, trace_id: str) -> str | None:
        if not _safe_name(trace_id):
            return None
        for _, exp_path in self._selected_experiments(None, True):
            trace_dir = os.path.join(exp_path, "traces", trace_id)
            if os.path.isdir(trace_dir):
                return trace_dir
        return None

    def _read_trace_info(
        self, trace_dir: str, exp_id: str, with_assessments: bool = True
    ) -> TraceInfo | None:
        meta_path = os.path.join(trace_dir, "trace_info.yaml")
        meta = self._read_yaml(
            meta_path, "trace", nested=frozenset({"trace_location"}), prepare=without_location
        )
        if meta is None:
            return None
        info = trace_info_from_dict(meta, os.path.basename(trace_dir), exp_id)
        info.tags = self._read_values(os.path.join(trace_dir, "tags"))
        info.metadata = self._read_values(os.path.join(trace_dir, "request_metadata"))
        folder = os.path.join(trace_dir, "assessments")
        if with_assessments:
            info.assessments = self._read_assessments(folder)
            info.assessments_count = len(info.assessments)
        else:  # one YAML file each: counted, not parsed (a list of 10,000 traces reads 2/3 less)
            info.assessments_count = sum(n.endswith(".yaml") for n in _child_files(folder))
        return info

    def _read_assessments(self, folder: str) -> list[Assessment]:
        out = []
        for _, path, data in self._read_folder(folder):
            try:
                d = yamlfast.loads(data)
                out.append(assessment_from_dict(d))
            except Exception as exc:  # yaml.YAMLError, a non-mapping, a wrong-typed field
                self._warn(f"{path}: not an assessment ({type(exc).__name__}); skipped")
        return sorted_assessments(out)

    def _read_spans(self, path: str) -> list[Span]:
        try:
            data = read_bytes(path, self.root_real)
            spans = json.loads(data)["spans"]
        except FileNotFoundError:
            return []  # still being written, or spans kept elsewhere
        except OSError as exc:
            self._warn(f"{path}: cannot be read ({exc.strerror or exc}); no spans shown")
            return []
        except (ValueError, KeyError, TypeError) as exc:
            self._warn(f"{path}: not a spans file ({type(exc).__name__}); no spans shown")
            return []
        if not isinstance(spans, list):
            self._warn(f"{path}: spans is not a list; no spans shown")
            return []
        return spans_from_dicts(spans, path, self._warn)

    # -- model registry -------------------------------------------------------------------
    def _registry_dir(self) -> str:
        return os.path.join(self.root, REGISTRY)

    def _model_dirs(self) -> list[str]:
        try:
            with os.scandir(self._registry_dir()) as it:
                return sorted(e.path for e in it if e.is_dir())
        except OSError:
            return []

    def _aliases(self, model_dir: str) -> dict[str, str]:
        # The aliases/ folder is the truth; the `aliases:` copy in meta.yaml is stale.
        return self._read_values(os.path.join(model_dir, "aliases"))

    def _versions(self, model_dir: str, aliases: dict[str, str]) -> list[ModelVersion]:
        """Every version folder's model version, deleted ones included."""
        try:
            with os.scandir(model_dir) as it:
                dirs = sorted(e.path for e in it if e.name.startswith("version-") and e.is_dir())
        except OSError:
            return []
        out = []
        for vdir in dirs:
            meta = self._read_yaml(os.path.join(vdir, "meta.yaml"), "model version")
            if meta is None:
                continue
            version = meta.get("version")
            if _int_or_none(version) is None:
                self._warn(f"{vdir}/meta.yaml: version {version!r} is not a number; skipped")
                continue
            version = str(version)
            # MLflow matches aliases to the folder's number (`version-<n>` without the prefix).
            folder_version = os.path.basename(vdir)[len("version-") :]
            out.append(
                ModelVersion(
                    name=str(meta.get("name") or os.path.basename(model_dir)),
                    version=version,
                    creation_timestamp=_int_or_none(meta.get("creation_timestamp")),
                    last_updated_timestamp=_int_or_none(meta.get("last_updated_timestamp")),
                    current_stage=str(meta.get("current_stage") or "None"),
                    description=_str_or_none(meta.get("description")),
                    source=_str_or_none(meta.get("source")),
                    run_id=_str_or_none(meta.get("run_id")),
                    status=_str_or_none(meta.get("status")),
                    status_message=_str_or_none(meta.get("status_message")),
                    user_id=_str_or_none(meta.get("user_id")),
                    run_link=_str_or_none(meta.get("run_link")),
                    storage_location=_str_or_none(meta.get("storage_location")),
                    model_id=_str_or_none(meta.get("model_id")),
                    tags=self._read_values(os.path.join(vdir, "tags")),
                    aliases=sorted(a for a, v in aliases.items() if v == folder_version),
                )
            )
        return out

    @staticmethod
    def _latest_versions(versions: list[ModelVersion]) -> list[ModelVersion]:
        """The highest version in each stage, as FileStore.get_latest_versions computes it."""
        latest: dict[str, ModelVersion] = {}
        for mv in versions:
            if mv.current_stage in STAGES:
                held = latest.get(mv.current_stage)
                if held is None or int(held.version) < int(mv.version):
                    latest[mv.current_stage] = mv
        return [latest[s] for s in STAGES if s in latest]

    def _registered_model(self, model_dir: str) -> RegisteredModel | None:
        meta_path = os.path.join(model_dir, "meta.yaml")
        if not os.path.lexists(meta_path):
            # A create interrupted between the folder and its meta.yaml: shown as what it is.
            name = os.path.basename(model_dir)
            return RegisteredModel(name, None, None, None, incomplete=True)
        meta = self._read_yaml(meta_path, "registered model")
        if meta is None:
            return None
        aliases = self._aliases(model_dir)
        return RegisteredModel(
            name=str(meta.get("name") or os.path.basename(model_dir)),
            creation_timestamp=_int_or_none(meta.get("creation_timestamp")),
            last_updated_timestamp=_int_or_none(meta.get("last_updated_timestamp")),
            description=_str_or_none(meta.get("description")),
            tags=self._read_values(os.path.join(model_dir, "tags")),
            aliases=aliases,
            latest_versions=self._latest_versions(self._versions(model_dir, aliases)),
        )

    def registered_models(self, include_prompts: bool = False) -> list[RegisteredModel]:
        """Registered models (prompts only if asked: MLflow's search leaves them out), by name."""
        out = []
        for model_dir in self._model_dirs():
            rm = self._registered_model(model_dir)
            if rm is not None and (include_prompts or not is_prompt(rm.tags)):
                out.append(rm)
        return sorted(out, key=lambda m: m.name)

    def model_versions(self, name: str, workspace: str | None = None) -> list[ModelVersion]:
        """Versions of one registered model, deleted ones hidden, newest first.

        A file store has one workspace, so `workspace` changes nothing."""
        if not _safe_name(name):
            return []
        model_dir = os.path.join(self._registry_dir(), name)
        if not os.path.isdir(model_dir):
            return []
        versions = [
            v
            for v in self._versions(model_dir, self._aliases(model_dir))
            if v.current_stage != STAGE_DELETED_INTERNAL
        ]
        return sorted(versions, key=lambda v: int(v.version), reverse=True)

    # -- artifacts ------------------------------------------------------------------------
    def change_source(self) -> FileFollower:
        return FileFollower(self)

    def registry_backend(self, **_options: Any) -> FileRegistryBackend:
        """Takes no options (the SQLite backend's busy_timeout and workspace mean nothing here)."""
        return FileRegistryBackend(Path(self.root))

    def artifact_root(self, run: Run) -> ArtifactRoot:
        """The run's artifact folder; `<exp>/<run>/artifacts` here if the store was moved."""
        run_dir = self._find_run_dir(run.run_id)
        fallback = Path(run_dir) / "artifacts" if run_dir else None
        return resolve_artifact_root(run.artifact_uri, self.location, fallback=fallback)
