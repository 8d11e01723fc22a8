"""What the scatter and parallel-coordinates screens share: the runs they plot, breadcrumbs
naming those runs' experiments, Back, and flipping which way the judged metric is better."""

from __future__ import annotations

from collections.abc import Sequence

from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer

from mltui.store.entities import Run
from mltui.tui.present.compare import flip_direction
from mltui.tui.screens.base import MltuiScreen
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb


class RunsPlotScreen(MltuiScreen[None]):
    """A plot of the runs given, between breadcrumbs and the footer.

    Subclasses yield their widgets from `compose_plot` (classes `plot`, `plot-empty` and
    `plot-caption` lay them out), draw in `replot`, and name the judged metric in `metric_key`.
    `where` names the runs' experiments when the caller knows them; else they are read.
    """

    #: The last breadcrumb: what the plot is.
    CRUMB = ""
    DEFAULT_CSS = """
    RunsPlotScreen .plot {
        height: 1fr;
    }
    RunsPlotScreen .plot-caption {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
    }
    RunsPlotScreen .plot-empty {
        height: 1fr;
        padding: 1 2;
        color: $text-muted;
    }
    """

    class ExperimentNames(Message):
        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    def __init__(self, runs: Sequence[Run], *, where: str = "") -> None:
        super().__init__()
        self.runs = list(runs)
        self.where = where

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(*self._crumbs(self.where))
        yield from self.compose_plot()
        yield Footer()

    def compose_plot(self) -> ComposeResult:
        """The plot, the sentence shown instead when there is nothing to draw, the caption."""
        raise NotImplementedError

    def replot(self) -> None:
        raise NotImplementedError

    @property
    def metric_key(self) -> str | None:
        """The metric (`metrics.*`) whose better direction `b` flips; None when there is none."""
        raise NotImplementedError

    @property
    def metric_name(self) -> str:
        return (self.metric_key or "").removeprefix("metrics.")

    def _crumbs(self, where: str) -> list[str]:
        store = self.store
        return [store_crumb(store.location, self.app.demo), where, self.CRUMB]

    def on_mount(self) -> None:
        if not self.where:
            self.read_names()
        self.replot()

    @work(thread=True, exclusive=True, group="experiment-names", exit_on_error=False)
    def read_names(self) -> None:
        ids = dict.fromkeys(run.experiment_id for run in self.runs)
        self.post_message(self.ExperimentNames(self.store.experiment_names(ids)))

    def on_runs_plot_screen_experiment_names(self, message: ExperimentNames) -> None:
        self.query_one(Breadcrumbs).show(*self._crumbs(", ".join(message.names)))

    def action_flip_direction(self) -> None:
        if self.metric_key is None:
            return
        lower = flip_direction(self.app.metric_directions, self.metric_name)
        self.notify(f"{self.metric_name}: {'lower' if lower else 'higher'} is better", timeout=3)
        self.replot()
