"""Marked runs side by side: params, latest metrics and tags, differences and best values shown."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from mltui.store.entities import Run
from mltui.tui.present.compare import (
    CompareRow,
    best_indexes,
    compare_rows,
    flip_direction,
    lower_is_better,
)
from mltui.tui.screens.base import MltuiScreen
from mltui.tui.text import format_value, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb

SECTIONS = (("params", "Params"), ("metrics", "Metrics"), ("tags", "Tags"))
KEY_WIDTH = 34
VALUE_WIDTH = 24
MIN_VALUE_WIDTH = 8
DIFFERS = "≠"
BEST = "★"
DIFF_STYLE = "yellow"
BEST_STYLE = "bold green"
SAME_STYLE = "dim"
MISSING = "—"


def _value_text(value: str | float | None, style: str) -> Text:
    if value is None:
        return Text(MISSING, style="dim", no_wrap=True, overflow="ellipsis")
    if isinstance(value, float):
        odd = math.isnan(value) or math.isinf(value)
        text = Text(format_value(value), style=style or ("yellow" if odd else ""))
        text.justify = "right"
    else:
        text = literal(one_line(value, 400), style)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


class CompareScreen(MltuiScreen[None]):
    """Two or more runs side by side, one column each."""

    TITLE = "Compare runs"
    DEFAULT_CSS = """
    CompareScreen #compare-table {
        height: 1fr;
    }
    CompareScreen #compare-table > .datatable--fixed {
        background: $surface;
    }
    CompareScreen #compare-status {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding("f", "only_differences", "Only differences", id="compare.only_differences"),
        Binding("t", "toggle_tags", "Tags", id="compare.tags"),
        Binding("b", "flip_direction", "Lower/higher better", id="compare.direction"),
        Binding("g", "chart", "Chart metric", id="compare.chart"),
        Binding("e", "export", "Export CSV", id="compare.export"),
    ]

    class Loaded(Message):
        """The runs were read (`missing`: ids with no run in the store)."""

        def __init__(self, runs: list[Run], missing: list[str], experiments: list[str]) -> None:
            super().__init__()
            self.runs = runs
            self.missing = missing
            self.experiments = experiments

    def __init__(self, run_ids: Sequence[str]) -> None:
        super().__init__()
        self.run_ids = list(dict.fromkeys(run_ids))
        self.runs: list[Run] = []
        self.only_differences = False
        self.show_tags = False
        self.all_rows: list[CompareRow] = []
        #: The rows shown (all rows, or only those that differ).
        self.rows: list[CompareRow] = []
        self.loaded = False
        self._shown_widths: list[int] = []

    def compose(self) -> ComposeResult:
        store = self.store
        yield Breadcrumbs(
            store_crumb(store.location, self.app.demo), f"compare {len(self.run_ids)} runs"
        )
        table: DataTable[Text] = DataTable(
            id="compare-table", cursor_type="row", zebra_stripes=False, fixed_columns=1
        )
        yield table
        yield Static(Text("Reading runs…", style="dim"), id="compare-status")
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self.load()

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#compare-table", DataTable)

    # -- reading -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def load(self) -> None:
        store = self.store
        runs: list[Run] = []
        missing: list[str] = []
        for run_id in self.run_ids:
            run = store.run(run_id)
            if run is None:
                missing.append(run_id)
            else:
                runs.append(run)
        names = store.experiment_names(dict.fromkeys(run.experiment_id for run in runs))
        self.post_message(self.Loaded(runs, missing, names))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "compare":
            self.notify(one_line(event.worker.error), title="Compare", severity="error")
            self.query_one("#compare-status", Static).update(
                Text("The runs could not be read.", style="red")
            )

    def on_compare_screen_loaded(self, message: Loaded) -> None:
        self.runs = message.runs
        self.loaded = True
        store = self.store
        self.query_one(Breadcrumbs).show(
            store_crumb(store.location, self.app.demo),
            ", ".join(message.experiments),
            f"compare {len(self.runs)} runs",
        )
        if message.missing:
            self.notify(
                "No such run: " + ", ".join(message.missing), title="Compare", severity="warning"
            )
        self.rebuild()

    # -- the table ---------------------------------------------------------------------------
    def shown_rows(self) -> list[CompareRow]:
        """The rows on screen now, given the toggles (section headings aside)."""
        rows = self.all_rows
        if self.only_differences:
            rows = [row for row in rows if row.differs]
        return rows

    def current_row(self) -> CompareRow | None:
        table = self.table
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        return next((row for row in self.rows if row.row_key == key), None)

    def rebuild(self) -> None:
        """Fill the table again; the cursor stays on the same key when it is still shown."""
        table = self.table
        current = None
        if table.row_count:
            current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        index = table.cursor_row
        self.all_rows = compare_rows(self.runs, include_tags=self.show_tags)
        self.rows = self.shown_rows()
        table.clear(columns=True)
        widths = self._shown_widths = self._widths()
        table.add_column(Text("Key", style="bold"), key="key", width=widths[0])
        for run, width in zip(self.runs, widths[1:], strict=True):
            label = literal(one_line(run.run_name or run.run_id, 200), "bold")
            label.no_wrap, label.overflow = True, "ellipsis"
            table.add_column(label, key=run.run_id, width=width)
        for section, title in SECTIONS:
            rows = [row for row in self.rows if row.section == section]
            if not rows:
                continue
            heading = Text(f"{title} ({len(rows)})", style="bold underline")
            table.add_row(heading, *([Text("")] * len(self.runs)), key=f"#{section}")
            for row in rows:
                table.add_row(*self._cells(row), key=row.row_key)
        keys = [key.value for key in table.rows]
        if current in keys:
            table.move_cursor(row=keys.index(current), animate=False)
        elif keys:
            target = min(index, len(keys) - 1)
            if index == 0 and len(keys) > 1:
                target = 1  # past the first heading, onto a key
            table.move_cursor(row=target, animate=False)
        self.update_status()

    def _widths(self) -> list[int]:
        """Key column, then run columns: as wide as their content, narrowed to fit the screen."""
        key_width = max([12, *(len(one_line(r.key, 200)) + 4 for r in self.rows)])
        key_width = min(KEY_WIDTH, key_width)
        # Each DataTable column has one cell of padding either side.
        room = (self.size.width or 120) - key_width - 2 - 1
        fit = room // max(1, len(self.runs)) - 2
        cap = max(MIN_VALUE_WIDTH + 4, min(VALUE_WIDTH, fit))
        widths = [key_width]
        for i, run in enumerate(self.runs):
            cells = [len(one_line(run.run_name or run.run_id, 200))]
            for row in self.rows:
                value = row.values[i]
                if isinstance(value, float):
                    cells.append(len(format_value(value)) + 2)
                elif value is not None:
                    cells.append(len(one_line(value, 400)))
            widths.append(max(MIN_VALUE_WIDTH, min(cap, max(cells))))
        return widths

    def on_resize(self) -> None:
        if self.loaded and self._widths() != self._shown_widths:
            self.rebuild()

    def _cells(self, row: CompareRow) -> list[Text]:
        differs = row.differs
        key = Text(no_wrap=True, overflow="ellipsis")
        key.append(f"{DIFFERS} " if differs else "  ", style=f"bold {DIFF_STYLE}")
        key.append_text(literal(one_line(row.key, 200), "" if differs else SAME_STYLE))
        best: set[int] = set()
        if row.section == "metrics":
            lower = lower_is_better(self.app.metric_directions, row.key)
            key.append(" ↓" if lower else " ↑", style="dim")
            numbers = [v if isinstance(v, float) else None for v in row.values]
            best = best_indexes(numbers, lower)
        cells = [key]
        for i, value in enumerate(row.values):
            if i in best:
                text = _value_text(value, BEST_STYLE)
                text = Text(f"{BEST} ", style=BEST_STYLE, justify="right") + text
                text.justify, text.no_wrap, text.overflow = "right", True, "ellipsis"
            else:
                style = "" if row.section == "metrics" else DIFF_STYLE
                text = _value_text(value, style if differs else SAME_STYLE)
            cells.append(text)
        return cells

    def update_status(self) -> None:
        text = Text()
        if not self.loaded:
            text.append("Reading runs…")
        else:
            differing = sum(1 for row in self.all_rows if row.differs)
            total = len(self.all_rows)
            text.append(f"{len(self.runs)} runs · {total} keys, {differing} differ")
            text.append(" · only differences" if self.only_differences else "")
            text.append(" · tags shown" if self.show_tags else " · tags hidden")
            row = self.current_row()
            if row is not None and row.section == "metrics":
                lower = lower_is_better(self.app.metric_directions, row.key)
                text.append(" · ")
                text.append_text(literal(one_line(row.key, 40), "bold"))
                text.append(": lower is better" if lower else ": higher is better")
        self.query_one("#compare-status", Static).update(text)

    @on(DataTable.RowHighlighted, "#compare-table")
    def _highlighted(self) -> None:
        self.update_status()

    # -- actions -----------------------------------------------------------------------------
    def action_only_differences(self) -> None:
        self.only_differences = not self.only_differences
        self.rebuild()

    def action_toggle_tags(self) -> None:
        self.show_tags = not self.show_tags
        self.rebuild()

    def _metric_under_cursor(self, doing: str) -> CompareRow | None:
        row = self.current_row()
        if row is None or row.section != "metrics":
            self.notify(f"Move to a metric row to {doing}.", title="Compare", timeout=3)
            return None
        return row

    def action_flip_direction(self) -> None:
        row = self._metric_under_cursor("choose which way is better")
        if row is None:
            return
        lower = flip_direction(self.app.metric_directions, row.key)
        for column, cell in zip(self.table.columns, self._cells(row), strict=True):
            self.table.update_cell(row.row_key, column, cell)
        self.update_status()
        better = "lower" if lower else "higher"
        self.notify(f"{row.key}: {better} is better", title="Compare", timeout=3)

    def action_chart(self) -> None:
        row = self._metric_under_cursor("chart it")
        if row is None:
            return
        ids = [run.run_id for run in self.runs]
        self.app.open_chart(ids, [row.key], runs=self.runs)

    def action_export(self) -> None:
        if not self.runs:
            return
        from mltui.tui.csv_export import export_in_background, write_compare_csv

        runs = list(self.runs)
        rows = [(row.section, row.key) for row in self.rows]
        export_in_background(
            self,
            lambda: write_compare_csv(runs, rows, label="compare"),
            f"{len(rows)} rows of {len(runs)} runs",
        )
