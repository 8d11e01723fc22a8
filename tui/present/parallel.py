"""Parallel coordinates' data: an axis per chosen param then the metric, a line per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mltui.store.entities import Run
from mltui.tui.present.compare import is_finite_metric
from mltui.tui.present.formats import format_value
from mltui.tui.present.scatter import category_order, parse_numbers, raw_value

#: Colours from the worst metric value to the best (readable on dark and light backgrounds).
GRADIENT = [(70, 110, 230), (150, 90, 220), (220, 80, 160), (245, 130, 60), (235, 200, 40)]


def gradient(t: float) -> tuple[int, int, int]:
    """The colour at `t` in 0..1 along GRADIENT (0 worst, 1 best)."""
    t = min(1.0, max(0.0, t))
    span = (len(GRADIENT) - 1) * t
    i = min(int(span), len(GRADIENT) - 2)
    frac = span - i
    a, b = GRADIENT[i], GRADIENT[i + 1]
    return (
        round(a[0] + (b[0] - a[0]) * frac),
        round(a[1] + (b[1] - a[1]) * frac),
        round(a[2] + (b[2] - a[2]) * frac),
    )


@dataclass(slots=True)
class Axis:
    """One vertical axis: numbers scaled min..max to 0..1, or categories spaced evenly."""

    key: str
    low: float = 0.0
    high: float = 0.0
    #: Category names bottom to top; None for a numeric axis.
    categories: list[str] | None = None

    def position(self, value: str | float) -> float:
        if self.categories is not None:
            if len(self.categories) < 2:
                return 0.5
            return self.categories.index(str(value)) / (len(self.categories) - 1)
        number = float(value)
        if self.high == self.low:
            return 0.5
        return (number - self.low) / (self.high - self.low)

    @property
    def bottom_label(self) -> str:
        if self.categories is not None:
            return self.categories[0] if self.categories else ""
        return format_value(self.low)

    @property
    def top_label(self) -> str:
        if self.categories is not None:
            return self.categories[-1] if len(self.categories) > 1 else ""
        return "" if self.high == self.low else format_value(self.high)


@dataclass(slots=True)
class Line:
    run: Run
    positions: list[float]  # 0..1 on each axis, the metric last
    value: float  # the metric's latest value
    goodness: float  # 0 worst .. 1 best among the runs drawn


@dataclass(slots=True)
class ParallelData:
    metric: str
    lower_is_better: bool
    axes: list[Axis] = field(default_factory=list)
    #: Worst first, so the best lines are drawn last (on top).
    lines: list[Line] = field(default_factory=list)
    #: Runs lacking a chosen param or a finite metric value.
    left_out: int = 0


def parallel_data(
    runs: Sequence[Run], params: Sequence[str], metric: str, lower: bool
) -> ParallelData:
    """Axes for `params` (`params.*` keys) then `metric`, and a line for each complete run."""
    data = ParallelData(metric, lower)
    complete: list[tuple[Run, list[str], float]] = []
    for run in runs:
        value = raw_value(run, metric)
        raw = [raw_value(run, key) for key in params]
        if not isinstance(value, float) or not is_finite_metric(value) or None in raw:
            data.left_out += 1
            continue
        complete.append((run, [str(t) for t in raw], value))
    for i, key in enumerate(params):
        column = [texts[i] for _, texts, _ in complete]
        numbers = parse_numbers(column)
        if numbers is None:
            data.axes.append(Axis(key, categories=category_order(column)))
        else:
            data.axes.append(Axis(key, min(numbers, default=0.0), max(numbers, default=0.0)))
    values = [value for _, _, value in complete]
    metric_axis = Axis(metric, min(values, default=0.0), max(values, default=0.0))
    data.axes.append(metric_axis)
    for run, texts, value in complete:
        positions = [axis.position(t) for axis, t in zip(data.axes, texts, strict=False)]
        height = metric_axis.position(value)
        positions.append(height)
        goodness = 1 - height if lower else height
        if metric_axis.high == metric_axis.low:
            goodness = 1.0
        data.lines.append(Line(run, positions, value, goodness))
    data.lines.sort(key=lambda line: line.goodness)
    return data
