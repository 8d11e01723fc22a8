"""Parallel coordinates: chosen params, then a metric; one line a run, coloured by the metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual_plotext import PlotextPlot

from mltui.store.entities import Run
from mltui.tui.present.compare import lower_is_better
from mltui.tui.present.parallel import ParallelData, gradient, parallel_data
from mltui.tui.present.scatter import (
    as_metric_key,
    axis_keys,
    default_metric,
    default_params,
)
from mltui.tui.screens.dialogs.columns import ColumnsScreen
from mltui.tui.screens.runs_plot import RunsPlotScreen
from mltui.tui.text import clean, format_value, literal, one_line

#: Where plotext's `text` puts a label against its x.
Alignment = Literal["left", "center", "right"]

#: Axes chosen when none are given: the params that vary, up to this many.
DEFAULT_AXES = 6
LEGEND_WIDTH = 16
AXIS_COLOUR = "gray"
#: Where the min and max labels sit, below 0 and above 1 (the plot spans LIMITS).
LABEL_OFFSET = 0.08
LIMITS = (-0.16, 1.16)


# -- the screen ----------------------------------------------------------------------------------
class ParallelPlot(PlotextPlot):
    """Every run as a line across the axes; min and max written at each axis's ends."""

    def draw(self, data: ParallelData | None) -> None:
        self._data = data
        self.replot()

    def on_resize(self) -> None:
        # Labels are cut to the room between axes, which depends on the width.
        self.replot()

    def replot(self) -> None:
        data = getattr(self, "_data", None)
        plt = self.plt
        plt.clear_figure()
        if data is None or not data.lines:
            self.refresh()
            return
        count = len(data.axes)
        xs: list[float] = list(range(count))
        for line in data.lines:
            plt.plot(xs, line.positions, marker="braille", color=gradient(line.goodness))
        # Room for each label: the columns between two axes, less a little air.
        room = max(4, (self.size.width or 80) // max(1, count) - 2)
        for x, axis in enumerate(data.axes):
            plt.vertical_line(x, color=AXIS_COLOUR)
            ends = ((axis.bottom_label, -LABEL_OFFSET), (axis.top_label, 1 + LABEL_OFFSET))
            for label, y in ends:
                if label:
                    where: Alignment = "left" if x == 0 else "right" if x == count - 1 else "center"
                    plt.text(
                        clean(one_line(label, room)),
                        x,
                        y,
                        alignment=where,
                        color="default",
                        background="default",
                    )
        names = [
            clean(one_line(axis.key.partition(".")[2] or axis.key, room)) for axis in data.axes
        ]
        plt.xticks(xs, names)
        plt.yticks([], [])
        pad = 0.02 * (count - 1) or 0.5
        plt.xlim(-pad, count - 1 + pad)
        plt.ylim(*LIMITS)
        self.refresh()


class AxesScreen(ColumnsScreen):
    """The column chooser, retitled: which params are axes of the parallel coordinates."""

    def on_mount(self) -> None:
        # ColumnsScreen.on_mount runs too (Textual calls the handler of each class).
        self.query_one("#columns-title", Static).update(
            Text("Parallel coordinates: params as axes", style="bold")
        )


class ParallelScreen(RunsPlotScreen):
    """Parallel coordinates of the runs given: `params` (column keys) leading to `metric`.

    The runs screen passes the runs it shows; params default to those that vary (up to six),
    the metric to the first one with a finite value.
    """

    TITLE = "Parallel coordinates"
    CRUMB = "parallel coordinates"

    BINDINGS = [
        Binding("escape", "back", "Back", id="parallel.back"),
        Binding("a", "pick_axes", "Axes", id="parallel.axes"),
        Binding("m", "pick_metric", "Metric", id="parallel.metric"),
        Binding("b", "flip_direction", "Lower/higher better", id="parallel.direction"),
    ]

    def __init__(
        self,
        runs: Sequence[Run],
        params: Sequence[str] | None = None,
        metric: str | None = None,
        *,
        where: str = "",
    ) -> None:
        super().__init__(runs, where=where)
        self.all_params, self.metrics = axis_keys(self.runs)
        self.metric = as_metric_key(metric) if metric else default_metric(self.runs)
        if params is None:
            params = default_params(self.runs, self.metric)[:DEFAULT_AXES]
        self.params = [p if p.startswith("params.") else f"params.{p}" for p in params]
        self.data: ParallelData | None = None

    def compose_plot(self) -> ComposeResult:
        yield ParallelPlot(id="parallel-plot", classes="plot")
        yield Static(id="parallel-empty", classes="plot-empty")
        yield Static(id="parallel-legend", classes="plot-caption")

    @property
    def metric_key(self) -> str | None:
        return self.metric

    # -- drawing -----------------------------------------------------------------------------
    def replot(self) -> None:
        plot = self.query_one(ParallelPlot)
        empty = self.query_one("#parallel-empty", Static)
        self.data = None
        if self.metric is None:
            empty.update(Text(f"These runs have no metrics ({len(self.runs)} runs)."))
        else:
            lower = lower_is_better(self.app.metric_directions, self.metric_name)
            self.data = parallel_data(self.runs, self.params, self.metric, lower)
            if not self.data.lines:
                empty.update(
                    literal(
                        f"No run has every chosen param and a finite {one_line(self.metric)}."
                        " Choose axes with a, the metric with m."
                    )
                )
        shown = self.data is not None and bool(self.data.lines)
        plot.display = shown
        empty.display = not shown
        plot.draw(self.data)
        self.query_one("#parallel-legend", Static).update(self.legend())

    def legend(self) -> Text:
        """The colour scale from the worst value drawn to the best, and what was left out."""
        text = Text()
        data = self.data
        if data is None:
            return text
        if data.lines:
            worst, best = data.lines[0], data.lines[-1]
            better = "lower" if data.lower_is_better else "higher"
            text.append_text(literal(one_line(self.metric_name, 40), "bold"))
            text.append(f" ({better} is better)  ", style="dim")
            text.append(format_value(worst.value))
            text.append(" ")
            for i in range(LEGEND_WIDTH):
                red, green, blue = gradient(i / (LEGEND_WIDTH - 1))
                text.append("█", style=Style(color=f"rgb({red},{green},{blue})"))
            text.append(" ")
            text.append(format_value(best.value))
            text.append("\n")
            text.append("worst → best · best run: ", style="dim")
            text.append_text(literal(one_line(best.run.run_name or best.run.run_id, 40), "bold"))
            text.append(" · ", style="dim")
        text.append(f"{len(data.lines)} of {len(self.runs)} runs drawn", style="dim")
        if data.left_out:
            text.append(
                f" · {data.left_out} left out (a chosen param missing or no finite value)",
                style="dim",
            )
        if not self.params:
            text.append(" · no params chosen (a)", style="dim")
        return text

    # -- actions -----------------------------------------------------------------------------
    def action_pick_axes(self) -> None:
        if not self.all_params:
            self.notify("These runs have no params.", timeout=3)
            return

        def chosen(keys: list[str] | None) -> None:
            if keys is not None:
                self.params = keys
                self.replot()

        offered = [(key, key) for key in self.all_params]
        self.app.push_screen(AxesScreen(offered, self.params), chosen)

    def action_pick_metric(self) -> None:
        from mltui.tui.screens.dialogs.picker import PickerScreen

        if not self.metrics:
            self.notify("These runs have no metrics.", timeout=3)
            return

        def chosen(key: str | None) -> None:
            if key is not None:
                self.metric = key
                self.replot()

        self.app.push_screen(PickerScreen("Colour by metric", self.metrics, self.metric), chosen)
