"""The runs table: one row per run, keyed by run id, fast enough for ten thousand runs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import JustifyMethod
from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

from mltui.store.entities import DELETED, Run
from mltui.tui import clock
from mltui.tui.present.runs_view import (
    RunRow,
    column_label,
    run_duration,
    run_user,
    source_name,
)
from mltui.tui.text import format_duration, format_time_short, format_value, literal, one_line

MARK = "●"
MARK_COLUMN = "mark"

#: Status -> (symbol, style). RUNNING is the only one that changes while you watch.
STATUS_LOOK = {
    "FINISHED": ("✓", "green"),
    "FAILED": ("✗", "red"),
    "RUNNING": ("●", "bold yellow"),
    "KILLED": ("■", "magenta"),
    "SCHEDULED": ("◌", "cyan"),
}

#: Widest a column gets before its cells are cut with an ellipsis.
MAX_WIDTH = {"name": 36, "source": 24, "user": 16}
MAX_DATA_WIDTH = 24

#: Drawn over the first or last visible cell of a column cut by the edge of the view, so that
#: `metrics.log_loss` 0.230169 cut under the pinned name is not read as `g_loss 230169`.
CUT_LEFT = "‹"
CUT_RIGHT = "›"

DELETED_STYLE = "dim strike"
CONTEXT_STYLE = "dim"


class Cell:
    """A cell kept as a plain string and made into literal Text only when it is on screen.

    Building ten thousand rows of Rich Text up front (and letting DataTable measure each) takes
    seconds; these cost a string each, and DataTable renders only the rows in view.
    """

    __slots__ = ("justify", "style", "text", "width")

    def __init__(self, text: str, style: str = "", justify: JustifyMethod = "left") -> None:
        self.text = text
        self.style = style
        self.justify = justify
        self.width = cell_len(text)

    def __rich__(self) -> Text:
        text = literal(self.text, self.style)
        text.no_wrap = True
        text.overflow = "ellipsis"
        text.justify = self.justify
        text.end = ""
        return text

    def __str__(self) -> str:
        return self.text


def status_cell(status: str, style: str = "") -> Cell:
    symbol, colour = STATUS_LOOK.get(status, ("?", ""))
    return Cell(f"{symbol} {status}", f"{colour} {style}".strip())


def duration_cell(run: Run, style: str = "") -> Cell:
    text = format_duration(run_duration(run, clock.now_ms()))
    return Cell(text, style, justify="right")


def data_cell(run: Run, column: str, style: str = "") -> Cell | None:
    """The cell of a `params.`, `metrics.` or `tags.` column; None where the run has no value."""
    kind, _, key = column.partition(".")
    if kind == "metrics":
        metric = run.metrics.get(key)
        if metric is None:
            return None
        return Cell(format_value(metric.value), style, justify="right")
    values = run.params if kind == "params" else run.tags
    value = values.get(key)
    if value is None:
        return None
    return Cell(one_line(value, MAX_DATA_WIDTH * 4), style)


def attribute_cell(run: Run, column: str, style: str = "") -> Cell | None:
    if column == "status":
        return status_cell(run.status, style)
    if column == "start":
        return Cell(format_time_short(run.start_time), style)
    if column == "duration":
        return duration_cell(run, style)
    if column == "user":
        return Cell(one_line(run_user(run), 100), style)
    if column == "source":
        return Cell(one_line(source_name(run), 200), style)
    return data_cell(run, column, style)


@dataclass(slots=True)
class _TableRow:
    """A run's DataTable row as last made, and what it was made from."""

    run: Run
    signature: tuple[object, ...]
    key: RowKey
    #: DataTable's own row dict (column key -> cell); DataTable updates it in place.
    cells: dict[ColumnKey, Cell | None]
    #: Plain width of each cell, in column order (the mark first).
    widths: list[int]


MARK_CELL = Cell(MARK, "bold cyan")


def _mark_cell(strip: Strip, x: int, mark: str) -> Strip:
    """`strip` with the cell at `x` replaced by `mark`, in that cell's style."""
    if not 0 <= x < strip.cell_length:
        return strip
    style = next((segment.style for segment in strip.crop(x, x + 1)), None)
    return Strip.join(
        [strip.crop(0, x), Strip([Segment(mark, style)], 1), strip.crop(x + 1, strip.cell_length)]
    )


class RunsTable(DataTable[Cell | None]):  # None: an empty cell (the mark column unmarked)
    """Runs in rows keyed by run id; the screen decides which rows, in which order."""

    DEFAULT_CSS = """
    RunsTable {
        height: 1fr;
        /* The name stays put while the rest scrolls sideways; no block of colour needed. */
        & > .datatable--fixed {
            background: $surface;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id, cursor_type="row", zebra_stripes=True, fixed_columns=2, show_row_labels=False
        )
        self.column_keys: list[str] = []
        self.marked: set[str] = set()
        #: When True, left and right are left to the screen (collapse/expand) instead of scrolling.
        self.tree_keys = False
        self._shown: dict[str, RunRow] = {}
        #: Shown runs whose duration keeps growing (not `_running`: MessagePump's own flag).
        self._running_ids: list[str] = []
        #: Some shown run has children: names get room for the ▸/▾ markers.
        self._nested = False
        # Rows already made, by run id; reused by re-sorts and filters (see `_table_row`).
        self._rows_made: dict[str, _TableRow] = {}
        #: Bumped when the columns change, which makes every row anew.
        self._layout = 0
        self._column_key_objects: list[ColumnKey] = []

    # -- what is shown -----------------------------------------------------------------------
    def current_run_id(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def shown(self, run_id: str) -> RunRow | None:
        return self._shown.get(run_id)

    def shown_run_ids(self) -> list[str]:
        return list(self._shown)

    def show(
        self,
        rows: Sequence[RunRow],
        columns: Sequence[str],
        *,
        sort_column: str | None = None,
        descending: bool = False,
        keep: str | None = None,
        keep_index: int | None = None,
    ) -> None:
        """Replace every row; the cursor stays on `keep` if it is still shown."""
        columns = [c for c in columns if c != MARK_COLUMN]
        if columns != self.column_keys:
            self.clear(columns=True)
            self.column_keys = list(columns)
            self.add_column(Text(" "), key=MARK_COLUMN, width=1)
            for column in columns:
                self.add_column(Text(""), key=column)
            self._column_key_objects = [column.key for column in self.ordered_columns]
            self._layout += 1
        else:
            self.clear()
        for column in columns:
            arrow = ""
            if column == sort_column:
                arrow = " ▼" if descending else " ▲"
            self.columns[ColumnKey(column)].label = literal(column_label(column) + arrow, "bold")

        self._nested = any(row.expanded is not None or row.depth for row in rows)
        table_rows = [self._table_row(row) for row in rows]
        self._shown = {row.run.run_id: row for row in rows}
        self._running_ids = [row.run.run_id for row in rows if row.run.is_running]
        # Widths first: replacing the rows sizes the scrollable area from them.
        self._fit_columns(table_rows)
        self._replace_rows(table_rows)

        if keep is not None and keep in self._shown:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        elif keep_index is not None and self.row_count:
            self.move_cursor(row=min(keep_index, self.row_count - 1), animate=False)

    def reveal_column(self, key: str) -> None:
        """Scroll sideways until a column is in view (the pinned columns stay where they are)."""
        if key not in self.columns:
            return
        widths = [(c.key.value, c.get_render_width(self)) for c in self.ordered_columns]
        fixed = sum(width for _, width in widths[: self.fixed_columns])
        x = 0
        for column_key, width in widths:
            if column_key == key:
                break
            x += width
        else:
            return
        if x < fixed:
            return
        view = self.scrollable_content_region.width
        width = dict(widths)[key]
        if x - fixed < self.scroll_x or x + width > self.scroll_x + view:
            # Bring it just right of the pinned name: beside the runs it orders.
            self.scroll_to(x=x - fixed, animate=False)

    def set_marked(self, run_id: str, marked: bool) -> None:
        if marked:
            self.marked.add(run_id)
        else:
            self.marked.discard(run_id)
        if run_id in self._shown:
            self.update_cell(run_id, MARK_COLUMN, self._mark_cell(run_id), update_width=False)

    def tick(self) -> None:
        """Redraw the duration of every running run shown (the clock moved on)."""
        if "duration" not in self.column_keys:
            return
        column = self.columns[ColumnKey("duration")]
        for run_id in self._running_ids:
            row = self._shown[run_id]
            cell = duration_cell(row.run, self._row_style(row))
            if cell.width > column.content_width:
                column.content_width = cell.width
                self._require_update_dimensions = True
            self.update_cell(run_id, "duration", cell, update_width=False)

    def render_line(self, y: int) -> Strip:
        """A line as DataTable draws it, with the cut edges of columns marked (`CUT_LEFT`)."""
        strip = super().render_line(y)
        header = self.header_height if self.show_header else 0
        if y >= header and y - header + self.scroll_offset.y >= self.row_count:
            return strip  # below the last row
        for x, mark in self._cut_marks():
            strip = _mark_cell(strip, x, mark)
        return strip

    def _cut_marks(self) -> list[tuple[int, str]]:
        """(screen x, mark) where the view's edges cut into a scrolled column's text.

        An edge that falls between columns, or in a column's padding, cuts nothing.
        """
        widths = [column.get_render_width(self) for column in self.ordered_columns]
        fixed = sum(widths[: self.fixed_columns])
        view = self.size.width
        left = self.scroll_offset.x + fixed  # table x shown just right of the pinned columns
        right = self.scroll_offset.x + view  # table x just past the right edge
        pad = self.cell_padding
        marks = []
        start = 0
        for index, width in enumerate(widths):
            end = start + width
            # The text spans start + pad .. end - pad: an edge strictly inside it cuts it.
            if index >= self.fixed_columns:
                if start + pad < left < end - pad:
                    marks.append((fixed, CUT_LEFT))
                if start + pad < right < end - pad:
                    marks.append((view - 1, CUT_RIGHT))
            start = end
        return marks

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Enter is left to the screen's "open run" binding (shown in the footer, remappable);
        # in a tree, left and right go to the screen too (collapse and expand).
        if action == "select_cursor":
            return False
        if action in ("cursor_left", "cursor_right") and self.tree_keys:
            return False
        return super().check_action(action, parameters)

    # -- cells -------------------------------------------------------------------------------
    @staticmethod
    def _row_style(row: RunRow) -> str:
        if row.run.lifecycle_stage == DELETED:
            return DELETED_STYLE
        return CONTEXT_STYLE if row.context else ""

    def _mark_cell(self, run_id: str) -> Cell | None:
        return MARK_CELL if run_id in self.marked else None

    def _name_cell(self, row: RunRow, style: str) -> Cell:
        name = one_line(row.run.run_name or row.run.run_id, 200)
        if self._nested:
            marker = {True: "▾ ", False: "▸ ", None: "  "}[row.expanded]
            name = "  " * row.depth + marker + name
        return Cell(name, style)

    def _table_row(self, row: RunRow) -> _TableRow:
        """The DataTable row of a run, made once and reused while nothing it shows changes."""
        run = row.run
        style = self._row_style(row)
        signature = (self._layout, style, row.depth, row.expanded, self._nested)
        cached = self._rows_made.get(run.run_id)
        if cached is not None and cached.run is run and cached.signature == signature:
            if run.is_running and "duration" in self.column_keys:
                cell = duration_cell(run, style)
                cached.cells[ColumnKey("duration")] = cell
                cached.widths[self.column_keys.index("duration") + 1] = cell.width
            return cached
        cells: list[Cell | None] = [None]
        for column in self.column_keys:
            if column == "name":
                cells.append(self._name_cell(row, style))
            else:
                cells.append(attribute_cell(run, column, style))
        made = _TableRow(
            run=run,
            signature=signature,
            key=RowKey(run.run_id),
            cells=dict(zip(self._column_key_objects, cells, strict=True)),
            widths=[0 if cell is None else cell.width for cell in cells],
        )
        self._rows_made[run.run_id] = made
        return made

    # -- DataTable, in bulk ------------------------------------------------------------------
    def _replace_rows(self, rows: list[_TableRow]) -> None:
        """Add every row at once: DataTable.add_row costs ~60 µs a row (it re-sorts columns)."""
        locations = self._row_locations
        data = self._data
        meta = self.rows
        mark_key = self._column_key_objects[0]
        marked = self.marked
        for index, made in enumerate(rows):
            row_key = made.key
            locations[row_key] = index
            made.cells[mark_key] = MARK_CELL if row_key.value in marked else None
            data[row_key] = made.cells
            meta[row_key] = Row(row_key, 1)
        self._require_update_dimensions = True
        self._update_count += 1
        self._clear_caches()
        if rows and self.show_cursor:
            self._highlight_cursor()
        self.check_idle()
        self.refresh()

    def _fit_columns(self, rows: list[_TableRow]) -> None:
        """Size each column to its widest cell (up to a cap), from the cells' plain widths."""
        labels = [cell_len(column.label.plain) for column in self.ordered_columns]
        widest = list(map(max, zip(labels, *(made.widths for made in rows), strict=True)))
        for column, width, label in zip(self.ordered_columns, widest, labels, strict=True):
            key = column.key.value or ""
            if key == MARK_COLUMN:
                continue
            cap = MAX_WIDTH.get(key, MAX_DATA_WIDTH)
            column.auto_width = True
            column.content_width = min(width, max(cap, label))

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Column widths were set by `_fit_columns`; every row is one line high. DataTable's own
        # version measures every new cell through Rich, seconds for ten thousand runs.
        width = sum(column.get_render_width(self) for column in self.columns.values())
        # The pinned columns are drawn over the scrolled ones: leave room to scroll the last
        # columns out from under them.
        width += sum(c.get_render_width(self) for c in self.ordered_columns[: self.fixed_columns])
        header = self.header_height if self.show_header else 0
        self.virtual_size = Size(width, self._total_row_height + header)
