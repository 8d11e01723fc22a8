"""Metric charts of one or more runs: `ChartScreen(run_ids, metric_keys)` from any screen."""

from __future__ import annotations

import time
from array import array
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from mltui.store.entities import Run
from mltui.store.follow import Shown
from mltui.store.series import Series, SeriesUpdate
from mltui.tui.present.chart import default_metric, run_labels
from mltui.tui.present.metric_groups import one_chart
from mltui.tui.screens.base import MltuiScreen
from mltui.tui.screens.dialogs.columns import ColumnsScreen
from mltui.tui.text import one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.metric_chart import ChartSeries, MetricChart

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges

#: Seconds between hand-overs of histories read: the first one at once, so a curve shows while
#: the others load, then no more often than this (each hand-over redraws the chart).
BATCH_SECONDS = 0.5


class MetricsScreen(ColumnsScreen):
    """`m`: choose the metrics to chart (several allowed)."""

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#columns-title", Static).update(Text("Metrics to chart", style="bold"))


class ChartScreen(MltuiScreen[None]):
    """Curves of one or more metrics of one or more runs, read off the UI thread."""

    TITLE = "Chart"
    DEFAULT_CSS = """
    ChartScreen MetricChart {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="chart.back"),
        Binding("m", "pick_metrics", "Metrics", id="chart.metrics"),
        Binding("r", "reload", "Reload", id="chart.reload", show=False),
    ]

    class RunsRead(Message):
        def __init__(self, runs: list[Run], missing: list[str], experiment: str | None) -> None:
            super().__init__()
            self.runs = runs
            self.missing = missing
            self.experiment = experiment

    class HistoriesRead(Message):
        def __init__(self, updates: dict[tuple[str, str], SeriesUpdate], done: int, total: int):
            super().__init__()
            #: The latest update of each pair in this batch (a sample, or the whole history).
            self.updates = updates
            self.done = done
            self.total = total

    def __init__(
        self,
        run_ids: Sequence[str],
        metric_keys: Sequence[str] | None = None,
        *,
        runs: Sequence[Run] | None = None,
    ) -> None:
        """Chart `metric_keys` (default: one the runs share) of the runs `run_ids`.

        `runs` may hand over Run objects the caller already read (with their latest metrics),
        so that only the histories are read here.
        """
        super().__init__()
        self.run_ids = list(dict.fromkeys(run_ids))
        self.requested_keys = list(metric_keys) if metric_keys else None
        self._known = {run.run_id: run for run in runs or ()}
        self.runs: list[Run] = []
        self.keys: list[str] = []
        self.experiment: str | None = None
        self.histories: dict[tuple[str, str], Series] = {}
        #: Pairs whose history on show is a sample (a tracking server's), not yet whole.
        self.sampled: set[tuple[str, str]] = set()
        self._reading: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(self._store_name(), "Chart", id="chart-crumbs")
        yield MetricChart(id="chart")
        yield Footer()

    def on_mount(self) -> None:
        chart = self.query_one(MetricChart)
        chart.empty_message = "Reading runs…"
        chart.focus()
        self.read_runs()

    @property
    def chart(self) -> MetricChart:
        return self.query_one(MetricChart)

    def _store_name(self) -> str:
        return store_crumb(self.store.location, self.app.demo)

    # -- reading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="chart-runs", exit_on_error=False)
    def read_runs(self) -> None:
        store = self.store
        runs, missing = [], []
        for run_id in self.run_ids:
            run = self._known.get(run_id) or store.run(run_id)
            if run is None:
                missing.append(run_id)
            else:
                runs.append(run)
        experiment_ids = {run.experiment_id for run in runs}
        experiment = None
        if len(experiment_ids) == 1:
            exp = store.experiment(experiment_ids.pop())
            experiment = exp.name if exp else None
        self.post_message(self.RunsRead(runs, missing, experiment))

    @work(thread=True, exclusive=True, group="chart-histories", exit_on_error=False)
    def read_histories(self, pairs: list[tuple[str, str]]) -> None:
        worker = get_current_worker()
        store = self.store
        batch: dict[tuple[str, str], SeriesUpdate] = {}
        done = 0
        handed, posted = time.monotonic(), False
        # Long histories are read in worker processes meanwhile (store/parallel.py); a tracking
        # server hands over a sample of each first (store/server/series.py).
        updates = store.series_updates(pairs)
        try:
            for update in updates:
                if worker.is_cancelled:
                    return
                if update.series is None:  # progress only
                    continue
                batch[update.pair] = update
                done += update.complete
                if not posted or done == len(pairs) or time.monotonic() - handed >= BATCH_SECONDS:
                    self.post_message(self.HistoriesRead(batch, done, len(pairs)))
                    batch = {}
                    handed, posted = time.monotonic(), True
            if batch:
                self.post_message(self.HistoriesRead(batch, done, len(pairs)))
        finally:
            updates.close()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._reading and event.state in (
            WorkerState.ERROR,
            WorkerState.CANCELLED,
            WorkerState.SUCCESS,
        ):
            # No more is coming: samples left on show are no longer said to be loading.
            self.chart.histories_loading = False
        if event.state == WorkerState.ERROR:
            self.notify(one_line(event.worker.error), title="Chart", severity="error")
            self._status("")
            if not self.chart.series:
                self.chart.empty_message = "The histories could not be read."

    def on_chart_screen_runs_read(self, message: RunsRead) -> None:
        self.runs = message.runs
        self.experiment = message.experiment
        if message.missing:
            ids = ", ".join(one_line(i, 40) for i in message.missing)
            self.notify(f"Not in this store: {ids}", title="Chart", severity="warning")
        available = {key for run in self.runs for key in run.metrics}
        keys = [k for k in self.requested_keys or () if k in available]
        if not keys:
            first = default_metric(self.runs)
            keys = [first] if first else []
        if not keys:
            self.chart.empty_message = "No metrics logged by these runs."
        self.show_keys(keys)

    def on_chart_screen_histories_read(self, message: HistoriesRead) -> None:
        for pair, update in message.updates.items():
            assert update.series is not None
            series = update.series
            if update.complete:
                self.sampled.discard(pair)
                old = self.histories.get(pair)
                if old is not None:
                    series = with_newer_points(series, old)
            else:
                self.sampled.add(pair)
            self.histories[pair] = series
        self._update_chart()
        self._status(
            "" if message.done >= message.total else f"read {message.done}/{message.total}"
        )

    # -- live updates (the app forwards the follower's changes) -------------------------------
    def live_data(self) -> Shown:
        """The runs charted, and every new point of the metrics on show."""
        return Shown(
            runs=frozenset(r.run_id for r in self.runs),
            histories=frozenset((r.run_id, k) for r in self.runs for k in self.keys),
        )

    def store_changed(self, changes: StoreChanges) -> None:
        """Extend the curves on show with the points logged since they were read."""
        grown = False
        for pair, points in changes.metric_points.items():
            series = self.histories.get(pair)
            if series is None or not points:
                continue
            # Points logged while the history was being read can come again: skip those not
            # newer than the last point held.
            last = (series.timestamps[-1], series.steps[-1]) if len(series) else None
            fresh = [p for p in points if last is None or (p.timestamp, p.step) > last]
            if not fresh:
                continue
            # A new Series (the chart caches reductions per series object).
            self.histories[pair] = Series(
                steps=series.steps + array("q", [p.step for p in fresh]),
                timestamps=series.timestamps + array("q", [p.timestamp for p in fresh]),
                values=series.values + array("d", [p.value for p in fresh]),
            )
            grown = True
        if grown:
            self._update_chart()

    # -- showing ---------------------------------------------------------------------------------
    def show_keys(self, keys: Sequence[str]) -> None:
        """Chart these metrics of the runs, reading the histories not read yet.

        System metrics are never charted with model metrics, nor two units together (the chart
        has one y axis): the keys of another group than the first key's are left out, and said."""
        self.keys, apart = one_chart(keys)
        self.app.shown_changed()
        if apart:
            self.notify(
                f"Charted apart, not with {', '.join(self.keys)}: {', '.join(apart)}",
                title="System metrics and units are not mixed",
                severity="warning",
            )
        self._crumbs()
        wanted = [
            (run.run_id, key)
            for run in self.runs
            for key in self.keys
            if key in run.metrics
            and ((run.run_id, key) not in self.histories or (run.run_id, key) in self.sampled)
        ]
        self._update_chart()
        if wanted:
            if not self.chart.series:
                self.chart.empty_message = "Reading metric histories…"
            self._status(f"reading {len(wanted)} histor{'y' if len(wanted) == 1 else 'ies'}…")
            self.chart.histories_loading = True
            self._reading = self.read_histories(wanted)
        elif self.keys and not self.chart.series:
            self.chart.empty_message = "No points logged."

    def _update_chart(self) -> None:
        labels = run_labels(self.runs)
        many_runs, many_keys = len(self.runs) > 1, len(self.keys) > 1
        entries = []
        for r, run in enumerate(self.runs):
            for k, key in enumerate(self.keys):
                series = self.histories.get((run.run_id, key))
                if series is None:
                    continue
                if many_runs and many_keys:
                    label = f"{labels[run.run_id]} · {key}"
                else:
                    label = labels[run.run_id] if many_runs or not many_keys else key
                color = r * len(self.keys) + k if many_keys else r
                sampled = (run.run_id, key) in self.sampled
                entries.append(ChartSeries(label, series, color, run.run_id, key, sampled))
        self.chart.set_series(entries)

    def _crumbs(self) -> None:
        parts = [self._store_name()]
        if self.experiment:
            parts.append(self.experiment)
        if len(self.runs) == 1:
            parts.append(self.runs[0].run_name or self.runs[0].run_id)
        else:
            parts.append(f"{len(self.runs)} runs")
        parts.append(", ".join(self.keys) if self.keys else "Chart")
        self.query_one(Breadcrumbs).show(*parts)

    def _status(self, text: str) -> None:
        self.query_one(Breadcrumbs).status = text

    # -- actions ---------------------------------------------------------------------------------
    def action_pick_metrics(self) -> None:
        counts = Counter(key for run in self.runs for key in run.metrics)
        if not counts:
            self.notify("These runs have no metrics.", title="Chart")
            return
        total = len(self.runs)
        offered = [
            (key, key if counts[key] == total else f"{key}  ({counts[key]}/{total} runs)")
            for key in sorted(counts)
        ]

        def chosen(keys: list[str] | None) -> None:
            if keys is None:
                return
            if not keys:
                self.notify("Pick at least one metric.", title="Chart", severity="warning")
                return
            self.show_keys(keys)

        self.app.push_screen(MetricsScreen(offered, self.keys), chosen)

    def action_reload(self) -> None:
        self.histories.clear()
        self.sampled.clear()
        self.requested_keys = self.keys or self.requested_keys
        self._known.clear()
        self.read_runs()


def with_newer_points(whole: Series, shown: Series) -> Series:
    """The whole history, and the points of the one it replaces logged after it was read (the
    live updates that came meanwhile), so replacing a sample loses none of them."""
    if not len(whole):
        return whole
    last = (whole.timestamps[-1], whole.steps[-1])
    newer = [i for i in range(len(shown)) if (shown.timestamps[i], shown.steps[i]) > last]
    if not newer:
        return whole
    return Series(
        steps=whole.steps + array("q", [shown.steps[i] for i in newer]),
        timestamps=whole.timestamps + array("q", [shown.timestamps[i] for i in newer]),
        values=whole.values + array("d", [shown.values[i] for i in newer]),
    )
