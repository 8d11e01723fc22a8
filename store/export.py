"""Headless export of runs (JSON Lines or CSV) and logged models (JSON Lines): `mltui export`."""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC
from pathlib import Path
from typing import IO, Any

from .base import Store
from .entities import ACTIVE, Experiment, LoggedModel, LoggedModelMetric, Run
from .errors import NotAStoreError, StoreError
from .process import umask
from .traces import Trace
from .values import datetime_of, invalid_time


def finite_or_name(value: float) -> float | str:
    """Floats for JSON: non-finite values become "NaN", "Infinity" or "-Infinity"."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def select_experiments(
    store: Store, names_or_ids: Sequence[str], include_deleted: bool
) -> list[Experiment]:
    """The experiments an export covers; unknown names raise NotAStoreError-like errors."""
    if not names_or_ids:
        return store.experiments(include_deleted=include_deleted)
    chosen = []
    for wanted in names_or_ids:
        exp = store.experiment_by_name_or_id(wanted)
        if exp is None:
            raise NotAStoreError(f"No experiment named or numbered {wanted!r} in {store.location}.")
        chosen.append(exp)
    return chosen


def run_record(run: Run, experiment_name: str) -> dict[str, Any]:
    """One run as the JSONL object `mltui export` writes."""
    return {
        "experiment_id": run.experiment_id,
        "experiment_name": experiment_name,
        "run_id": run.run_id,
        "run_name": run.run_name,
        "status": run.status,
        "lifecycle_stage": run.lifecycle_stage,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "params": dict(run.params),
        "metrics": {k: finite_or_name(m.value) for k, m in run.metrics.items()},
        "tags": dict(run.tags),
    }


def export_records(
    store: Store,
    experiments: Sequence[str] = (),
    filter_string: str = "",
    order_by: Sequence[str] = (),
    include_deleted: bool = False,
    history: bool = False,
) -> Iterator[dict[str, Any]]:
    """The export's records in order; filter/order errors raise before anything is yielded."""
    exps = select_experiments(store, experiments, include_deleted)
    names = {e.experiment_id: e.name for e in exps}
    if not include_deleted:
        ids = [e.experiment_id for e in exps if e.lifecycle_stage == ACTIVE]
    else:
        ids = list(names)
    runs = store.search_runs(ids, filter_string, order_by, include_deleted=include_deleted)
    for run in runs:
        record = run_record(run, names.get(run.experiment_id, ""))
        if history:
            record["history"] = {
                key: [
                    [p.step, p.timestamp, finite_or_name(p.value)]
                    for p in store.metric_history(run.run_id, key)
                ]
                for key in sorted(run.metrics)
            }
        yield record


def logged_model_record(model: LoggedModel) -> dict[str, Any]:
    """One logged model as `mltui export --logged-models` writes it (MLflow's attribute names)."""
    return {
        "model_id": model.model_id,
        "name": model.name,
        "experiment_id": model.experiment_id,
        "source_run_id": model.source_run_id,
        "status": model.status,
        "params": dict(model.params),
        "tags": dict(model.tags),
        "metrics": [logged_model_metric_record(m) for m in model.metrics],
    }


def logged_model_metric_record(metric: LoggedModelMetric) -> dict[str, Any]:
    return {
        "key": metric.key,
        "value": finite_or_name(metric.value),
        "step": metric.step,
        "timestamp": metric.timestamp,
        "dataset_name": metric.dataset_name,
        "dataset_digest": metric.dataset_digest,
    }


def logged_model_records(
    store: Store, experiments: Sequence[str] = (), include_deleted: bool = False
) -> Iterator[dict[str, Any]]:
    """The logged models of the chosen experiments, in search_logged_models' order.

    `include_deleted` adds deleted experiments' models; deleted models themselves stay out, as
    MLflow's search leaves them out on both backends.
    """
    exps = select_experiments(store, experiments, include_deleted)
    ids = [e.experiment_id for e in exps if include_deleted or e.lifecycle_stage == ACTIVE]
    if ids:
        for model in store.logged_models(ids):
            yield logged_model_record(model)


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float spelled as finite_or_name does: span inputs and
    outputs are whatever the traced code returned, and MLflow stores NaN as JSON's `NaN`."""
    if isinstance(value, float):
        return finite_or_name(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def trace_record(trace: Trace) -> dict[str, Any]:
    """One trace as `mltui export --traces` writes it: MLflow's attribute names (Trace.info,
    Span, Assessment), so a script can read MlflowClient.get_trace and this alike. Non-finite
    numbers are "NaN", "Infinity", "-Infinity", as in the runs export."""
    info = trace.info
    record = {
        "trace_id": info.trace_id,
        "experiment_id": info.experiment_id,
        "state": info.state,
        "request_time": info.request_time,
        "execution_duration": info.execution_duration,
        "tags": dict(info.tags),
        "spans": [
            {
                "span_id": s.span_id,
                "parent_id": s.parent_id,
                "name": s.name,
                "span_type": s.span_type,
                "status": s.status,
                "start_time_ns": s.start_time_ns,
                "end_time_ns": s.end_time_ns,
                "inputs": s.inputs,
                "outputs": s.outputs,
                "attributes": s.attributes,
                "events": s.events,
            }
            for s in trace.spans
        ],
        "assessments": [
            {
                "name": a.name,
                "value": a.value,
                "source": {"source_type": a.source_type, "source_id": a.source_id},
                "rationale": a.rationale,
            }
            for a in info.assessments
        ],
    }
    return json_safe(record)


def export_trace_records(
    store: Store, experiments: Sequence[str] = (), include_deleted: bool = False
) -> Iterator[dict[str, Any]]:
    """The traces of the chosen experiments, oldest first, each read whole when written."""
    exps = select_experiments(store, experiments, include_deleted)
    ids = [e.experiment_id for e in exps if include_deleted or e.lifecycle_stage == ACTIVE]
    for info in store.traces(ids):
        trace = store.trace(info.trace_id)
        if trace is not None:  # deleted since it was listed
            yield trace_record(trace)


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, allow_nan=False))
        out.write("\n")
        count += 1
    return count


#: The columns every CSV of runs starts with (the TUI's and `mltui export`'s); then `params.x`,
#: `metrics.y` and `tags.z`, each group sorted by key.
CSV_RUN_COLUMNS = (
    "experiment_id",
    "experiment_name",
    "run_id",
    "run_name",
    "status",
    "lifecycle_stage",
    "start_time",
    "end_time",
)
_CSV_GROUPS = ("params", "metrics", "tags")
_CSV_TIMES = frozenset({"start_time", "end_time"})


def csv_number(value: float | str) -> str:
    """A metric at full precision (`repr` round-trips a float); NaN and infinities as
    `finite_or_name` spells them: `NaN`, `Infinity`, `-Infinity` (as MLflow's REST API)."""
    value = finite_or_name(value) if isinstance(value, float) else value
    return value if isinstance(value, str) else repr(float(value))


def _iso(ms: int | None) -> str:
    """A time as ISO 8601 in UTC with milliseconds, as `mltui export` documents."""
    if ms is None:
        return ""
    when = datetime_of(ms, UTC)
    return invalid_time(ms) if when is None else when.isoformat(timespec="milliseconds")


def csv_cell(record: dict[str, Any], column: str) -> str:
    """The CSV text of one column (`run_name`, `params.alpha`, `metrics.rmse`, ...) of a
    `run_record`; empty where the run has no such value."""
    if column in _CSV_TIMES:
        return _iso(record[column])
    if column in CSV_RUN_COLUMNS:
        value = record[column]
        return "" if value is None else str(value)
    group, _, key = column.partition(".")
    value = record[group].get(key) if group in _CSV_GROUPS else None
    if value is None:
        return ""
    return csv_number(value) if group == "metrics" else value


def csv_header(records: Sequence[dict[str, Any]]) -> list[str]:
    """`CSV_RUN_COLUMNS`, then every param, metric and tag key any of `records` has."""
    header = list(CSV_RUN_COLUMNS)
    for group in _CSV_GROUPS:
        keys = set().union(*(record[group] for record in records))
        header.extend(f"{group}.{key}" for key in sorted(keys))
    return header


def csv_writer(out: IO[str]) -> Any:
    """The one CSV dialect of mltui's files: Excel's quoting, lines ending in `\\n`."""
    return csv.writer(out, lineterminator="\n")


def write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """One row per run; columns `params.x`, `metrics.y`, `tags.z` as in MLflow's search_runs."""
    rows = list(records)
    header = csv_header(rows)
    writer = csv_writer(out)
    writer.writerow(header)
    writer.writerows([csv_cell(row, column) for column in header] for row in rows)
    return len(rows)


def write_atomically(path: Path | str, write: Callable[[IO[str]], object]) -> Path:
    """Call `write` on a temporary file beside `path`, then rename it over `path`.

    A reader never sees half a file, and a failure (no such folder, no permission, a folder in
    the way, a full disk) leaves nothing behind and raises StoreError saying which. Something
    that is not a file (`/dev/stdout`, a FIFO) is written in place, never replaced.
    """
    path = Path(path)
    if path.is_dir():
        raise StoreError(f"cannot write {path}: it is a folder")
    if path.exists() and not path.is_file():
        return _write_in_place(path, write)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".part", dir=path.parent
        )
    except OSError as exc:
        raise StoreError(f"cannot write in {path.parent}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(handle, 0o666 & ~umask())  # mkstemp's 0600 would hide the export from others
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
        raise
    return path


def _write_in_place(path: Path, write: Callable[[IO[str]], object]) -> Path:
    try:
        with open(path, "w", encoding="utf-8", newline="") as out:
            write(out)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
