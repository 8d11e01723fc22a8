"""A scatter plot's data: a param or metric (x) against a metric (y), the best runs found."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mltui.store.entities import Run
from mltui.tui.present.compare import is_finite_metric
from mltui.tui.present.formats import format_value

#: Room left around the points, as a share of each axis's range.
MARGIN = 0.06


def axis_keys(runs: Sequence[Run]) -> tuple[list[str], list[str]]:
    """(`params.*` keys, `metrics.*` keys) found among the runs, each sorted."""
    params = sorted({key for run in runs for key in run.params})
    metrics = sorted({key for run in runs for key in run.metrics})
    return [f"params.{k}" for k in params], [f"metrics.{k}" for k in metrics]


def as_metric_key(key: str) -> str:
    """`metrics.rmse` or `rmse` -> `metrics.rmse`."""
    return key if key.startswith("metrics.") else f"metrics.{key}"


def raw_value(run: Run, key: str) -> str | float | None:
    """A run's value of `params.x` (a string) or `metrics.x` (its latest value)."""
    kind, _, name = key.partition(".")
    if kind == "params":
        return run.params.get(name)
    if kind == "metrics":
        metric = run.metrics.get(name)
        return None if metric is None else metric.value
    return None


def parse_numbers(values: Sequence[str]) -> list[float] | None:
    """Every value as a finite float, or None when any is not a number (then: categories)."""
    numbers: list[float] = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        numbers.append(number)
    return numbers


def category_order(values: Sequence[str]) -> list[str]:
    """Distinct values sorted as people expect (numbers by value, then the rest by text)."""

    def sort_key(value: str) -> tuple[int, float, str]:
        try:
            number = float(value)
        except ValueError:
            return (1, 0.0, value)
        return (0, number, value) if math.isfinite(number) else (1, 0.0, value)

    return sorted(set(values), key=sort_key)


def varying_params(runs: Sequence[Run]) -> list[str]:
    """`params.*` keys whose value differs between runs (missing counts as a value)."""
    params, _ = axis_keys(runs)
    return [key for key in params if len({raw_value(run, key) for run in runs}) > 1]


def has_finite(run: Run, key: str) -> bool:
    value = raw_value(run, key)
    return isinstance(value, float) and is_finite_metric(value)


def default_metric(runs: Sequence[Run]) -> str | None:
    """The metric the most runs have a finite value of (the first by name among equals)."""
    _, metrics = axis_keys(runs)
    if not metrics:
        return None
    counts = {key: sum(1 for run in runs if has_finite(run, key)) for key in metrics}
    return max(metrics, key=lambda key: counts[key])


def default_params(runs: Sequence[Run], metric: str | None) -> list[str]:
    """Params every run with a finite `metric` has, those that vary among them first."""
    having = [run for run in runs if metric is None or has_finite(run, metric)] or list(runs)
    params, _ = axis_keys(having)
    common = [key for key in params if all(key[7:] in run.params for run in having)]
    varying = [key for key in common if len({raw_value(run, key) for run in having}) > 1]
    return varying or common


@dataclass(slots=True)
class Point:
    run: Run
    x: float  # the value, or the category's index for categorical x
    y: float
    x_label: str  # how x reads in the caption


@dataclass(slots=True)
class ScatterData:
    x: str
    y: str
    lower_is_better: bool
    points: list[Point] = field(default_factory=list)
    #: Category names by index when x is a non-numeric param; None when x is numeric.
    categories: list[str] | None = None
    #: Runs with no value of x, or no finite value of y.
    left_out: int = 0
    #: Indexes into `points` of the best y (ties all count).
    best: list[int] = field(default_factory=list)


def scatter_data(runs: Sequence[Run], x: str, y: str, lower: bool) -> ScatterData:
    """The points of `y` (a metric) against `x` (a param or metric) for each run having both."""
    data = ScatterData(x, y, lower)
    pairs: list[tuple[Run, str | float, float]] = []
    for run in runs:
        x_value = raw_value(run, x)
        y_value = raw_value(run, y)
        if not isinstance(y_value, float) or not is_finite_metric(y_value) or x_value is None:
            data.left_out += 1
            continue
        if isinstance(x_value, float) and not is_finite_metric(x_value):
            data.left_out += 1
            continue
        pairs.append((run, x_value, y_value))
    if x.startswith("params."):
        texts = [str(x_value) for _, x_value, _ in pairs]
        numbers = parse_numbers(texts)
        if numbers is None:
            data.categories = category_order(texts)
            index = {name: i for i, name in enumerate(data.categories)}
            numbers = [float(index[t]) for t in texts]
        data.points = [
            Point(run, number, y_value, text)
            for (run, _, y_value), number, text in zip(pairs, numbers, texts, strict=True)
        ]
    else:
        data.points = [
            Point(run, float(x_value), y_value, format_value(float(x_value)))
            for run, x_value, y_value in pairs
        ]
    if data.points:
        ys = [p.y for p in data.points]
        best = min(ys) if lower else max(ys)
        data.best = [i for i, p in enumerate(data.points) if p.y == best]
    return data


def limits(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * MARGIN
    return low - pad, high + pad
