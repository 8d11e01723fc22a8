"""Following an `mlruns/` folder: which paths changed, read from where it was last read.

A watchdog observer on the folder (recursive) marks paths dirty; only those are looked at.
Metric files are append-only (MLflow's `append_to`), so each keeps a byte offset and only the
bytes past it are read; an unterminated last line is a point still being written and waits for
its newline. Polling (no events) is a stat scan of what gains experiments and runs, of the runs
still RUNNING or changed lately, and a slow round-robin sweep over finished runs. Given
`since_ns`, the baseline reports what file times say changed since (a folder moved in counts by
its ctime). An event under `<exp>/traces/` marks that experiment's traces changed; polling
sees a new trace as a change of the `traces/` folder. The loop around it is
store/follow/follower.py's.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .. import yamlfast
from ..entities import ACTIVE, DELETED, LIVE_STATUSES, Metric
from ..follow.backend import EVENT_GRACE_NS, FollowerBackend, stat_sig
from ..follow.changes import StoreChanges
from ..rawread import open_regular, read_bytes
from .layout import REGISTRY, RESERVED_EXPERIMENT_FOLDERS, TRASH, parse_metric_line, status_name

if TYPE_CHECKING:
    from ..base import Store

#: File times come from the kernel's coarse clock, up to a tick behind `time.time_ns()`: a
#: change counts as after `since_ns` when its time is no more than this before it.
SINCE_SLACK_NS = 50_000_000
#: A run that changed this recently is polled like a RUNNING one.
HOT_SECONDS = 300.0
#: Finished runs checked per poll by the round-robin sweep (a few stat calls each).
SWEEP_RUNS_PER_POLL = 100
#: A meta.yaml read empty or truncated (MLflow writes it in place) is read again after this.
RETRY_SECONDS = 0.1
RETRY_ATTEMPTS = 30


class _Exp:
    __slots__ = (
        "dir_mtime",
        "exp_id",
        "meta_hash",
        "meta_sig",
        "path",
        "run_ids",
        "stage",
        "tags_sig",
        "traces_mtime",
    )

    def __init__(self, exp_id: str, path: str) -> None:
        self.exp_id = exp_id
        self.path = path
        self.meta_sig: tuple | None = None
        self.meta_hash: int | None = None
        self.stage = ACTIVE
        self.dir_mtime: int | None = None
        self.tags_sig: int | None = None
        #: The `traces/` folder's mtime: a new trace is a new folder in it.
        self.traces_mtime: int | None = None
        self.run_ids: set[str] = set()


class _Run:
    __slots__ = (
        "dirs_sig", "exp_id", "hot_until", "meta_hash", "meta_sig", "offsets", "params_sig",
        "partials", "path", "run_id", "stage", "status", "tags_sig",
    )  # fmt: skip

    def __init__(self, run_id: str, exp_id: str, path: str) -> None:
        self.run_id = run_id
        self.exp_id = exp_id
        self.path = path
        self.status: str | None = None
        self.stage = ACTIVE
        self.meta_sig: tuple | None = None
        self.meta_hash: int | None = None
        self.params_sig: int | None = None
        self.tags_sig: int | None = None
        #: The mtimes of params/, tags/ and metrics/: what the sweep of finished runs compares.
        self.dirs_sig: int | None = None
        self.hot_until = 0.0
        #: metric key -> bytes of its file already looked at.
        self.offsets: dict[str, int] = {}
        #: metric key -> an unterminated last line, waiting for the rest of it.
        self.partials: dict[str, bytes] = {}

    def live(self, now: float) -> bool:
        return self.status is None or self.status in LIVE_STATUSES or self.hot_until > now


class _Retry(Exception):
    """A file was caught mid-write (empty or truncated meta.yaml): look again shortly."""


class FileFollower(FollowerBackend):
    """Follows an `mlruns/` folder."""

    recursive = True
    can_resume = True

    def __init__(self, store: Store) -> None:
        self.root = os.path.abspath(os.fspath(getattr(store, "root", store.location)))
        self.watch_dir = self.root
        self.where = self.root
        self._prefix = self.root + os.sep
        self._root_real = os.path.realpath(self.root)
        self._registry = os.path.join(self.root, REGISTRY)
        self.exps: dict[str, _Exp] = {}
        self.runs: dict[str, _Run] = {}
        self.root_mtime: int | None = None
        self.root_ino: int | None = None
        self.start_ns = time.time_ns()
        self.polling = False
        self._retry: dict[str, int] = {}
        self._sweep: list[str] = []
        #: During a baseline given `since_ns`: that time (less the clock slack), and what
        #: changed after it.
        self._since: int | None = None
        self._caught_up = StoreChanges()
        self._said: set[str] = set()
        self._verify = False
        self._missed = False
        #: What got events since the last verify scan ("" the root, else experiment/run ids),
        #: and what that scan found changed with no event (suspects, given one more scan).
        self._evented: set[str] = set()
        self._suspects: set[str] = set()
        self._new_suspects: set[str] = set()

    # -- helpers ----------------------------------------------------------------------------
    def _say(self, out: StoreChanges, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            out.notices.append(message)

    def _seen_change(self, key: str, mtime_ns: int | None) -> bool:
        """A scan found a change to `key`; False asks the caller to leave it for its event.

        In verify mode a change with no event since the last scan is suspect: its event may
        be in flight, so it is left alone once. Found again with still no event (a writer
        that keeps writing), or found when it is older than the grace period: events are
        not arriving.
        """
        if not self._verify or key in self._evented:
            return True
        old = mtime_ns is not None and mtime_ns < time.time_ns() - EVENT_GRACE_NS
        if old or key in self._suspects:
            self._missed = True
            return True
        self._new_suspects.add(key)
        return False

    def relevant(self, path: str) -> bool:
        if path == self.root:
            return True
        if not path.startswith(self._prefix):
            return False
        parts = path[len(self._prefix) :].split(os.sep, 3)
        if parts[0] == REGISTRY:
            return True
        if len(parts) >= 2 and parts[1] in ("datasets", "models"):
            return False
        if len(parts) >= 2 and parts[1] == "traces":
            return True  # `<exp>/traces/<id>/...`: a trace's info, tags, assessments, spans
        # Artifacts can be large trees written while training; nothing in them is followed.
        return not (len(parts) >= 3 and parts[2] == "artifacts")

    def in_registry(self, path: str) -> bool:
        return path == self._registry or path.startswith(self._registry + os.sep)

    def registry_sig(self) -> object:
        """Every folder and file of `models/` with its size, time and inode (MLflow rewrites
        meta.yaml and tag files in place; our writes replace them: either changes these)."""
        seen = []
        for folder, dirs, files in os.walk(self._registry):
            dirs.sort()
            for name in ("", *sorted(files)):
                path = os.path.join(folder, name) if name else folder
                st = os.stat(path)
                seen.append((path, st.st_size, st.st_mtime_ns, st.st_ino))
        return hash(tuple(seen))

    def gone(self) -> bool:
        try:
            st = os.stat(self.root)
        except OSError:
            return True
        return self.root_ino is not None and st.st_ino != self.root_ino

    def back_notice(self) -> str:
        return f"{self.where} is back; following it again (reload to see it as it is now)."

    def experiment_ids(self) -> set[str]:
        return set(self.exps)

    def _list_experiments(self) -> dict[str, str]:
        out = {}
        with os.scandir(self.root) as it:
            for entry in it:
                name = entry.name
                if name.startswith(".") or name == REGISTRY:
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        out[name] = entry.path
        return out

    @staticmethod
    def _list_runs(exp_path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            it = os.scandir(exp_path)
        except OSError:
            return out
        with it:
            for entry in it:
                if entry.name in RESERVED_EXPERIMENT_FOLDERS:
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        out[entry.name] = entry.path
        return out

    @staticmethod
    def _metric_files(run_path: str) -> Iterator[tuple[str, os.stat_result]]:
        """(key, stat) of every metric file of a run; keys may hold "/" (nested folders)."""
        stack = [(os.path.join(run_path, "metrics"), "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                it = os.scandir(folder)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, prefix + entry.name + "/"))
                        elif not entry.is_symlink():
                            yield prefix + entry.name, entry.stat(follow_symlinks=False)
                    except OSError:
                        continue

    @staticmethod
    def _values_sig(folder: str, with_stat: bool) -> tuple[int, int]:
        """A hash of a params/tags folder (names; for tags each file's mtime and size too), and
        the newest mtime seen (of the files, else of the folder).

        Params are never rewritten by MLflow (it refuses another value), so names suffice;
        `set_tag` on an existing key rewrites the file in place, so tags need their stat.
        """
        items: list[str | tuple[str, int, int]] = []  # names alone unless `with_stat`
        newest = _mtime(folder) or 0
        stack = [(folder, "")]
        while stack:
            path, prefix = stack.pop()
            try:
                it = os.scandir(path)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, prefix + entry.name + "/"))
                        elif with_stat:
                            st = entry.stat(follow_symlinks=False)
                            items.append((prefix + entry.name, st.st_mtime_ns, st.st_size))
                            newest = max(newest, st.st_mtime_ns)
                        else:
                            items.append(prefix + entry.name)
                    except OSError:
                        continue
        items.sort()
        return hash(tuple(items)), newest

    def _read_meta(self, path: str) -> tuple[dict, int]:
        """(parsed meta.yaml, hash of its bytes); raises _Retry when caught mid-write."""
        data = read_bytes(path, self._root_real)
        if not data.strip():
            raise _Retry(path)
        try:
            meta = yamlfast.loads(data)
        except Exception as exc:  # truncated mid-write, most likely: MLflow writes in place
            raise _Retry(path) from exc
        if not isinstance(meta, dict):
            raise _Retry(path)
        return meta, hash(data)

    # -- baseline ---------------------------------------------------------------------------
    def baseline(self, since_ns: int | None = None) -> StoreChanges:
        self.exps.clear()
        self.runs.clear()
        self._sweep = []
        self.start_ns = time.time_ns()
        st = os.stat(self.root)
        self.root_mtime, self.root_ino = st.st_mtime_ns, st.st_ino
        self._caught_up = caught_up = StoreChanges()
        self._since = None if since_ns is None else since_ns - SINCE_SLACK_NS
        try:
            for name, path in self._list_experiments().items():
                self._add_experiment(name, path, None)
            if self._since is not None:
                self._catch_up_trash(caught_up)
                caught_up.registry = self._changed_since(_newest_under(self._registry))
        finally:
            self._since = None
        if self.polling:
            self.prepare_polling()
        return caught_up

    def _changed_since(self, *stamps: int | None) -> bool:
        """Whether any of these file times is after `since_ns` (during a baseline given one)."""
        since = self._since
        return since is not None and any(t is not None and t >= since for t in stamps)

    def _catch_up_trash(self, out: StoreChanges) -> None:
        """Experiments moved into .trash (deleted by MLflow) since `since_ns`, and their runs."""
        for exp_id, path in self._list_runs(os.path.join(self.root, TRASH)).items():
            if self._changed_since(_stamp(path)):
                out.experiment_deleted(exp_id)
                for run_id in self._list_runs(path):
                    out.run_deleted(run_id)

    def prepare_polling(self) -> None:
        self.polling = True
        now = time.monotonic()
        for exp in self.exps.values():
            if exp.tags_sig is None:
                exp.tags_sig = self._values_sig(os.path.join(exp.path, "tags"), True)[0]
        for run in self.runs.values():
            if run.dirs_sig is None and not run.live(now):
                run.dirs_sig = self._dirs_sig(run)

    @staticmethod
    def _dirs_sig(run: _Run) -> int:
        return hash(tuple(_mtime(os.path.join(run.path, d)) for d in ("params", "tags", "metrics")))

    def _record_values(self, run: _Run) -> int:
        """Record the run's params and tags; returns the newest file time seen in them."""
        run.params_sig, params_newest = self._values_sig(os.path.join(run.path, "params"), False)
        run.tags_sig, tags_newest = self._values_sig(os.path.join(run.path, "tags"), True)
        return max(params_newest, tags_newest)

    def _add_experiment(self, exp_id: str, path: str, out: StoreChanges | None) -> None:
        """Start following an experiment folder; `out` None means it is part of the baseline."""
        exp = _Exp(exp_id, path)
        dir_st = stat_sig(path)
        exp.dir_mtime = dir_st[0] if dir_st else None
        exp.traces_mtime = _mtime(os.path.join(path, "traces"))
        self.exps[exp_id] = exp
        with contextlib.suppress(_Retry, OSError):
            self._read_experiment_meta(exp)
        if out is None and self._since is not None:
            tags_sig, tags_newest = self._values_sig(os.path.join(path, "tags"), True)
            exp.tags_sig = tags_sig
            meta_time = exp.meta_sig[0] if exp.meta_sig else None
            # A folder moved in keeps its times but gets a new ctime.
            if self._changed_since(_stamp(path), meta_time, tags_newest):
                self._report_experiment(exp, self._caught_up)
            if self._changed_since(exp.traces_mtime):
                self._caught_up.traces.add(exp_id)
        if out is not None:
            exp.tags_sig = self._values_sig(os.path.join(path, "tags"), True)[0]
            self._report_experiment(exp, out)
        for run_id, run_path in self._list_runs(path).items():
            if not self._add_run(exp, run_id, run_path, out):
                # Caught between MLflow's mkdir and its meta.yaml: look again (events), and
                # list the folder again at the next poll.
                exp.dir_mtime = None
                self._retry.setdefault(os.path.join(run_path, "meta.yaml"), 0)

    def _read_experiment_meta(self, exp: _Exp) -> bool:
        """Re-read an experiment's meta.yaml; True when its content changed."""
        path = os.path.join(exp.path, "meta.yaml")
        sig = stat_sig(path)
        if sig is None:
            exp.meta_sig = None
            return False
        # The signature first: a file that stays malformed is then not "changed" at every scan
        # (the retry of `on_paths` re-reads one caught mid-write).
        exp.meta_sig = sig
        meta, digest = self._read_meta(path)
        changed = digest != exp.meta_hash
        exp.meta_hash = digest
        exp.stage = str(meta.get("lifecycle_stage") or ACTIVE)
        return changed

    def _add_run(self, exp: _Exp, run_id: str, path: str, out: StoreChanges | None) -> bool:
        """Start following a run folder; False when its meta.yaml is not readable yet."""
        run = _Run(run_id, exp.exp_id, path)
        try:
            self._read_run_meta(run)
        except (_Retry, FileNotFoundError):
            if out is not None:
                return False
            # In the baseline a run with no readable meta.yaml is still followed (as live).
        except OSError:
            return False
        now = time.monotonic()
        # New means every point is new; but a folder with old contents appearing (an
        # experiment restored from .trash, a run moved in) has points that were the store's.
        fresh = out is not None
        if fresh:
            dir_sig = stat_sig(path)
            fresh = dir_sig is None or dir_sig[0] >= self.start_ns - EVENT_GRACE_NS
        newest = 0
        for key, st in self._metric_files(path):
            run.offsets[_intern(key)] = 0 if fresh else st.st_size
            newest = max(newest, st.st_mtime_ns)
        live = run.live(now)
        if live:
            newest = max(newest, self._record_values(run))
        if self.polling:
            run.dirs_sig = self._dirs_sig(run)
        self.runs[run_id] = run
        exp.run_ids.add(run_id)
        if out is None and self._since is not None:
            # Changed since the reading began: whoever shows the run reads it again, whole.
            # A new param or tag changes its folder's time (a live run's were looked at above).
            folders = () if live else (_mtime(os.path.join(path, d)) for d in ("params", "tags"))
            meta_time = run.meta_sig[0] if run.meta_sig else None
            if self._changed_since(_stamp(path), meta_time, newest, *folders):
                self._report_run(run, self._caught_up)
        if out is not None:
            run.hot_until = now + HOT_SECONDS
            self._report_run(run, out)
            if fresh:
                for key in list(run.offsets):
                    self._read_points(run, key, out)
        return True

    def _read_run_meta(self, run: _Run) -> bool:
        """Re-read a run's meta.yaml; True when its content changed."""
        path = os.path.join(run.path, "meta.yaml")
        sig = stat_sig(path)
        if sig is None:
            raise FileNotFoundError(path)
        run.meta_sig = sig  # first, as for experiments
        meta, digest = self._read_meta(path)
        changed = digest != run.meta_hash
        run.meta_hash = digest
        run.status = status_name(meta.get("status")) or str(meta.get("status"))
        run.stage = str(meta.get("lifecycle_stage") or ACTIVE)
        return changed

    def _drop_run(self, run_id: str, out: StoreChanges) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None:
            exp = self.exps.get(run.exp_id)
            if exp is not None:
                exp.run_ids.discard(run_id)
        out.run_deleted(run_id)

    @staticmethod
    def _report_experiment(exp: _Exp, out: StoreChanges) -> None:
        deleted = exp.stage == DELETED
        (out.experiment_deleted if deleted else out.experiment_changed)(exp.exp_id)

    @staticmethod
    def _report_run(run: _Run, out: StoreChanges) -> None:
        (out.run_deleted if run.stage == DELETED else out.run_changed)(run.run_id)

    def _drop_experiment(self, exp_id: str, out: StoreChanges) -> None:
        exp = self.exps.pop(exp_id, None)
        out.experiment_deleted(exp_id)
        if exp is not None:
            # MLflow marks an experiment's runs deleted with it (they are gone from view).
            for run_id in list(exp.run_ids):
                self._drop_run(run_id, out)

    # -- metric points ----------------------------------------------------------------------
    def _read_points(self, run: _Run, key: str, out: StoreChanges) -> None:
        """Read what was appended to a metric file since the last look; complete lines only."""
        path = os.path.join(run.path, "metrics", *key.split("/"))
        offset = run.offsets.get(key, 0)
        try:
            fd, st = open_regular(path, self._root_real)
            with os.fdopen(fd, "rb") as fh:
                size = st.st_size
                if size < offset:
                    # MLflow only appends: a shorter file was rewritten by someone else. Its
                    # points can't be told apart from old ones; the run is re-read instead.
                    run.offsets[key] = size
                    run.partials.pop(key, None)
                    out.run_changed(run.run_id)
                    self._say(out, f"{path} got shorter (rewritten?); its run is re-read whole.")
                    return
                if size == offset:
                    return
                fh.seek(offset)
                data = fh.read()
        except IsADirectoryError:
            # A folder: a new key holding "/" (loss/train); read the files inside it.
            for sub, _ in self._metric_files(run.path):
                if sub.startswith(key + "/") and sub not in run.offsets:
                    run.offsets[_intern(sub)] = 0
                    self._read_points(run, sub, out)
            return
        except FileNotFoundError:
            run.offsets.pop(key, None)
            run.partials.pop(key, None)
            return
        except OSError as exc:
            self._say(out, f"{path} cannot be read ({exc.strerror or exc}).")
            return
        if key not in run.offsets:
            key = _intern(key)
        run.offsets[key] = offset + len(data)
        partial = run.partials.pop(key, None)
        if partial:
            data = partial + data
        end = data.rfind(b"\n")
        if end < len(data) - 1:
            # The last line has no newline yet: the writer is mid-line; keep it for later.
            run.partials[key] = data[end + 1 :]
            data = data[: end + 1]
        if not data:
            return
        points = []
        bad = 0
        for line in data.split(b"\n"):
            if not line:
                continue
            point = parse_metric_line(line)
            if point is None:
                bad += 1
            else:
                points.append(Metric(key, point[2], point[1], point[0]))
        if bad:
            self._say(out, f"{path}: malformed metric line(s) ignored.")
        out.add_points(run.run_id, key, points)
        run.hot_until = time.monotonic() + HOT_SECONDS

    # -- events -----------------------------------------------------------------------------
    def retry_after(self) -> float | None:
        return RETRY_SECONDS if self._retry else None

    def on_paths(self, paths: set[str], out: StoreChanges) -> None:
        retry, self._retry = self._retry, {}
        rescan_root = False
        exps: set[str] = set()
        traces: set[str] = set()
        run_dirs: set[tuple[str, str]] = set()
        metas: set[str] = set()
        values: set[str] = set()
        metric_keys: set[tuple[str, str]] = set()
        prefix_len = len(self._prefix)
        evented = self._evented
        for path in paths | set(retry):
            if path == self.root:
                rescan_root = True
                evented.add("")
                continue
            if not path.startswith(self._prefix):
                continue
            parts = path[prefix_len:].split(os.sep)
            top = parts[0]
            evented.add("" if len(parts) == 1 or top == TRASH else top)
            if len(parts) > 2:
                evented.add(parts[1])
            if len(parts) == 1 or top == TRASH:
                rescan_root = True
                continue
            exp = self.exps.get(top)
            if exp is None:
                rescan_root = True
                continue
            second = parts[1]
            if second == "meta.yaml" or second == "tags":
                exps.add(top)
                continue
            if second == "traces":
                traces.add(top)
                continue
            if second in RESERVED_EXPERIMENT_FOLDERS:
                continue
            run = self.runs.get(second)
            if run is None or run.exp_id != top or len(parts) == 2:
                run_dirs.add((top, second))
                continue
            third = parts[2]
            if third == "meta.yaml":
                metas.add(second)
            elif third == "metrics":
                if len(parts) > 3:
                    metric_keys.add((second, "/".join(parts[3:])))
                else:
                    run_dirs.add((top, second))  # the metrics folder itself: look at it all
            elif third in ("params", "tags", "inputs", "outputs"):
                values.add(second)

        if rescan_root:
            self._rescan_root(out)
        for exp_id in traces:
            self._traces_changed(self.exps.get(exp_id), out)
        for exp_id in exps:
            exp = self.exps.get(exp_id)
            if exp is None:
                continue
            self._check_experiment_meta(exp, out, retry, force=True)
            if exp.tags_sig is not None:
                exp.tags_sig = self._values_sig(os.path.join(exp.path, "tags"), True)[0]
        for exp_id, run_id in run_dirs:
            exp = self.exps.get(exp_id)
            if exp is not None:
                self._check_run_dir(exp, run_id, out, retry)
        for run_id in metas:
            run = self.runs.get(run_id)
            if run is not None:
                self._check_run_meta(run, out, retry)
        now = time.monotonic()
        for run_id in values:
            run = self.runs.get(run_id)
            if run is not None:
                run.hot_until = now + HOT_SECONDS
                if run.stage != DELETED:
                    out.run_changed(run_id)
                if run.tags_sig is not None:
                    self._record_values(run)
        for run_id, key in metric_keys:
            run = self.runs.get(run_id)
            if run is not None:
                self._read_points(run, key, out)

    def _again(self, path: str, retry: dict[str, int], out: StoreChanges) -> None:
        attempts = retry.get(path, 0) + 1
        if attempts < RETRY_ATTEMPTS:
            self._retry[path] = attempts
        elif os.path.exists(path):  # a folder with no meta.yaml at all is not a run: no news
            self._say(out, f"{path}: empty or malformed; skipped.")

    def _rescan_root(self, out: StoreChanges) -> None:
        st = stat_sig(self.root)
        if st is None:
            return
        self.root_mtime = st[0]
        try:
            present = self._list_experiments()
        except OSError:
            return
        for exp_id in list(self.exps):
            if exp_id not in present:
                self._drop_experiment(exp_id, out)
        for exp_id, path in present.items():
            if exp_id not in self.exps:
                self._seen_change("", _mtime(path))
                self._add_experiment(exp_id, path, out)

    def _check_experiment_meta(
        self, exp: _Exp, out: StoreChanges, retry: dict[str, int], force: bool = False
    ) -> None:
        """Re-read an experiment's meta.yaml; `force` reports it even if only its tags changed."""
        path = os.path.join(exp.path, "meta.yaml")
        try:
            changed = self._read_experiment_meta(exp)
        except _Retry:
            self._again(path, retry, out)
            return
        except OSError:
            return
        if exp.stage == DELETED:
            out.experiment_deleted(exp.exp_id)
        elif changed or force:
            out.experiment_changed(exp.exp_id)

    @staticmethod
    def _traces_changed(exp: _Exp | None, out: StoreChanges) -> None:
        if exp is not None:
            exp.traces_mtime = _mtime(os.path.join(exp.path, "traces"))
            if exp.stage != DELETED:
                out.traces.add(exp.exp_id)

    def _check_run_dir(
        self, exp: _Exp, run_id: str, out: StoreChanges, retry: dict[str, int]
    ) -> None:
        path = os.path.join(exp.path, run_id)
        run = self.runs.get(run_id)
        if not os.path.isdir(path):
            if run is not None and run.exp_id == exp.exp_id:
                self._drop_run(run_id, out)
            return
        if run is None:
            if not self._add_run(exp, run_id, path, out):
                # No meta.yaml yet (MLflow writes it just after the folder): look again.
                self._again(os.path.join(path, "meta.yaml"), retry, out)
            return
        if run.exp_id != exp.exp_id:
            return
        # The metrics folder or a nested key folder appeared: pick up files not seen yet.
        for key, _ in self._metric_files(run.path):
            if key not in run.offsets:
                run.offsets[_intern(key)] = 0
                self._read_points(run, key, out)

    def _check_run_meta(self, run: _Run, out: StoreChanges, retry: dict[str, int]) -> None:
        try:
            changed = self._read_run_meta(run)
        except _Retry:
            self._again(os.path.join(run.path, "meta.yaml"), retry, out)
            return
        except FileNotFoundError:
            if not os.path.isdir(run.path):
                self._drop_run(run.run_id, out)
            return
        except OSError:
            return
        if not changed:
            return
        run.hot_until = time.monotonic() + HOT_SECONDS
        self._report_run(run, out)

    # -- polling ----------------------------------------------------------------------------
    def scan(self, out: StoreChanges, *, verify: bool, sweep: bool) -> bool:
        self._verify = verify
        self._missed = False
        self._new_suspects = set()
        try:
            self._scan(out, sweep)
        finally:
            self._verify = False
            self._suspects = self._new_suspects
            self._evented.clear()
        return self._missed

    def _scan(self, out: StoreChanges, sweep: bool) -> None:
        root = stat_sig(self.root)
        if root is None:
            return
        if root[0] != self.root_mtime:
            self._rescan_root(out)
        for exp in list(self.exps.values()):
            if self.exps.get(exp.exp_id) is exp:  # not dropped by a rescan meanwhile
                self._scan_experiment(exp, out)
        now = time.monotonic()
        for run in list(self.runs.values()):
            if run.live(now):
                self._scan_run(run, out)
        if sweep:
            self._sweep_finished(out, now)

    def _scan_experiment(self, exp: _Exp, out: StoreChanges) -> None:
        dir_sig = stat_sig(exp.path)
        if dir_sig is None:
            self._rescan_root(out)
            return
        if dir_sig[0] != exp.dir_mtime:
            # A run folder was added or removed (stat first: one added meanwhile shows next time).
            exp.dir_mtime = dir_sig[0]
            present = self._list_runs(exp.path)
            for run_id in list(exp.run_ids):
                if run_id not in present:
                    self._drop_run(run_id, out)
            for run_id, path in present.items():
                if run_id not in self.runs:
                    if self._add_run(exp, run_id, path, out):
                        self._seen_change(exp.exp_id, _mtime(path))
                    else:
                        exp.dir_mtime = None  # meta.yaml not there yet: list it again next time
        meta_sig = stat_sig(os.path.join(exp.path, "meta.yaml"))
        if meta_sig != exp.meta_sig:
            self._seen_change(exp.exp_id, meta_sig[0] if meta_sig else None)
            self._check_experiment_meta(exp, out, {})
        traces_mtime = _mtime(os.path.join(exp.path, "traces"))
        if traces_mtime != exp.traces_mtime:  # a trace added (tags, assessments: by events)
            self._seen_change(exp.exp_id, traces_mtime)
            self._traces_changed(exp, out)
        if exp.tags_sig is not None and self.polling:
            tags_sig, _ = self._values_sig(os.path.join(exp.path, "tags"), True)
            if tags_sig != exp.tags_sig:
                exp.tags_sig = tags_sig
                out.experiment_changed(exp.exp_id)

    def _scan_run(self, run: _Run, out: StoreChanges) -> None:
        meta_sig = stat_sig(os.path.join(run.path, "meta.yaml"))
        if meta_sig is None:
            if not os.path.isdir(run.path):
                self._drop_run(run.run_id, out)
            return
        if meta_sig != run.meta_sig:
            self._seen_change(run.run_id, meta_sig[0])
            self._check_run_meta(run, out, {})
        if run.params_sig is None or run.tags_sig is None:
            self._record_values(run)
        else:
            params_sig, params_newest = self._values_sig(os.path.join(run.path, "params"), False)
            tags_sig, tags_newest = self._values_sig(os.path.join(run.path, "tags"), True)
            if (params_sig, tags_sig) != (run.params_sig, run.tags_sig):
                run.params_sig, run.tags_sig = params_sig, tags_sig
                run.hot_until = time.monotonic() + HOT_SECONDS
                self._seen_change(run.run_id, max(params_newest, tags_newest))
                if run.stage != DELETED:
                    out.run_changed(run.run_id)
        for key, st in self._metric_files(run.path):
            offset = run.offsets.get(key)
            if offset is None or st.st_size != offset:
                if not self._seen_change(run.run_id, st.st_mtime_ns):
                    continue
                if offset is None:
                    run.offsets[_intern(key)] = 0
                self._read_points(run, key, out)
        if self.polling:
            run.dirs_sig = self._dirs_sig(run)

    def _sweep_finished(self, out: StoreChanges, now: float) -> None:
        """Check a slice of the finished runs, so that a 10,000-run store costs little a poll."""
        budget = SWEEP_RUNS_PER_POLL
        refilled = False
        while budget > 0:
            if not self._sweep:
                if refilled:
                    return  # fewer finished runs than the budget: each was checked once
                self._sweep = [r for r, run in self.runs.items() if not run.live(now)]
                refilled = True
                continue
            run = self.runs.get(self._sweep.pop())
            if run is None or run.live(now):
                continue
            self._sweep_run(run, out, now)
            budget -= 1

    def _sweep_run(self, run: _Run, out: StoreChanges, now: float) -> None:
        """The light check of a finished run: its meta.yaml and its three folders' mtimes.

        A new param, tag or metric key changes a folder's mtime, and new points a metric file's
        size; the run then counts as live for a while, so the next polls look at each of its
        files. (A tag of a finished run rewritten in place shows only by events.)
        """
        meta_sig = stat_sig(os.path.join(run.path, "meta.yaml"))
        if meta_sig is None:
            if not os.path.isdir(run.path):
                self._drop_run(run.run_id, out)
            return
        if meta_sig != run.meta_sig:
            self._check_run_meta(run, out, {})
        dirs_sig = self._dirs_sig(run)
        if dirs_sig != run.dirs_sig:
            known = run.dirs_sig is not None
            run.dirs_sig = dirs_sig
            if known:
                run.hot_until = now + HOT_SECONDS
                if run.stage != DELETED:
                    out.run_changed(run.run_id)
                self._scan_run(run, out)
                return
        # Points appended to a finished run (MlflowClient.log_metric after the fact).
        offsets = run.offsets
        for key, st in self._metric_files(run.path):
            if st.st_size != offsets.get(key):
                run.hot_until = now + HOT_SECONDS
                self._scan_run(run, out)
                return


def _mtime(path: str) -> int | None:
    sig = stat_sig(path)
    return sig[0] if sig else None


def _stamp(path: str) -> int | None:
    """The later of a path's mtime and ctime: a folder renamed into place keeps its mtime, and
    gets a new ctime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return max(st.st_mtime_ns, st.st_ctime_ns)


def _newest_under(folder: str) -> int | None:
    """The latest `_stamp` of a folder and everything under it (None: no such folder)."""
    newest = None
    for parent, _dirs, files in os.walk(folder):
        for path in (parent, *(os.path.join(parent, name) for name in files)):
            stamp = _stamp(path)
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
    return newest


_interned: dict[str, str] = {}


def _intern(key: str) -> str:
    """One string object per metric key across runs: 100,000 metric files share a few names."""
    return _interned.setdefault(key, key)
