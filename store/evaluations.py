"""Evaluation results of a run (`mlflow.evaluate` / `mlflow.models.evaluate`), read from the Store.

An evaluation logs its per-row results as a table artifact, `<metric_prefix>eval_results_table.json`
(mlflow/models/evaluation/default_evaluator.py: log_eval_table, through `mlflow.log_table`), in
MLflow's table JSON format `{"columns": [...], "data": [[...], ...]}`; `mlflow.log_table` also
lists each table in the run tag `mlflow.loggedArtifacts`. Its aggregate metrics go to the run
and, when the evaluation names a logged model, to that model with the dataset they were measured
on (`logged_model_metrics` / the model's metric files): that is where MLflow records the dataset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from .artifacts import list_artifacts
from .base import Store
from .entities import LoggedModel, Run
from .errors import StoreError
from .rawread import inside, read_bytes

EVAL_TABLE_SUFFIX = "eval_results_table.json"
TAG_LOGGED_ARTIFACTS = "mlflow.loggedArtifacts"
#: The most of one table read; MLflow's own evaluation tables hold one row per example.
MAX_TABLE_BYTES = 16 << 20


@dataclass(slots=True)
class EvalTable:
    path: str  # relative to the run's artifact root
    columns: list[str] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    #: Why the table could not be read (nothing else is known then).
    error: str | None = None


@dataclass(slots=True)
class DatasetMetrics:
    """A run's metrics measured on one dataset (name None: MLflow recorded no dataset)."""

    dataset_name: str | None
    dataset_digest: str | None
    metrics: dict[str, float] = field(default_factory=dict)


def eval_table_paths(store: Store, run: Run) -> list[str]:
    """The run's evaluation tables: those `mlflow.loggedArtifacts` names, and any at the top of
    its artifact folder (an older MLflow did not record them in the tag), sorted."""
    paths = {p for p in _logged_tables(run.tags.get(TAG_LOGGED_ARTIFACTS)) if _is_eval_table(p)}
    try:
        entries = list_artifacts(store.artifact_root(run))
    except StoreError:
        entries = []
    paths.update(e.path for e in entries if not e.is_dir and _is_eval_table(e.path))
    return sorted(paths)


def read_eval_table(store: Store, run: Run, path: str) -> EvalTable:
    """One table as MLflow's `load_table` reads it; a file that is not one says why in `error`."""
    root = store.artifact_root(run)
    if root.path is None:
        return EvalTable(path, error=root.note or f"no local artifact folder for {root.recorded}")
    root_real = os.path.realpath(root.path)
    target = os.path.join(root_real, path)
    if not inside(root_real, os.path.realpath(target)):
        return EvalTable(path, error=f"refusing {path!r}: it leads outside the artifact folder")
    try:
        data = json.loads(read_bytes(target, root_real, MAX_TABLE_BYTES))
    except OSError as exc:
        return EvalTable(path, error=f"cannot read {path}: {exc.strerror or exc}")
    except ValueError as exc:
        return EvalTable(path, error=f"{path} is not JSON: {exc}")
    return _table(path, data)


def metrics_by_dataset(
    store: Store, run: Run, logged: Sequence[LoggedModel] | None = None
) -> list[DatasetMetrics]:
    """The run's metrics grouped by the dataset MLflow recorded them with (the metrics its
    evaluations logged to a logged model), then the rest under dataset None; by dataset name.

    `logged`: the logged models of the run's experiment, when the caller has read them."""
    groups: dict[tuple[str, str | None], DatasetMetrics] = {}
    placed: set[str] = set()
    if logged is None:
        logged = store.logged_models([run.experiment_id])
    for model in logged:
        for m in model.metrics:
            if m.run_id != run.run_id or m.dataset_name is None or m.key not in run.metrics:
                continue
            key = (m.dataset_name, m.dataset_digest)
            group = groups.setdefault(key, DatasetMetrics(m.dataset_name, m.dataset_digest))
            group.metrics[m.key] = run.metrics[m.key].value
            placed.add(m.key)
    out = [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1] or ""))]
    rest = {k: m.value for k, m in sorted(run.metrics.items()) if k not in placed}
    if rest:
        out.append(DatasetMetrics(None, None, rest))
    return out


def _is_eval_table(path: str) -> bool:
    return path.rsplit("/", 1)[-1].endswith(EVAL_TABLE_SUFFIX)


def _logged_tables(tag: str | None) -> list[str]:
    """Table paths from `mlflow.loggedArtifacts`: a JSON list of {"path": ..., "type": "table"}."""
    if not tag:
        return []
    try:
        logged = json.loads(tag)
    except ValueError:
        return []
    if not isinstance(logged, list):
        return []
    return [
        item["path"]
        for item in logged
        if isinstance(item, dict)
        and item.get("type") == "table"
        and isinstance(item.get("path"), str)
    ]


def _table(path: str, data: object) -> EvalTable:
    if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
        return EvalTable(path, error=f'{path} is not a table ({{"columns": [...], "data": [...]}})')
    columns = [str(c) for c in data["columns"]]
    rows = data.get("data", [])
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and len(r) == len(columns) for r in rows
    ):
        return EvalTable(
            path, columns, error=f"{path}: rows do not match its {len(columns)} columns"
        )
    return EvalTable(path, columns, rows)
