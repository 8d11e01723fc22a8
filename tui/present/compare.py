"""Marked runs side by side, without Textual: one row per key, and which way a metric is better.

Which way is better is shared with the scatter, parallel coordinates and logged-models screens.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mltui.store.entities import Run
from mltui.tui.present.runs_view import SYSTEM_TAG_PREFIX

#: Words that make a metric lower-is-better by default (anything else is higher-is-better).
LOWER_IS_BETTER_WORDS = (
    "loss",
    "error",
    "rmse",
    "mae",
    "mse",
    "perplexity",
    "time",
    "latency",
    "duration",
)


# -- which way is better (shared with the scatter and parallel coordinates screens) -------------
def default_lower_is_better(key: str) -> bool:
    """A guess from the name: losses, errors and times are better low; scores better high."""
    lowered = key.lower()
    return any(word in lowered for word in LOWER_IS_BETTER_WORDS)


def lower_is_better(directions: Mapping[str, bool], key: str) -> bool:
    """Whether a metric is better low: as the person set it (`directions`), else guessed."""
    return directions.get(key, default_lower_is_better(key))


def flip_direction(directions: dict[str, bool], key: str) -> bool:
    """Flip which way is better for a metric; returns the new `lower is better`."""
    lower = not lower_is_better(directions, key)
    directions[key] = lower
    return lower


def is_finite_metric(value: float) -> bool:
    """Neither NaN nor infinite, nor the largest float that MLflow's SQLite store writes for ±inf.

    (mlflow/store/tracking/sqlalchemy_store.py `sanitize_metric_value` stores ±inf that way.)
    """
    return math.isfinite(value) and abs(value) < sys.float_info.max


def best_indexes(values: Sequence[float | None], lower: bool) -> set[int]:
    """Positions holding the best finite value (ties all count); none when nothing stands out.

    NaN and infinities never count as best: a diverged run's `-inf` loss is not a winner.
    """
    finite = [(i, v) for i, v in enumerate(values) if v is not None and is_finite_metric(v)]
    if len(finite) < 2 or len({v for _, v in finite}) < 2:
        return set()
    best = min(v for _, v in finite) if lower else max(v for _, v in finite)
    return {i for i, v in finite if v == best}


# -- the table's rows ----------------------------------------------------------------------------
@dataclass(slots=True)
class CompareRow:
    """One key across the compared runs: a value per run (None where a run has none)."""

    section: str  # "params", "metrics" or "tags"
    key: str
    values: list[str | float | None]

    @property
    def row_key(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def differs(self) -> bool:
        """Not every run has the same value (a missing value differs from any value; NaN = NaN)."""
        seen = {("nan",) if isinstance(v, float) and math.isnan(v) else v for v in self.values}
        return len(seen) > 1


def compare_rows(runs: Sequence[Run], include_tags: bool = True) -> list[CompareRow]:
    """Params, then latest metrics, then tags (user tags before `mlflow.*`), keys sorted."""
    rows: list[CompareRow] = []
    params = sorted({key for run in runs for key in run.params})
    rows.extend(CompareRow("params", k, [run.params.get(k) for run in runs]) for k in params)
    metrics = sorted({key for run in runs for key in run.metrics})
    for key in metrics:
        values: list[str | float | None] = []
        for run in runs:
            metric = run.metrics.get(key)
            values.append(None if metric is None else metric.value)
        rows.append(CompareRow("metrics", key, values))
    if include_tags:
        tags = sorted(
            {key for run in runs for key in run.tags},
            key=lambda k: (k.startswith(SYSTEM_TAG_PREFIX), k),
        )
        rows.extend(CompareRow("tags", k, [run.tags.get(k) for run in runs]) for k in tags)
    return rows
