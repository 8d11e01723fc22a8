"""The run page's Metrics tab: each metric's latest value and step, then the extremes and counts
of its whole history, which this tab reads after the rest of the run is shown."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from mltui.store import Store
from mltui.store.entities import Metric, Run
from mltui.store.evaluations import DatasetMetrics, metrics_by_dataset
from mltui.tui.present.metric_groups import metric_sections
from mltui.tui.text import format_value, literal, one_line
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab

#: Row keys of the group headings (no metric key starts with a NUL).
HEADING_KEY = "\x00"
#: Summaries sent to the table at a time while the histories are read.
BATCH = 20


@dataclass(slots=True, frozen=True)
class MetricSummary:
    """What a metric's whole history says: extremes (NaN ignored) and how much was logged."""

    minimum: float
    maximum: float
    steps: int
    points: int


def summarize_history(history: list[Metric]) -> MetricSummary:
    """Min and max over the non-NaN values (NaN when there are none), distinct steps, points."""
    numbers = [m.value for m in history if not math.isnan(m.value)]
    return MetricSummary(
        minimum=min(numbers) if numbers else math.nan,
        maximum=max(numbers) if numbers else math.nan,
        steps=len({m.step for m in history}),
        points=len(history),
    )


def _number(value: float | None) -> Text:
    if value is None:
        return Text("…", style="dim", justify="right")
    style = "yellow" if math.isnan(value) or math.isinf(value) else ""
    return Text(format_value(value), style=style, justify="right")


def _count(value: int | None) -> Text:
    return Text(
        "…" if value is None else str(value), style="dim" if value is None else "", justify="right"
    )


class MetricsTab(RunTab[list[DatasetMetrics]]):
    """Metrics grouped by the dataset an evaluation measured them on, then the rest."""

    PANE = "metrics"
    LABEL = "Metrics"
    FOCUS = "#metrics-table"

    class Summarized(Message, bubble=False):
        def __init__(self, summaries: dict[str, MetricSummary]) -> None:
            super().__init__()
            self.summaries = summaries

    def __init__(self, store: Store, number: int) -> None:
        super().__init__(store, number)
        self.summaries: dict[str, MetricSummary] = {}
        self._shown = False

    @classmethod
    def read(cls, store: Store, details: RunDetails) -> list[DatasetMetrics]:
        return metrics_by_dataset(store, details.run, details.logged_models)

    def compose(self) -> ComposeResult:
        yield Static("No metrics.", classes="empty", id="metrics-empty")
        yield KeyedTable(
            [
                ("key", "Metric"),
                ("latest", "Latest"),
                ("step", "Step"),
                ("min", "Min"),
                ("max", "Max"),
                ("steps", "Steps"),
                ("points", "Points"),
            ],
            id="metrics-table",
        )

    def on_mount(self) -> None:
        self.query_one(".empty").display = False

    def show(self, details: RunDetails, data: list[DatasetMetrics]) -> None:
        run = details.run
        table = self.query_one("#metrics-table", DataTable)
        keep = table.cursor_row
        table.clear()
        by_dataset = [
            (f"Dataset {g.dataset_name} ({g.dataset_digest})", list(g.metrics))
            for g in data or []
            if g.dataset_name is not None
        ]
        for heading, keys in metric_sections(list(run.metrics), by_dataset):
            if heading is not None:
                table.add_row(
                    literal(heading, style="bold"), *[Text("")] * 6, key=f"{HEADING_KEY}{heading}"
                )
            self._add_rows(table, run, keys)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self.show_empty(not run.metrics, "#metrics-table")
        if run.metrics and not self._shown:
            self.post_message(self.Status("reading metric histories…"))
        self._shown = True
        self.summarize(run.run_id, sorted(run.metrics))

    def _add_rows(self, table: DataTable[Text], run: Run, keys: list[str]) -> None:
        for key in keys:
            metric = run.metrics[key]
            summary = self.summaries.get(key)
            table.add_row(
                literal(one_line(key)),
                _number(metric.value),
                Text(str(metric.step), justify="right"),
                _number(summary.minimum if summary else None),
                _number(summary.maximum if summary else None),
                _count(summary.steps if summary else None),
                _count(summary.points if summary else None),
                key=key,
            )

    def current_metric(self) -> str | None:
        """The metric under the cursor (None on a group's heading or in an empty table)."""
        key = self.query_one("#metrics-table", KeyedTable).current_key()
        return None if key is None or key.startswith(HEADING_KEY) else key

    # -- the histories ---------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="run-history", exit_on_error=False)
    def summarize(self, run_id: str, keys: list[str]) -> None:
        worker = get_current_worker()
        batch: dict[str, MetricSummary] = {}
        for key in keys:
            if worker.is_cancelled:
                return
            batch[key] = summarize_history(self.store.metric_history(run_id, key))
            if len(batch) >= BATCH:
                self.post_message(self.Summarized(batch))
                batch = {}
        if batch:
            self.post_message(self.Summarized(batch))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self.post_message(self.Status(""))
        if event.state == WorkerState.ERROR:
            self.notify(one_line(event.worker.error), title="Run", severity="error", markup=False)

    def on_metrics_tab_summarized(self, message: Summarized) -> None:
        self.summaries.update(message.summaries)
        table = self.query_one("#metrics-table", DataTable)
        for key, summary in message.summaries.items():
            if key not in table.rows:
                continue
            table.update_cell(key, "min", _number(summary.minimum), update_width=True)
            table.update_cell(key, "max", _number(summary.maximum), update_width=True)
            table.update_cell(key, "steps", _count(summary.steps), update_width=True)
            table.update_cell(key, "points", _count(summary.points), update_width=True)
