"""Following an `mlruns/` folder: which paths changed, read from where it was last read.

A watchdog observer on the folder (recursive) marks paths dirty; only those are looked at.
Metric files are append-only (MLflow's `append_to`), so each keeps a byte offset and only the
bytes past it are read; an unterminated last line is a point still being written and waits for
its newline. Polling (no events) is a stat scan of what gains experiments and runs, of the runs
still RUNNING or changed lately, and a slow round-robin sweep over finished runs. Given
`since_ns`, the baseline reports what file times say changed since (a folder moved in counts by
its ctime). An event under `<exp>/traces/` marks that experiment's traces changed; polling
sees a new trace as a change of the `traces/` folder. The loop around it is
store/follow/follower.py's; what is known of the folder and the reading of one changed path
are followed.py's.
"""

from __future__ import annotations

import os
import time

from ..entities import DELETED
from ..follow.backend import stat_sig
from ..follow.changes import StoreChanges
from .followed import (
    HOT_SECONDS,
    RETRY_SECONDS,
    ExpState,
    FollowedFolder,
    RunState,
    intern_key,
    mtime_of,
)
from .layout import REGISTRY, RESERVED_EXPERIMENT_FOLDERS, TRASH

#: Finished runs checked per poll by the round-robin sweep (a few stat calls each).
SWEEP_RUNS_PER_POLL = 100
#: With file events, a scan only checks that they arrive: finished runs that changed lately
#: ("hot") are looked at this many a scan, round robin, RUNNING ones all. Scanning every hot
#: run held the events back: in a soak creating ~5 runs a second, 1,000 hot runs took
#: 0.2 s of CPU and 0.66 s on a loaded machine, every 5 s, while changes waited.
HOT_RUNS_PER_VERIFY = 100


class FileFollower(FollowedFolder):
    """Follows an `mlruns/` folder: which paths changed (events, polling), read by
    `FollowedFolder` (followed.py)."""

    recursive = True
    can_resume = True

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
        if self._verify:
            runs = [run for run in self.runs.values() if run.running()]
            runs += self._hot_slice(now)
        else:
            runs = [run for run in self.runs.values() if run.live(now)]
        for run in runs:
            self._scan_run(run, out)
        if sweep:
            self._sweep_finished(out, now)

    def _hot_slice(self, now: float) -> list[RunState]:
        """The next `HOT_RUNS_PER_VERIFY` finished runs that changed lately, round robin."""
        if not self._hot_round:
            self._hot_round = [
                run_id for run_id, run in self.runs.items() if run.live(now) and not run.running()
            ]
        picked = self._hot_round[-HOT_RUNS_PER_VERIFY:]
        del self._hot_round[-HOT_RUNS_PER_VERIFY:]
        runs = (self.runs.get(run_id) for run_id in picked)
        return [run for run in runs if run is not None and run.live(now) and not run.running()]

    def _scan_experiment(self, exp: ExpState, out: StoreChanges) -> None:
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
                        self._seen_change(exp.exp_id, mtime_of(path))
                    else:
                        exp.dir_mtime = None  # meta.yaml not there yet: list it again next time
        meta_sig = stat_sig(os.path.join(exp.path, "meta.yaml"))
        if meta_sig != exp.meta_sig:
            self._seen_change(exp.exp_id, meta_sig[0] if meta_sig else None)
            self._check_experiment_meta(exp, out, {})
        traces_mtime = mtime_of(os.path.join(exp.path, "traces"))
        if traces_mtime != exp.traces_mtime:  # a trace added (tags, assessments: by events)
            self._seen_change(exp.exp_id, traces_mtime)
            self._traces_changed(exp, out)
        if exp.tags_sig is not None and self.polling:
            tags_sig, _ = self._values_sig(os.path.join(exp.path, "tags"), True)
            if tags_sig != exp.tags_sig:
                exp.tags_sig = tags_sig
                out.experiment_changed(exp.exp_id)

    def _scan_run(self, run: RunState, out: StoreChanges) -> None:
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
                    run.offsets[intern_key(key)] = 0
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

    def _sweep_run(self, run: RunState, out: StoreChanges, now: float) -> None:
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
