"""The runs screen's view of its runs: attribute columns, MLflow's sort order, the run tree and
the columns shown by default. No Textual, no Rich."""

from __future__ import annotations

import os
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

from mltui.store.entities import TAG_SOURCE_NAME, TAG_USER, Run
from mltui.store.errors import FilterError
from mltui.tui import clock
from mltui.tui.present.metric_groups import split_metrics

#: Attribute columns, always first after the mark: (column key, header).
ATTRIBUTE_COLUMNS = [
    ("name", "Name"),
    ("status", "Status"),
    ("start", "Start"),
    ("duration", "Duration"),
    ("user", "User"),
    ("source", "Source"),
]
ATTRIBUTE_LABELS = dict(ATTRIBUTE_COLUMNS)

#: How an attribute column sorts in MLflow's order-by syntax; duration has no MLflow equivalent.
ORDER_BY_ATTRIBUTE = {
    "name": "attributes.run_name",
    "status": "attributes.status",
    "start": "attributes.start_time",
    "user": "attributes.user_id",
    "source": "tags.`mlflow.source.name`",
}
#: Columns that sort newest/longest first when first chosen.
DESCENDING_FIRST = {"start", "duration"}
#: MLflow's own tags (`mlflow.user`, `mlflow.source.name`, ...), listed after a person's tags.
SYSTEM_TAG_PREFIX = "mlflow."


def column_label(column: str) -> str:
    """The header a column key shows: `Name`, or the key itself (`metrics.rmse`)."""
    return ATTRIBUTE_LABELS.get(column, column)


@dataclass(slots=True)
class RunRow:
    """A run as the table shows it: its place in the tree and whether it is only context."""

    run: Run
    depth: int = 0
    #: None for a run with no children shown; else whether its children are shown.
    expanded: bool | None = None
    #: An ancestor shown only so that a matching child has its parent (dimmed).
    context: bool = False


def run_duration(run: Run, now_ms: int) -> int | None:
    """How long a run took, or has taken so far if it is still running."""
    if run.start_time is None:
        return None
    end = run.end_time
    if end is None:
        if not run.is_running:
            return None
        end = now_ms
    return end - run.start_time


def source_name(run: Run) -> str:
    """The file or entry point that started the run, without its folders."""
    source = run.tags.get(TAG_SOURCE_NAME, "")
    return os.path.basename(source.rstrip("/\\")) or source


def run_user(run: Run) -> str:
    return run.user_id or run.tags.get(TAG_USER, "")


def order_by_clause(column: str, descending: bool) -> str | None:
    """The MLflow order-by clause sorting by a column (None when MLflow has no such key)."""
    direction = "DESC" if descending else "ASC"
    if column in ORDER_BY_ATTRIBUTE:
        return f"{ORDER_BY_ATTRIBUTE[column]} {direction}"
    kind, _, key = column.partition(".")
    if kind not in ("params", "metrics", "tags") or "`" in key:
        return None
    return f"{kind}.`{key}` {direction}"


def sort_runs(runs: list[Run], column: str, descending: bool) -> list[Run]:
    """Runs in the order MLflow's search_runs would give for `ORDER BY column`.

    Missing values and NaN go where MLflow puts them (mlflow/utils/search_utils.py
    `_get_value_for_sort`); columns MLflow cannot order by sort with missing values last.
    """
    from mltui.store.search import order_runs, parse_order_by

    clause = order_by_clause(column, descending)
    if clause is not None:
        try:
            return order_runs(runs, parse_order_by([clause]))
        except FilterError:
            pass
    now = clock.now_ms()
    kind, _, key = column.partition(".")

    def value(run: Run) -> Any:  # of one type in a column, so they sort
        if column == "duration":
            return run_duration(run, now)
        if kind == "metrics":
            metric = run.metrics.get(key)
            return None if metric is None or metric.value != metric.value else metric.value
        if kind in ("params", "tags"):
            return getattr(run, kind).get(key)
        return None

    present = [r for r in runs if value(r) is not None]
    missing = [r for r in runs if value(r) is None]
    present.sort(key=value, reverse=descending)
    return present + missing


def tree_rows(
    runs: list[Run], collapsed: set[str], context: Set[str] = frozenset()
) -> list[RunRow]:
    """Runs (already sorted) as a tree: each child under its parent, siblings in sort order.

    A run whose parent is not among `runs` is a root. Children of `collapsed` runs are left out.
    """
    ids = {run.run_id for run in runs}
    children: dict[str, list[Run]] = {}
    roots: list[Run] = []
    for run in runs:
        parent = run.parent_run_id
        if parent is not None and parent in ids and parent != run.run_id:
            children.setdefault(parent, []).append(run)
        else:
            roots.append(run)
    out: list[RunRow] = []
    placed: set[str] = set()

    def place(run: Run, depth: int) -> None:
        # Iterative, with a guard against parent cycles (a hand-edited store can have one).
        stack = [(run, depth)]
        while stack:
            current, level = stack.pop()
            if current.run_id in placed:
                continue
            placed.add(current.run_id)
            kids = children.get(current.run_id)
            expanded = None if not kids else current.run_id not in collapsed
            out.append(RunRow(current, level, expanded, current.run_id in context))
            if kids and expanded:
                stack.extend((kid, level + 1) for kid in reversed(kids))
            elif kids:
                hide(list(kids))

    def hide(kids: list[Run]) -> None:
        # Descendants of a collapsed run count as placed, so they are not taken for roots.
        while kids:
            kid = kids.pop()
            if kid.run_id not in placed:
                placed.add(kid.run_id)
                kids.extend(children.get(kid.run_id, ()))

    for root in roots:
        place(root, 0)
    for run in runs:  # runs caught in a cycle have no root above them
        if run.run_id not in placed:
            place(run, 0)
    return out


def default_columns(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """(every column offered, in order; the ones shown until the person chooses).

    Params that differ between runs (or every param, for a lone run) and model metrics are
    shown; params with one value for every run, system metrics (`system/...`), tags, and
    MLflow's own `mlflow.*` tags are offered but hidden.
    """
    param_values: dict[str, set[str | None]] = {}
    metric_keys: set[str] = set()
    tag_keys: set[str] = set()
    for run in runs:
        for key, value in run.params.items():
            param_values.setdefault(key, set()).add(value)
        metric_keys.update(run.metrics)
        tag_keys.update(run.tags)
    for key, values in param_values.items():
        if len(values) < 2 and any(key not in run.params for run in runs):
            values.add(None)
    varying = sorted(k for k, v in param_values.items() if len(v) > 1 or len(runs) < 2)
    constant = sorted(k for k in param_values if k not in varying)
    user_tags = sorted(k for k in tag_keys if not k.startswith(SYSTEM_TAG_PREFIX))
    system_tags = sorted(k for k in tag_keys if k.startswith(SYSTEM_TAG_PREFIX))
    model_metrics, system_metrics = split_metrics(metric_keys)
    shown = [f"params.{k}" for k in varying] + [f"metrics.{k}" for k in model_metrics]
    offered = (
        shown
        + [f"params.{k}" for k in constant]
        + [f"metrics.{k}" for k in system_metrics]
        + [f"tags.{k}" for k in user_tags + system_tags]
    )
    return offered, shown
