"""A param or metric (x) against a metric (y) for every run given, the best run called out."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual_plotext import PlotextPlot

from mltui.store.entities import Run
from mltui.tui.present.compare import lower_is_better
from mltui.tui.present.scatter import (
    ScatterData,
    as_metric_key,
    axis_keys,
    default_metric,
    default_params,
    limits,
    scatter_data,
)
from mltui.tui.screens.runs_plot import RunsPlotScreen
from mltui.tui.text import clean, format_value, literal, one_line

POINT = "●"
BEST_POINT = "★"
POINT_COLOUR = "cyan"
BEST_COLOUR = "green"


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
            ticks: list[float] = list(range(len(data.categories)))
            plt.xticks(ticks, [one_line(c, 24) for c in data.categories])
            plt.xlim(-0.5, len(data.categories) - 0.5)
        else:
            plt.xlim(*limits([p.x for p in data.points]))
        plt.ylim(*limits([p.y for p in data.points]))
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
            x = next(iter(chosen or self.params or others), None)
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
                self.runs,
                self.x,
                self.y,
                lower_is_better(self.app.metric_directions, self.metric_name),
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
        from mltui.tui.screens.dialogs.picker import PickerScreen

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
        from mltui.tui.screens.dialogs.picker import PickerScreen

        def chosen(key: str | None) -> None:
            if key is not None:
                self.y = key
                self.replot()

        if not self.metrics:
            self.notify("These runs have no metrics.", timeout=3)
            return
        self.app.push_screen(PickerScreen("Y axis: a metric", self.metrics, self.y), chosen)
