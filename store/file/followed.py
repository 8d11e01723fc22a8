"""What the file-store follower knows of an `mlruns/` folder, and how it reads one change.

The experiments and runs seen (`ExpState`, `RunState`: stat signatures, hashes of meta.yaml, each
metric file's byte offset), the baseline taken from the state that was read, and the reading
of one changed experiment, run, meta.yaml or metric file into `StoreChanges`. Which paths
changed is follower.py's (watchdog events, polling scans).
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
#: A meta.yaml read empty or truncated (MLflow writes it in place) is read again after this.
RETRY_SECONDS = 0.1
RETRY_ATTEMPTS = 30


class ExpState:
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


class RunState:
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

    def running(self) -> bool:
        return self.status is None or self.status in LIVE_STATUSES

    def live(self, now: float) -> bool:
        return self.running() or self.hot_until > now


class _Retry(Exception):
    """A file was caught mid-write (empty or truncated meta.yaml): look again shortly."""


class FollowedFolder(FollowerBackend):
    """The state of a followed `mlruns/` folder, and the reading of what changed in it."""

    def __init__(self, store: Store) -> None:
        self.root = os.path.abspath(os.fspath(getattr(store, "root", store.location)))
        self.watch_dir = self.root
        self.where = self.root
        self._prefix = self.root + os.sep
        self._root_real = os.path.realpath(self.root)
        self._registry = os.path.join(self.root, REGISTRY)
        self.exps: dict[str, ExpState] = {}
        self.runs: dict[str, RunState] = {}
        self.root_mtime: int | None = None
        self.root_ino: int | None = None
        self.start_ns = time.time_ns()
        self.polling = False
        self._retry: dict[str, int] = {}
        self._sweep: list[str] = []
        self._hot_round: list[str] = []
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
        for key, entry in _files_under(os.path.join(run_path, "metrics")):
            try:
                if entry.is_symlink():
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield key, st

    @staticmethod
    def _values_sig(folder: str, with_stat: bool) -> tuple[int, int]:
        """A hash of a params/tags folder (names; for tags each file's mtime and size too), and
        the newest mtime seen (of the files, else of the folder).

        Params are never rewritten by MLflow (it refuses another value), so names suffice;
        `set_tag` on an existing key rewrites the file in place, so tags need their stat.
        """
        items: list[str | tuple[str, int, int]] = []  # names alone unless `with_stat`
        newest = mtime_of(folder) or 0
        for key, entry in _files_under(folder):
            if not with_stat:
                items.append(key)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            items.append((key, st.st_mtime_ns, st.st_size))
            newest = max(newest, st.st_mtime_ns)
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
        self._hot_round = []
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
    def _dirs_sig(run: RunState) -> int:
        return hash(
            tuple(mtime_of(os.path.join(run.path, d)) for d in ("params", "tags", "metrics"))
        )

    def _record_values(self, run: RunState) -> int:
        """Record the run's params and tags; returns the newest file time seen in them."""
        run.params_sig, params_newest = self._values_sig(os.path.join(run.path, "params"), False)
        run.tags_sig, tags_newest = self._values_sig(os.path.join(run.path, "tags"), True)
        return max(params_newest, tags_newest)

    def _add_experiment(self, exp_id: str, path: str, out: StoreChanges | None) -> None:
        """Start following an experiment folder; `out` None means it is part of the baseline."""
        exp = ExpState(exp_id, path)
        dir_st = stat_sig(path)
        exp.dir_mtime = dir_st[0] if dir_st else None
        exp.traces_mtime = mtime_of(os.path.join(path, "traces"))
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

    def _read_experiment_meta(self, exp: ExpState) -> bool:
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

    def _add_run(self, exp: ExpState, run_id: str, path: str, out: StoreChanges | None) -> bool:
        """Start following a run folder; False when its meta.yaml is not readable yet."""
        run = RunState(run_id, exp.exp_id, path)
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
            run.offsets[intern_key(key)] = 0 if fresh else st.st_size
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
            folders = () if live else (mtime_of(os.path.join(path, d)) for d in ("params", "tags"))
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

    def _read_run_meta(self, run: RunState) -> bool:
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
    def _report_experiment(exp: ExpState, out: StoreChanges) -> None:
        deleted = exp.stage == DELETED
        (out.experiment_deleted if deleted else out.experiment_changed)(exp.exp_id)

    @staticmethod
    def _report_run(run: RunState, out: StoreChanges) -> None:
        (out.run_deleted if run.stage == DELETED else out.run_changed)(run.run_id)

    def _drop_experiment(self, exp_id: str, out: StoreChanges) -> None:
        exp = self.exps.pop(exp_id, None)
        out.experiment_deleted(exp_id)
        if exp is not None:
            # MLflow marks an experiment's runs deleted with it (they are gone from view).
            for run_id in list(exp.run_ids):
                self._drop_run(run_id, out)

    # -- metric points ----------------------------------------------------------------------
    def _read_points(self, run: RunState, key: str, out: StoreChanges) -> None:
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
                    run.offsets[intern_key(sub)] = 0
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
            key = intern_key(key)
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
                self._seen_change("", mtime_of(path))
                self._add_experiment(exp_id, path, out)

    def _check_experiment_meta(
        self, exp: ExpState, out: StoreChanges, retry: dict[str, int], force: bool = False
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
    def _traces_changed(exp: ExpState | None, out: StoreChanges) -> None:
        if exp is not None:
            exp.traces_mtime = mtime_of(os.path.join(exp.path, "traces"))
            if exp.stage != DELETED:
                out.traces.add(exp.exp_id)

    def _check_run_dir(
        self, exp: ExpState, run_id: str, out: StoreChanges, retry: dict[str, int]
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
                run.offsets[intern_key(key)] = 0
                self._read_points(run, key, out)

    def _check_run_meta(self, run: RunState, out: StoreChanges, retry: dict[str, int]) -> None:
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


def _files_under(folder: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(key, entry) of every file under `folder`, its sub-folders too: a key holds "/" where
    MLflow's key does. Links are not followed; a folder that cannot be read is skipped."""
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
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    stack.append((entry.path, prefix + entry.name + "/"))
                else:
                    yield prefix + entry.name, entry


def mtime_of(path: str) -> int | None:
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


def intern_key(key: str) -> str:
    """One string object per metric key across runs: 100,000 metric files share a few names."""
    return _interned.setdefault(key, key)
