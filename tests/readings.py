"""A store's contents as one JSON-able dict: the form MLflow's own reading is dumped in.

tests/fixtures/make_fixtures.py writes `expected.json` beside each fixture store from what
MlflowClient reports; `reading_of(store)` builds the same dict from mltui's store, so a test can
compare the two field by field. Non-finite floats are the strings "NaN", "Infinity", "-Infinity".

Schema (lists are sorted as noted so that order never hides a difference):
{
  "experiments": [ {experiment_id, name, artifact_location, lifecycle_stage, creation_time,
                    last_update_time, tags: {k: v}} ]                    sorted by experiment_id
  "runs": [ {run_id, experiment_id, run_name, status, start_time, end_time, lifecycle_stage,
             artifact_uri, user_id, params: {k: v}, metrics: {k: value}, tags: {k: v},
             inputs: [{dataset: {name, digest, source_type, source, schema, profile},
                       tags: {k: v}}],                                   sorted by (name, digest)
             outputs: [{model_id, step}]} ]                              sorted by run_id
  "metric_history": {run_id: {key: [[step, timestamp, value], ...]}}     sorted points
  "logged_models": [ {model_id, experiment_id, name, artifact_location, creation_timestamp,
                      last_updated_timestamp, model_type, source_run_id, status,
                      params: {k: v}, tags: {k: v}} ]                    sorted by model_id
  "registered_models": [ {name, creation_timestamp, last_updated_timestamp, description,
                          tags: {k: v}, aliases: {alias: version},
                          latest_versions: [{version, current_stage}]} ] sorted by name;
                                                                         latest by version
  "model_versions": [ {name, version, creation_timestamp, last_updated_timestamp,
                       current_stage, description, source, run_id, status, user_id,
                       tags: {k: v}, aliases: [sorted]} ]                sorted by (name, int(version))
}
Every run of every experiment is included, deleted ones too.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any


def jsonable_float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _dataset_input(di) -> dict[str, Any]:
    d = di.dataset
    return {
        "dataset": {
            "name": d.name,
            "digest": d.digest,
            "source_type": d.source_type,
            "source": d.source,
            "schema": d.schema or None,
            "profile": d.profile or None,
        },
        "tags": dict(di.tags),
    }


def reading_of(store) -> dict[str, Any]:
    """mltui's reading of `store`, in the schema above."""
    experiments = sorted(store.experiments(include_deleted=True), key=lambda e: e.experiment_id)
    runs = []
    history: dict[str, dict[str, list]] = {}
    for summary in sorted(store.runs(include_deleted=True), key=lambda r: r.run_id):
        run = store.run(summary.run_id)
        runs.append(
            {
                "run_id": run.run_id,
                "experiment_id": run.experiment_id,
                "run_name": run.run_name,
                "status": run.status,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "lifecycle_stage": run.lifecycle_stage,
                "artifact_uri": run.artifact_uri,
                "user_id": run.user_id,
                "params": dict(run.params),
                "metrics": {k: jsonable_float(m.value) for k, m in run.metrics.items()},
                "tags": dict(run.tags),
                "inputs": sorted(
                    (_dataset_input(di) for di in run.inputs or []),
                    key=lambda d: (d["dataset"]["name"], d["dataset"]["digest"]),
                ),
                "outputs": sorted(
                    ({"model_id": o.model_id, "step": o.step} for o in run.outputs or []),
                    key=lambda o: (o["model_id"], o["step"]),
                ),
            }
        )
        history[run.run_id] = {
            key: sorted(
                [m.step, m.timestamp, jsonable_float(m.value)]
                for m in store.metric_history(run.run_id, key)
            )
            for key in run.metrics
        }
    logged = [
        {
            "model_id": m.model_id,
            "experiment_id": m.experiment_id,
            "name": m.name,
            "artifact_location": m.artifact_location,
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "model_type": m.model_type,
            "source_run_id": m.source_run_id,
            "status": m.status,
            "params": dict(m.params),
            "tags": dict(m.tags),
        }
        for m in sorted(store.logged_models(), key=lambda m: m.model_id)
    ]
    registered = []
    versions = []
    for rm in sorted(store.registered_models(), key=lambda m: m.name):
        registered.append(
            {
                "name": rm.name,
                "creation_timestamp": rm.creation_timestamp,
                "last_updated_timestamp": rm.last_updated_timestamp,
                "description": rm.description,
                "tags": dict(rm.tags),
                "aliases": dict(rm.aliases),
                "latest_versions": sorted(
                    (
                        {"version": str(v.version), "current_stage": v.current_stage}
                        for v in rm.latest_versions
                    ),
                    key=lambda v: int(v["version"]),
                ),
            }
        )
        for mv in store.model_versions(rm.name):
            versions.append(
                {
                    "name": mv.name,
                    "version": str(mv.version),
                    "creation_timestamp": mv.creation_timestamp,
                    "last_updated_timestamp": mv.last_updated_timestamp,
                    "current_stage": mv.current_stage,
                    "description": mv.description,
                    "source": mv.source,
                    "run_id": mv.run_id,
                    "status": mv.status,
                    "user_id": mv.user_id,
                    "tags": dict(mv.tags),
                    "aliases": sorted(mv.aliases),
                }
            )
    versions.sort(key=lambda v: (v["name"], int(v["version"])))
    return {
        "experiments": [
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "artifact_location": e.artifact_location,
                "lifecycle_stage": e.lifecycle_stage,
                "creation_time": e.creation_time,
                "last_update_time": e.last_update_time,
                "tags": dict(e.tags),
            }
            for e in experiments
        ],
        "runs": runs,
        "metric_history": history,
        "logged_models": logged,
        "registered_models": registered,
        "model_versions": versions,
    }


def shown_by_the_app(store) -> None:
    """What the screens and exports format from a reading: times, values, durations."""
    from mltui.store.export import csv_cell, run_record
    from mltui.tui import clock
    from mltui.tui.text import format_time, format_time_short, format_value
    from mltui.tui.widgets.runs_table import run_duration, run_user, source_name

    for exp in store.experiments(include_deleted=True):
        format_time(exp.creation_time), format_time(exp.last_update_time)
    for _, (_, last) in store.experiment_activity(include_deleted=True).items():
        format_time(last)
    for run in store.runs(include_deleted=True):
        format_time(run.start_time), format_time_short(run.end_time)
        record = run_record(run, "")
        for column in ("start_time", "end_time", "run_name", "status"):
            csv_cell(record, column)
        run_duration(run, clock.now_ms()), run_user(run), source_name(run)
        for metric in run.metrics.values():
            format_value(metric.value)
            store.metric_series(run.run_id, metric.key)


def problems_reading(store_path, capsys, *export_args: str) -> list[str]:
    """What goes wrong exporting (`mltui export`, JSONL and CSV) and reading a store as the app
    does: each exception or failed exit, and any warning on more than one line."""
    from mltui.store import open_store
    from mltui.store.export import export_records, write_csv
    from mltui.tui.cli import main

    problems = []
    try:
        code = main(["export", str(store_path), "--all", *export_args])
        err = capsys.readouterr().err
        if code != 0:
            problems.append(f"export: exit {code}: {err.strip()}")
    except Exception as exc:
        problems.append(f"export: {type(exc).__name__}: {exc}")
    try:
        store = open_store(store_path)
        store.use_cache = False
        write_csv(export_records(store, include_deleted=True), io.StringIO())
        reading_of(store)
        shown_by_the_app(store)
        problems.extend(
            f"warning on two lines: {m!r}" for m in store.warnings.messages if "\n" in m
        )
        store.close()
    except Exception as exc:
        problems.append(f"reading: {type(exc).__name__}: {exc}")
    return problems


SECTIONS = (
    "experiments",
    "runs",
    "metric_history",
    "logged_models",
    "registered_models",
    "model_versions",
)


def _label(item: Any, index: int) -> str:
    if isinstance(item, dict):
        for key in ("run_id", "model_id", "experiment_id"):
            if key in item:
                return f"{key}={item[key]}"
        if "name" in item and "version" in item:
            return f"{item['name']} v{item['version']}"
        if "name" in item:
            return f"name={item['name']}"
    return str(index)


def differences(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Every place two readings differ, e.g. 'runs[run_id=...].metrics.rmse: ours 1 MLflow 2'."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in ours:
                out.append(f"{path}: missing from ours (MLflow: {theirs[key]!r})")
            elif key not in theirs:
                out.append(f"{path}: not in MLflow's reading (ours: {ours[key]!r})")
            else:
                out.extend(differences(ours[key], theirs[key], path))
        return out
    if isinstance(ours, list) and isinstance(theirs, list):
        labels_ours = [_label(x, i) for i, x in enumerate(ours)]
        labels_theirs = [_label(x, i) for i, x in enumerate(theirs)]
        if labels_ours != labels_theirs:
            missing = sorted(set(labels_theirs) - set(labels_ours))
            extra = sorted(set(labels_ours) - set(labels_theirs))
            if missing or extra:
                return [f"{where}: missing from ours {missing}, not in MLflow's {extra}"]
        out = []
        if len(ours) != len(theirs):
            out.append(f"{where}: {len(ours)} items in ours, {len(theirs)} in MLflow's")
        for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            out.extend(differences(a, b, f"{where}[{_label(b, i)}]"))
        return out
    if ours != theirs or type(ours) is not type(theirs):
        return [f"{where}: ours {ours!r}, MLflow {theirs!r}"]
    return []


def assert_same_reading(store, expected: dict[str, Any]) -> None:
    """mltui's reading of `store`, as JSON like `expected.json`, equals MLflow's, section by section."""
    ours = json.loads(json.dumps(reading_of(store)))
    problems = []
    for section in SECTIONS:
        problems.extend(differences(ours[section], expected[section], section))
    shown = "\n".join(problems[:40])
    assert not problems, f"{len(problems)} difference(s) from MLflow's reading:\n{shown}"
