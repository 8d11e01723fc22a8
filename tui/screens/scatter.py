"""A param or metric (x) against a metric (y) for every run given, the best run called out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual_plotext import PlotextPlot

from mltui.store.entities import Run
from mltui.tui.screens.compare import is_finite_metric, lower_is_better
from mltui.tui.screens.runs_plot import RunsPlotScreen
from mltui.tui.text import clean, format_value, literal, one_line

POINT = "●"
BEST_POINT = "★"
POINT_COLOUR = "cyan"
BEST_COLOUR = "green"
#: Room left around the points, as a share of each axis's range.
MARGIN = 0.06


# -- what is plotted (no Textual here) -----------------------------------------------------------
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


def _limits(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * MARGIN
    return low - pad, high + pad


# -- the screen ----------------------------------------------------------------------------------
class ScatterPlot(PlotextPlot):
    """The scatter itself: every point, the best one(s) drawn as a green star."""

    def draw(self, data: ScatterData | None) -> None:
        plt = self.plt
        plt.clear_figure()
        if data is None or not data.points:
            self.refresh()
            return
        best = set(data.best)
        others = [p for i, p in enumerate(data.points) if i not in best]
        winners = [data.points[i] for i in sorted(best)]
        if others:
            plt.scatter(
                [p.x for p in others], [p.y for p in others], marker=POINT, color=POINT_COLOUR
            )
        plt.scatter(
            [p.x for p in winners], [p.y for p in winners], marker=BEST_POINT, color=BEST_COLOUR
        )
        if data.categories is not None:
            ticks = list(range(len(data.categories)))
            plt.xticks(ticks, [one_line(c, 24) for c in data.categories])
            plt.xlim(-0.5, len(data.categories) - 0.5)
        else:
            plt.xlim(*_limits([p.x for p in data.points]))
        plt.ylim(*_limits([p.y for p in data.points]))
        plt.xlabel(clean(one_line(data.x, 80)))
        plt.ylabel(clean(one_line(data.y, 80)))
        self.refresh()


class ScatterScreen(RunsPlotScreen):
    """`y` (a metric) against `x` (a param or metric) for the runs given, one point a run.

    The runs screen passes the runs it shows (its filter applied); `x` and `y` are column keys
    (`params.alpha`, `metrics.rmse`) and default to the first varying param and first metric.
    """

    TITLE = "Scatter"
    CRUMB = "scatter"

    BINDINGS = [
        Binding("escape", "back", "Back", id="scatter.back"),
        Binding("x", "pick_x", "X axis", id="scatter.x"),
        Binding("y", "pick_y", "Y metric", id="scatter.y"),
        Binding("b", "flip_direction", "Lower/higher better", id="scatter.direction"),
    ]

    def __init__(
        self,
        runs: Sequence[Run],
        x: str | None = None,
        y: str | None = None,
        *,
        where: str = "",
    ) -> None:
        super().__init__(runs, where=where)
        self.params, self.metrics = axis_keys(self.runs)
        self.y = as_metric_key(y) if y else default_metric(self.runs)
        if x is None:
            chosen = default_params(self.runs, self.y)
            others = [m for m in self.metrics if m != self.y]
            x = (chosen or self.params or others or [None])[0]
        self.x = x
        self.data: ScatterData | None = None

    def compose_plot(self) -> ComposeResult:
        yield ScatterPlot(id="scatter-plot", classes="plot")
        yield Static(id="scatter-empty", classes="plot-empty")
        yield Static(id="scatter-caption", classes="plot-caption")

    # -- drawing -----------------------------------------------------------------------------
    def replot(self) -> None:
        plot = self.query_one(ScatterPlot)
        empty = self.query_one("#scatter-empty", Static)
        if self.y is None or self.x is None:
            self.data = None
            reason = "These runs have no metrics." if self.y is None else "Nothing to put on x."
            empty.update(Text(f"{reason} ({len(self.runs)} runs)"))
        else:
            self.data = scatter_data(
                self.runs, self.x, self.y, lower_is_better(self.app, self.metric_name)
            )
            if not self.data.points:
                empty.update(
                    literal(
                        f"No run has both {one_line(self.x)} and a finite {one_line(self.y)}."
                        " Pick other axes with x and y."
                    )
                )
        shown = self.data is not None and bool(self.data.points)
        plot.display = shown
        empty.display = not shown
        plot.draw(self.data)
        self.query_one("#scatter-caption", Static).update(self.caption())

    @property
    def metric_key(self) -> str | None:
        return self.y

    def caption(self) -> Text:
        """The best run and its values, and how many runs are plotted."""
        text = Text()
        data = self.data
        if data is None:
            return text
        total = len(data.points)
        if data.best:
            point = data.points[data.best[0]]
            better = "lower" if data.lower_is_better else "higher"
            text.append(f"{BEST_POINT} best ", style=f"bold {BEST_COLOUR}")
            text.append(f"({better} {one_line(self.metric_name, 40)} is better): ", style="dim")
            text.append_text(literal(one_line(point.run.run_name or point.run.run_id, 60), "bold"))
            if len(data.best) > 1:
                text.append(f" and {len(data.best) - 1} more")
            text.append("  ")
            text.append_text(literal(one_line(data.y, 40)))
            text.append(f" = {format_value(point.y)}  ")
            text.append_text(literal(one_line(data.x, 40)))
            text.append(" = ")
            text.append_text(literal(one_line(point.x_label, 40)))
            text.append("\n")
        text.append(f"{total} of {len(self.runs)} runs plotted", style="dim")
        if data.left_out:
            text.append(
                f" · {data.left_out} left out (no {one_line(data.x, 40)}"
                f" or no finite {one_line(data.y, 40)})",
                style="dim",
            )
        if data.categories is not None:
            count = len(data.categories)
            text.append(f" · {count} categor{'y' if count == 1 else 'ies'}", style="dim")
        return text

    # -- actions -----------------------------------------------------------------------------
    def action_pick_x(self) -> None:
        from mltui.tui.screens.picker import PickerScreen

        def chosen(key: str | None) -> None:
            if key is not None:
                self.x = key
                self.replot()

        items = self.params + self.metrics
        if not items:
            self.notify("These runs have no params or metrics.", timeout=3)
            return
        self.app.push_screen(PickerScreen("X axis: a param or metric", items, self.x), chosen)

    def action_pick_y(self) -> None:
        from mltui.tui.screens.picker import PickerScreen

        def chosen(key: str | None) -> None:
            if key is not None:
                self.y = key
                self.replot()

        if not self.metrics:
            self.notify("These runs have no metrics.", timeout=3)
            return
        self.app.push_screen(PickerScreen("Y axis: a metric", self.metrics, self.y), chosen)
