"""The first screen: every experiment of the store, with run counts and last activity."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input
from textual.worker import get_current_worker

from mltui.store.entities import DELETED, Experiment
from mltui.store.errors import StoreError
from mltui.store.follow import Shown
from mltui.tui.screens.base import MltuiScreen, in_key_order
from mltui.tui.screens.sortable import SortableFilterable
from mltui.tui.text import format_time, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_label

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges

MARK = "●"
#: While changes keep coming, the list (and every experiment's activity: a scan) is read again
#: at most this long after the last reading ended; a change after a quiet spell, at once.
RELOAD_SECONDS = 2.0


@dataclass(slots=True)
class ExperimentRow:
    experiment: Experiment
    runs: int | None = None
    last_activity: int | None = None


# Sortable columns: (column key, label, value of a row to sort by).
COLUMNS = [
    ("name", "Name", lambda r: r.experiment.name.lower()),
    ("runs", "Runs", lambda r: r.runs if r.runs is not None else -1),
    ("last", "Last activity", lambda r: r.last_activity or 0),
    ("stage", "Lifecycle", lambda r: r.experiment.lifecycle_stage),
    ("id", "ID", lambda r: (len(r.experiment.experiment_id), r.experiment.experiment_id)),
]


class ExperimentsScreen(SortableFilterable, MltuiScreen[None]):
    """Pick one or more experiments to see their runs."""

    TITLE = "Experiments"
    FILTER_BOX = "experiments-filter"
    SORT_TITLE = "Sort experiments by"
    AUTO_FOCUS = "#experiments-table"
    BINDINGS = [
        Binding("enter", "open", "Open runs", id="experiments.open", priority=True),
        Binding("space", "mark", "Mark", id="experiments.mark"),
        Binding("slash", "filter", "Filter", id="experiments.filter"),
        Binding("s", "sort", "Sort", id="experiments.sort"),
        Binding("S", "reverse", "Reverse sort", id="experiments.reverse", show=False),
        Binding("d", "toggle_deleted", "Deleted", id="experiments.deleted"),
        Binding("escape", "clear", "Clear filter", id="experiments.clear", show=False),
        Binding("M", "registry", "Models", id="experiments.registry"),
        Binding("L", "logged_models", "Logged models", id="experiments.logged_models"),
        Binding("P", "prompts", "Prompts", id="experiments.prompts"),
    ]

    class Loaded(Message):
        def __init__(self, experiments: list[Experiment]) -> None:
            super().__init__()
            self.experiments = experiments

    class ActivityLoaded(Message):
        """The experiments counted so far, and those still being counted (a server's)."""

        def __init__(self, activity: dict[str, tuple[int, int | None]], counting: set[str]) -> None:
            super().__init__()
            self.activity = activity
            self.counting = counting

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ExperimentRow] = []
        self.marked: set[str] = set()
        self.show_deleted = False
        self.sort_key = "last"
        self.sort_reverse = True
        self.quick_filter = ""
        self._reload_timer: Timer | None = None
        self._loading = False
        #: A change came while reading: read again once this reading is over (restarting it
        #: instead, a server's counts, slow, might never finish while runs keep starting).
        self._again = False
        self._loaded_at = -RELOAD_SECONDS
        #: Experiments whose runs are still being counted (a server counts one at a time).
        self._counting: set[str] = set()

    def compose(self) -> ComposeResult:
        where = "demo store" if self.app.demo else store_label(self.store.location)
        yield Breadcrumbs("mltui", where)
        quick_filter = Input(
            placeholder="filter experiments by name or id", id="experiments-filter"
        )
        quick_filter.display = False
        yield quick_filter
        table: DataTable[Text] = DataTable(
            id="experiments-table", cursor_type="row", zebra_stripes=True
        )
        for key, label, _ in COLUMNS:
            table.add_column(label, key=key)
        table.add_column(" ", key="mark", width=1)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.loading = True
        self._reload()

    @work(thread=True, exclusive=True, group="experiments")
    def load(self) -> None:
        store = self.store
        worker = get_current_worker()
        try:
            experiments = store.experiments(include_deleted=True)
            self.post_message(self.Loaded(experiments))
            # Counted as the runs screen lists them: deleted runs only when asked for there.
            stream = store.experiment_activity_stream(
                include_deleted=True, deleted_runs=False, experiments=experiments
            )
            try:
                for activity, counting in stream:
                    if worker.is_cancelled:
                        return
                    self.post_message(self.ActivityLoaded(activity, counting))
            finally:
                stream.close()
        except StoreError as error:
            # A tracking server can fail mid-way: what is on screen stays, and this says why.
            self.app.call_from_thread(self._read_failed, error)

    def _read_failed(self, error: StoreError) -> None:
        self.query_one(DataTable).loading = False
        self._read_over()
        self.notify(
            one_line(str(error)),
            title="Could not read every experiment's runs",
            severity="error",
            markup=False,
        )

    def on_experiments_screen_loaded(self, message: Loaded) -> None:
        self.rows = [ExperimentRow(e) for e in message.experiments]
        self.query_one(DataTable).loading = False
        self.refresh_table()

    def on_experiments_screen_activity_loaded(self, message: ActivityLoaded) -> None:
        self._counting = message.counting
        for row in self.rows:
            if row.experiment.experiment_id in message.counting:
                continue  # its count is still coming
            row.runs, row.last_activity = message.activity.get(
                row.experiment.experiment_id, (0, None)
            )
            row.last_activity = row.last_activity or row.experiment.last_update_time
        self.refresh_table()
        if message.counting:
            return
        self._read_over()
        for warning in self.store.warnings.messages:
            self.notify(one_line(warning), severity="warning", timeout=8)

    # -- live updates --------------------------------------------------------------------------
    def live_data(self) -> Shown:
        return Shown(experiments=True)

    def store_changed(self, changes: StoreChanges) -> None:
        """Re-read the list when experiments or runs change (at most every RELOAD_SECONDS)."""
        names = {r.experiment.experiment_id: r.experiment.name for r in self.rows}
        for experiment_id in changes.deleted_experiments:
            name = names.get(experiment_id, experiment_id)
            self.notify(f"Experiment {name} was deleted", title="Experiments", timeout=6)
        if (
            changes.experiments
            or changes.deleted_experiments
            or changes.runs
            or changes.deleted_runs
        ) and self._reload_timer is None:
            # While a reading is under way, it counts as just done.
            since = 0.0 if self._loading else time.monotonic() - self._loaded_at
            wait = RELOAD_SECONDS - since
            if wait > 0:
                self._reload_timer = self.set_timer(wait, self._reload)
            else:
                self._reload()

    def _reload(self) -> None:
        self._reload_timer = None
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.load()

    def _read_over(self) -> None:
        self._loading = False
        self._loaded_at = time.monotonic()
        if self._again and self._reload_timer is None:
            self._again = False
            self._reload_timer = self.set_timer(RELOAD_SECONDS, self._reload)

    # -- the table -----------------------------------------------------------------------------
    def visible_rows(self) -> list[ExperimentRow]:
        needle = self.quick_filter.lower()
        rows = [
            r
            for r in self.rows
            if (self.show_deleted or r.experiment.lifecycle_stage != DELETED)
            and (
                not needle
                or needle in r.experiment.name.lower()
                or needle == r.experiment.experiment_id
            )
        ]
        sort_value = next(f for k, _, f in COLUMNS if k == self.sort_key)
        rows.sort(key=sort_value, reverse=self.sort_reverse)
        return rows

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        # Stay on the same experiment, unless the cursor sits at the top: then stay at the top.
        keep = self.current_experiment_id() if table.cursor_row > 0 else None
        table.clear()
        self.sort_labels(table)
        for row in self.visible_rows():
            exp = row.experiment
            deleted = exp.lifecycle_stage == DELETED
            style = "dim strike" if deleted else ""
            table.add_row(
                literal(exp.name, style=style),
                Text("…" if row.runs is None else str(row.runs), justify="right"),
                Text(format_time(row.last_activity)),
                Text(exp.lifecycle_stage, style="red" if deleted else "green"),
                Text(exp.experiment_id, style="dim"),
                Text(MARK if exp.experiment_id in self.marked else "", style="bold"),
                key=exp.experiment_id,
            )
        if keep is not None and keep in table.rows:
            table.move_cursor(row=table.get_row_index(keep))
        hidden = sum(1 for r in self.rows if r.experiment.lifecycle_stage == DELETED)
        status = f"{table.row_count} experiments"
        if hidden and not self.show_deleted:
            status += f" · {hidden} deleted hidden (d)"
        if self._counting:
            n = len(self._counting)
            status += f" · run counts of {n} experiment{'' if n == 1 else 's'} to come (…)"
        self.query_one(Breadcrumbs).status = status

    def current_experiment_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    # -- actions -------------------------------------------------------------------------------
    @in_key_order
    def action_open(self) -> None:
        if self.focused is self.query_one("#experiments-filter"):
            self.query_one(DataTable).focus()
            return
        ids = self.chosen_ids()
        if ids:
            self.app.open_runs(ids)

    def chosen_ids(self) -> list[str]:
        """The marked experiments shown, else the one under the cursor (if any)."""
        ids = [
            r.experiment.experiment_id
            for r in self.visible_rows()
            if r.experiment.experiment_id in self.marked
        ]
        current = self.current_experiment_id()
        if not ids and current is not None:
            ids = [current]
        return ids

    def action_mark(self) -> None:
        current = self.current_experiment_id()
        if current is None:
            return
        self.marked ^= {current}
        table = self.query_one(DataTable)
        table.update_cell(
            current, "mark", Text(MARK if current in self.marked else "", style="bold")
        )
        table.action_cursor_down()

    def action_clear(self) -> None:
        box = self.query_one("#experiments-filter", Input)
        box.value = ""
        box.display = False
        self.query_one(DataTable).focus()

    def sort_columns(self) -> list[tuple[str, str]]:
        return [(key, label) for key, label, _ in COLUMNS]

    def descending_first(self, key: str) -> bool:
        return key in ("runs", "last")

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    def action_toggle_deleted(self) -> None:
        self.show_deleted = not self.show_deleted
        self.notify(
            "Showing deleted experiments" if self.show_deleted else "Hiding deleted experiments",
            timeout=2,
        )
        self.refresh_table()

    def action_registry(self) -> None:
        self.app.open_registry()

    def action_prompts(self) -> None:
        self.app.open_prompts()

    def action_logged_models(self) -> None:
        ids = self.chosen_ids()
        if ids:
            self.app.open_logged_models(ids)
