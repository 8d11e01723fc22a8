"""Runs of the file store: scanning run folders (in worker processes for a first open),
the scan cache, a run in full with its dataset inputs and model outputs, and metric histories.
"""

from __future__ import annotations

import marshal
import os
import re
import time
from array import array
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

from .. import parallel
from ..base import StoreWarnings
from ..entities import ACTIVE, TAG_RUN_NAME, Dataset, DatasetInput, Metric, ModelOutput, Run
from ..process import GcPause as _GcPause
from ..series import Series
from .folder import StoreFolder, int_or_none, safe_name, str_or_none
from .layout import RESERVED_EXPERIMENT_FOLDERS, status_name
from .metrics import file_series_job, latest_point_of_file, read_metric_file
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
_RUN_ID = re.compile(r"[0-9a-f]{32}\Z")

# A run record is plain data, so that the scan cache can store it with marshal.
# (run_id, experiment_id, run_name, status, start_time, end_time, lifecycle_stage, artifact_uri,
#  user_id, deleted_time, params, tags, metrics{key: (value, timestamp, step)})
Record = tuple


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


class RunsReader(StoreFolder):
    """The runs of an `mlruns/` folder."""

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
            chunks = [
                (type(self), self.root, absent[i : i + size]) for i in range(0, len(absent), size)
            ]
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
                for t in (int_or_none(meta.get("start_time")), int_or_none(meta.get("end_time"))):
                    if t is not None and (last is None or t > last):
                        last = t
                out[exp_id] = (count + 1, last)
        return out

    def _find_run_dir(self, run_id: str) -> str | None:
        run_id = str(run_id)
        known = self._run_dirs.get(run_id)
        if known is not None and os.path.isdir(known):
            return known
        if not safe_name(run_id):
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
            if not safe_name(source_id) or not os.path.isdir(ds_path):
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
                        schema=str_or_none(ds.get("schema")),
                        profile=str_or_none(ds.get("profile")),
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
            out.append(ModelOutput(model_id=str(model_id), step=int_or_none(meta.get("step")) or 0))
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


def scan_runs_job(
    store_class: type[RunsReader], root: str, items: Sequence[tuple[str, str]]
) -> bytes:
    """Read run folders (scan-cache key, folder) of the store at `root`, in a worker or not;
    the store is opened as a `store_class` (the whole FileStore, reader.py).

    The result is one `marshal` string (plain values, cheap to send and safe to read back) of
    (key, record or None, `entry_parts` of its stat signature, warnings) for each folder, in
    order.
    """
    store = _scanners.get(root)
    if store is None:
        store = _scanners[root] = store_class(root, use_cache=False)
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
_scanners: dict[str, RunsReader] = {}
