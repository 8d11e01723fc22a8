"""The runs of one or more experiments: sort, filter, mark, nest, choose columns, open one."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from mltui.store import process
from mltui.store.entities import DELETED, DatasetInput, Run
from mltui.store.errors import FilterError, StoreError
from mltui.store.follow import Shown
from mltui.tui.present.runs_view import (
    ATTRIBUTE_COLUMNS,
    DESCENDING_FIRST,
    RunRow,
    column_label,
    default_columns,
    sort_runs,
    tree_rows,
)
from mltui.tui.screens.base import MltuiScreen
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.filter_bar import FilterBar, RunPredicate, compile_query
from mltui.tui.widgets.runs_table import MARK_COLUMN, RunsTable

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges

#: Runs whose dataset inputs are read at a time for a `datasets.*` filter (one message each).
INPUTS_BATCH = 500


class RunsScreen(MltuiScreen[None]):
    """Every run of the chosen experiments, as a table or a tree of nested runs."""

    TITLE = "Runs"
    BINDINGS = [
        Binding("escape", "back", "Back", id="runs.back"),
        Binding("enter", "open", "Open run", id="runs.open"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("s", "sort", "Sort", id="runs.sort"),
        Binding("S", "reverse", "Reverse sort", id="runs.reverse", show=False),
        Binding("c", "columns", "Columns", id="runs.columns"),
        Binding("space", "mark", "Mark", id="runs.mark"),
        Binding("t", "toggle_tree", "Tree/flat", id="runs.tree"),
        Binding("d", "toggle_deleted", "Deleted", id="runs.deleted"),
        Binding("y", "copy_id", "Copy run id", id="runs.copy", show=False),
        Binding("g", "chart", "Chart", id="runs.chart"),
        Binding("C", "compare", "Compare marked", id="runs.compare"),
        Binding("p", "scatter", "Scatter", id="runs.scatter", show=False),
        Binding("P", "parallel", "Parallel coords", id="runs.parallel", show=False),
        Binding("e", "export", "Export CSV", id="runs.export", show=False),
        Binding("T", "traces", "Traces", id="runs.traces", show=False),
        Binding("left,minus", "collapse", "Collapse", id="runs.collapse", show=False),
        Binding("right,plus", "expand", "Expand", id="runs.expand", show=False),
    ]

    DEFAULT_CSS = """
    RunsScreen #runs-status {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    class RunsRead(Message):
        """A batch of runs was read; `total` is how many have been read so far."""

        def __init__(self, runs: list[Run], total: int) -> None:
            super().__init__()
            self.runs = runs
            self.total = total

    class ReadDone(Message):
        """Every run was read."""

    class ReadFailed(Message):
        """Reading stopped with an error; the runs read before it stay."""

        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    class InputsRead(Message):
        """Dataset inputs of runs listed without them (`asked`); `error` if reading stopped."""

        def __init__(
            self,
            asked: list[str],
            inputs: dict[str, list[DatasetInput]],
            error: Exception | None = None,
        ) -> None:
            super().__init__()
            self.asked = asked
            self.inputs = inputs
            self.error = error

    class ExperimentNames(Message):
        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    def __init__(self, experiment_ids: list[str]) -> None:
        super().__init__()
        self.experiment_ids = [str(i) for i in experiment_ids]
        self.runs: dict[str, Run] = {}
        self.marked: set[str] = set()
        self.collapsed: set[str] = set()
        self.show_deleted = False
        self.tree_view = True
        self.sort_column = "start"
        self.sort_descending = True
        self.filter_text = ""
        self.predicate: RunPredicate | None = None
        #: The columns the person chose with `c`; None until then (the defaults apply).
        self.chosen_columns: list[str] | None = None
        self.reading = True
        self.read_count = 0
        self._offered_columns: list[str] = []
        self._default_columns: list[str] = []
        self._columns_stale = True
        self._shown_count = 0
        self._rebuild_timer: Timer | None = None
        self._rebuild_seconds = 0.0
        self._warnings_seen = 0
        #: Runs whose dataset inputs are being read for the filter.
        self._inputs_wanted: set[str] = set()

    def compose(self) -> ComposeResult:
        store = self.store
        yield Breadcrumbs(
            store_crumb(store.location, self.app.demo), ", ".join(self.experiment_ids)
        )
        yield FilterBar(id="runs-filter-bar")
        yield RunsTable(id="runs-table")
        yield Static(id="runs-status")
        yield Footer()

    def on_mount(self) -> None:
        self.table.tree_keys = self.tree_view
        self.table.focus()
        self._warnings_seen = len(self.store.warnings.messages)
        self.update_status()
        self.set_interval(1.0, self._tick)
        self.read_runs()

    def on_unmount(self) -> None:
        process.unfreeze(self)

    @property
    def table(self) -> RunsTable:
        return self.query_one("#runs-table", RunsTable)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one("#runs-filter-bar", FilterBar)

    # -- reading -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="runs-read")
    def read_runs(self) -> None:
        worker = get_current_worker()
        store = self.store
        total = 0
        try:
            self.post_message(self.ExperimentNames(store.experiment_names(self.experiment_ids)))
            for batch in store.iter_runs(self.experiment_ids, include_deleted=True):
                if worker.is_cancelled:
                    return
                total += len(batch)
                self.post_message(self.RunsRead(batch, total))
        except Exception as error:  # shown, and what was read stays on screen
            self.post_message(self.ReadFailed(error))
        else:
            self.post_message(self.ReadDone())

    def want_inputs(self) -> None:
        """Read the dataset inputs a `datasets.*` filter tests, for runs listed without them.

        A file store lists runs without their inputs (a folder per input and per dataset, read
        only when asked); SQLite lists them with their inputs, so nothing is read here.
        """
        if not getattr(self.predicate, "needs_inputs", False):
            return
        missing = [
            run_id
            for run_id, run in self.runs.items()
            if run.inputs is None and run_id not in self._inputs_wanted
        ]
        if missing:
            self._inputs_wanted.update(missing)
            self.read_inputs(missing)

    @work(thread=True, group="runs-inputs")
    def read_inputs(self, run_ids: list[str]) -> None:
        worker = get_current_worker()
        store = self.store
        for start in range(0, len(run_ids), INPUTS_BATCH):
            if worker.is_cancelled:
                return
            asked = run_ids[start : start + INPUTS_BATCH]
            try:
                self.post_message(self.InputsRead(asked, store.dataset_inputs(asked)))
            except Exception as error:  # shown; the runs stay listed, without datasets
                self.post_message(self.InputsRead(run_ids[start:], {}, error))
                return

    def on_runs_screen_inputs_read(self, message: InputsRead) -> None:
        self._inputs_wanted.difference_update(message.asked)
        for run_id, inputs in message.inputs.items():
            run = self.runs.get(run_id)
            if run is not None and run.inputs is None:
                # Set in place: no cell shows inputs, so the table's rows stay as they are.
                run.inputs = inputs
        if message.error is not None:
            self.notify(one_line(message.error), title="Could not read datasets", severity="error")
        if self._inputs_wanted:
            self.schedule_rebuild()
        else:
            self.rebuild()

    def on_runs_screen_read_failed(self, message: ReadFailed) -> None:
        error = message.error
        sentence = (
            str(error) if isinstance(error, StoreError) else f"{type(error).__name__}: {error}"
        )
        self.notify(one_line(sentence), title="Could not read every run", severity="error")
        self._finish_reading()

    def on_runs_screen_experiment_names(self, message: ExperimentNames) -> None:
        store = self.store
        self.query_one(Breadcrumbs).show(
            store_crumb(store.location, self.app.demo), ", ".join(message.names)
        )

    def on_runs_screen_runs_read(self, message: RunsRead) -> None:
        first = not self.runs
        for run in message.runs:
            self.runs[run.run_id] = run
        # Runs live as long as the screen: keep the cyclic garbage collector from walking them
        # again and again (at 10,000 runs a full collection took most of a second, several
        # times a sort). Unfrozen when the screen goes, so nothing stays frozen for good.
        process.freeze(self)
        self.read_count = message.total
        self._columns_stale = True
        if first:
            self.rebuild()
        elif self._rebuild_timer is None:
            # Rebuilding costs more as runs pile up; wait twice as long as the last one took
            # so that keys keep working while a big store loads.
            delay = max(0.25, 2 * self._rebuild_seconds)
            self._rebuild_timer = self.set_timer(delay, self._timed_rebuild)
        self.update_status()

    def on_runs_screen_read_done(self) -> None:
        self._finish_reading()

    def _finish_reading(self) -> None:
        self.reading = False
        if self._rebuild_timer is not None:
            self._rebuild_timer.stop()
            self._rebuild_timer = None
        self._columns_stale = True
        self.rebuild()
        # Problems met while reading these runs (malformed files...), not those shown before.
        for warning in self.store.warnings.messages[self._warnings_seen :]:
            self.notify(one_line(warning), severity="warning", timeout=8)

    # -- live updates (the app forwards the follower's changes) -------------------------------
    class RunsUpdated(Message):
        """Runs re-read after the store said they changed."""

        def __init__(self, runs: list[Run]) -> None:
            super().__init__()
            self.runs = runs

    def live_data(self) -> Shown:
        return Shown(runs_of=frozenset(self.experiment_ids))

    def store_changed(self, changes: StoreChanges) -> None:
        """Apply new metric points in place; re-read new or changed runs in a worker."""
        touched = False
        reread = set(changes.runs) | set(changes.deleted_runs)
        for (run_id, key), points in changes.metric_points.items():
            run = self.runs.get(run_id)
            if run is None:
                reread.add(run_id)  # a run this screen has not seen yet
                continue
            latest = run.metrics.get(key)
            for point in points:
                # MLflow's "latest": the greatest (step, timestamp, value).
                if latest is None or (point.step, point.timestamp, point.value) > (
                    latest.step,
                    latest.timestamp,
                    latest.value,
                ):
                    latest = point
            if latest is None:  # an empty list of points and no value yet: nothing to show
                continue
            if key not in run.metrics:
                self._columns_stale = True
            # A new Run, not an edit in place: the table reuses rows made from the same object.
            self.runs[run_id] = dataclasses.replace(run, metrics={**run.metrics, key: latest})
            touched = True
        gone = [self.runs[i] for i in changes.deleted_runs if i in self.runs]
        if gone:
            names = ", ".join(one_line(r.run_name or r.run_id, 40) for r in gone[:3])
            more = f" and {len(gone) - 3} more" if len(gone) > 3 else ""
            self.notify(f"Deleted: {names}{more}", title="Runs", timeout=6)
        if reread:
            self.reread_runs(sorted(reread))
        if touched:
            self.schedule_rebuild()

    @work(thread=True, group="runs-live")
    def reread_runs(self, run_ids: list[str]) -> None:
        store = self.store
        wanted = set(self.experiment_ids)
        fresh = []
        for run_id in run_ids:
            try:
                run = store.run(run_id)
            except StoreError:
                continue  # half-written; the next change will bring it
            if run is not None and run.experiment_id in wanted:
                fresh.append(run)
        if fresh:
            self.post_message(self.RunsUpdated(fresh))

    def on_runs_screen_runs_updated(self, message: RunsUpdated) -> None:
        for run in message.runs:
            if run.run_id not in self.runs:
                self._columns_stale = True
            self.runs[run.run_id] = run
        self.schedule_rebuild()

    def schedule_rebuild(self) -> None:
        """Rebuild soon, once, however many changes arrive meanwhile (the cursor stays put)."""
        if self._rebuild_timer is None:
            delay = max(0.5, 2 * self._rebuild_seconds)
            self._rebuild_timer = self.set_timer(delay, self._timed_rebuild)

    def _timed_rebuild(self) -> None:
        self._rebuild_timer = None
        self.rebuild()

    def _tick(self) -> None:
        self.table.tick()

    # -- what the table shows ----------------------------------------------------------------
    def candidate_runs(self) -> list[Run]:
        """The runs read, less deleted ones unless they are asked for."""
        if self.show_deleted:
            return list(self.runs.values())
        return [r for r in self.runs.values() if r.lifecycle_stage != DELETED]

    def columns(self) -> list[str]:
        """The column keys shown, in order (the run name always first)."""
        if self._columns_stale:
            self._offered_columns, self._default_columns = default_columns(self.candidate_runs())
            self._columns_stale = False
        if self.chosen_columns is None:
            return [key for key, _ in ATTRIBUTE_COLUMNS] + self._default_columns
        return ["name", *self.chosen_columns]

    def offered_columns(self) -> list[str]:
        """Every column the chooser offers, in order (all but the name can be hidden)."""
        self.columns()
        offered = [key for key, _ in ATTRIBUTE_COLUMNS[1:]] + self._offered_columns
        for key in self.chosen_columns or ():
            if key not in offered:  # chosen before a reload that no longer has it
                offered.append(key)
        return offered

    def visible_rows(self) -> list[RunRow]:
        """The rows to show, in order, given the filter, sort, tree and deleted toggles."""
        candidates = self.candidate_runs()
        predicate = self.predicate
        matching = candidates if predicate is None else [r for r in candidates if predicate(r)]
        if not self.tree_view:
            ordered = sort_runs(matching, self.sort_column, self.sort_descending)
            return [RunRow(run) for run in ordered]
        context: set[str] = set()
        if predicate is not None:
            by_id = {r.run_id: r for r in candidates}
            shown = {r.run_id for r in matching}
            for run in matching:
                parent = run.parent_run_id
                while parent and parent in by_id and parent not in shown:
                    shown.add(parent)
                    context.add(parent)
                    parent = by_id[parent].parent_run_id
            matching = matching + [by_id[i] for i in context]
        ordered = sort_runs(matching, self.sort_column, self.sort_descending)
        return tree_rows(ordered, self.collapsed, context)

    def rebuild(self, keep: str | None = None) -> None:
        """Rebuild every row; the cursor stays on the same run (or `keep`)."""
        started = time.perf_counter()
        table = self.table
        current = keep or table.current_run_id()
        index = table.cursor_row if table.row_count else 0
        if self.reading and index == 0:
            current = None  # while reading, stay at the top until the person moves
        self.want_inputs()
        try:
            rows = self.visible_rows()
        except Exception as error:  # a filter that fails on some value (should parse-fail first)
            self.notify(one_line(error), title="Filter", severity="error")
            self.predicate, self.filter_text = None, ""
            rows = self.visible_rows()
        table.marked = self.marked
        table.show(
            rows,
            self.columns(),
            sort_column=self.sort_column,
            descending=self.sort_descending,
            keep=current,
            keep_index=index,
        )
        self._shown_count = sum(1 for row in rows if not row.context)
        process.freeze(self)  # the rows just made live until the next rebuild (see runs_read)
        self._rebuild_seconds = time.perf_counter() - started
        self.update_status()

    def update_status(self) -> None:
        total = len(self.candidate_runs())
        text = Text()
        if self.reading:
            text.append(f"loading… {self.read_count} read", style="bold")
            text.append(" · ")
        if self._inputs_wanted:
            text.append(f"reading datasets… {len(self._inputs_wanted)} left", style="bold")
            text.append(" · ")
        text.append(f"{total} run{'' if total == 1 else 's'} ({self._shown_count} shown)")
        if self.filter_text:
            text.append(" · filter: ")
            text.append_text(literal(one_line(self.filter_text, 80), "bold"))
        arrow = "▼" if self.sort_descending else "▲"
        text.append(" · sort: ")
        text.append_text(literal(one_line(column_label(self.sort_column), 60)))
        text.append(f" {arrow}")
        if self.marked:
            text.append(f" · {len(self.marked)} marked")
        if self.show_deleted:
            text.append(" · deleted shown")
        text.append(" · tree" if self.tree_view else " · flat")
        self.query_one("#runs-status", Static).update(text)
        self.sub_title = text.plain

    def current_run_id(self) -> str | None:
        return self.table.current_run_id()

    def marked_run_ids(self) -> list[str]:
        """The marked runs, in the order they are shown (then any hidden by a filter)."""
        shown = [i for i in self.table.shown_run_ids() if i in self.marked]
        hidden = self.marked.difference(shown)
        return shown + [i for i in self.runs if i in hidden]

    # -- actions -----------------------------------------------------------------------------
    def shown_runs(self) -> list[Run]:
        """The runs shown (filtered when a filter is on), without the dimmed context rows."""
        return [row.run for row in self.visible_rows() if not row.context]

    def experiment_label(self) -> str:
        return self.query_one(Breadcrumbs).parts[-1] if self.experiment_ids else "runs"

    def action_chart(self) -> None:
        """Chart the marked runs, or the run under the cursor."""
        run_ids = self.marked_run_ids() or [i for i in [self.current_run_id()] if i]
        if not run_ids:
            return
        self.app.open_chart(run_ids)

    def action_compare(self) -> None:
        run_ids = self.marked_run_ids()
        if len(run_ids) < 2:
            self.notify("Mark two or more runs with space to compare them.", timeout=4)
            return
        self.app.open_compare(run_ids)

    def action_traces(self) -> None:
        self.app.open_traces(self.experiment_ids)

    def action_scatter(self) -> None:
        self.app.open_scatter(self.shown_runs(), where=self.experiment_label())

    def action_parallel(self) -> None:
        self.app.open_parallel(self.shown_runs(), where=self.experiment_label())

    def action_export(self) -> None:
        from mltui.tui.csv_export import export_in_background, write_runs_csv

        runs, label, store = self.shown_runs(), self.experiment_label(), self.store
        ids = sorted({run.experiment_id for run in runs})

        def write() -> Path:
            names = dict(zip(ids, store.experiment_names(ids), strict=True))
            return write_runs_csv(runs, names, label=label)

        export_in_background(self, write, f"{len(runs)} runs")

    def action_open(self) -> None:
        run_id = self.current_run_id()
        if run_id is None:
            return
        self.app.open_run(run_id)

    @on(RunsTable.RowSelected, "#runs-table")
    def _row_selected(self, event: RunsTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_filter(self) -> None:
        self.filter_bar.open()

    @on(FilterBar.Applied)
    def _filter_applied(self, event: FilterBar.Applied) -> None:
        self._apply_filter(event.text)

    def _apply_filter(self, text: str) -> None:
        try:
            predicate = compile_query(text)
        except FilterError as error:
            sentence = one_line(error, 300)
            self.filter_bar.show_error(sentence)
            self.notify(sentence, title="Filter not applied", severity="error")
            return
        self.filter_bar.show_error(None)
        self.predicate = predicate
        self.filter_text = text.strip()
        if not self.filter_text:
            self.filter_bar.close()
        self.table.focus()
        self.rebuild()

    @on(FilterBar.Cleared)
    def _filter_cleared(self) -> None:
        self.table.focus()
        if self.filter_text:
            self.predicate, self.filter_text = None, ""
            self.rebuild()

    def action_sort(self) -> None:
        from mltui.tui.screens.dialogs.picker import PickerScreen

        shown = [c for c in self.columns() if c != MARK_COLUMN]
        keys = shown + [c for c in self.offered_columns() if c not in shown]
        labels = [column_label(k) for k in keys]

        def chosen(label: str | None) -> None:
            if label is not None:
                self.sort_by(keys[labels.index(label)])

        self.app.push_screen(
            PickerScreen("Sort runs by", labels, column_label(self.sort_column)), chosen
        )

    def sort_by(self, column: str) -> None:
        """Sort by a column; again on the same column reverses the order."""
        if column == self.sort_column:
            self.sort_descending = not self.sort_descending
        else:
            self.sort_column = column
            self.sort_descending = column in DESCENDING_FIRST
        self.show_sorted()

    def action_reverse(self) -> None:
        self.sort_descending = not self.sort_descending
        self.show_sorted()

    def show_sorted(self) -> None:
        """After a sort the person asked for: the first run (the best by that key) under the
        cursor, and the sorted column in view."""
        self.rebuild()
        table = self.table
        if table.row_count:
            table.move_cursor(row=0, animate=False)
        table.reveal_column(self.sort_column)

    @on(RunsTable.HeaderSelected, "#runs-table")
    def _header(self, event: RunsTable.HeaderSelected) -> None:
        event.stop()
        if event.column != MARK_COLUMN:
            self.sort_by(event.column)

    def action_columns(self) -> None:
        from mltui.tui.screens.dialogs.columns import ColumnsScreen

        shown = self.columns()[1:]
        offered = [(key, column_label(key)) for key in self.offered_columns()]

        def chosen(columns: list[str] | None) -> None:
            if columns is not None:
                self.chosen_columns = columns
                self.rebuild()

        self.app.push_screen(ColumnsScreen(offered, shown), chosen)

    def action_mark(self) -> None:
        run_id = self.current_run_id()
        if run_id is None:
            return
        self.marked ^= {run_id}
        self.table.set_marked(run_id, run_id in self.marked)
        if run_id in self.marked and run_id in self.runs:
            self.store.workers.warm_for([self.runs[run_id]])  # about to be charted or compared
        self.table.action_cursor_down()
        self.update_status()

    def action_toggle_tree(self) -> None:
        self.tree_view = not self.tree_view
        self.table.tree_keys = self.tree_view
        self.rebuild()

    def action_toggle_deleted(self) -> None:
        self.show_deleted = not self.show_deleted
        self._columns_stale = True
        self.notify(
            "Showing deleted runs" if self.show_deleted else "Hiding deleted runs", timeout=2
        )
        self.rebuild()

    def action_copy_id(self) -> None:
        run_id = self.current_run_id()
        if run_id is None:
            return
        self.app.copy_to_clipboard(run_id)
        self.notify(f"Copied run id {run_id}", timeout=3)

    def action_collapse(self) -> None:
        """Fold the children of the run under the cursor, or go up to its parent."""
        table = self.table
        run_id = table.current_run_id()
        row = table.shown(run_id) if run_id else None
        if row is None or not run_id:  # (row is None without a run_id)
            table.scroll_left()
            return
        if row.expanded:
            self.collapsed.add(run_id)
            self.rebuild(keep=run_id)
        elif row.depth and row.run.parent_run_id in table.shown_run_ids():
            table.move_cursor(row=table.get_row_index(row.run.parent_run_id))
        else:
            table.scroll_left()

    def action_expand(self) -> None:
        """Show the children of the run under the cursor."""
        table = self.table
        run_id = table.current_run_id()
        row = table.shown(run_id) if run_id else None
        if row is not None and row.expanded is False:
            self.collapsed.discard(run_id)
            self.rebuild(keep=run_id)
        else:
            table.scroll_right()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("collapse", "expand"):
            return self.tree_view
        return True
