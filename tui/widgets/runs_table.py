"""The runs table: one row per run, keyed by run id, fast enough for ten thousand runs.

A Line API widget (a ScrollView that draws each line in `render_line`), as Textual's docs advise
for large data: showing 10,000 runs costs a list and a dict, and only the lines in view are drawn.
It draws what a DataTable with a row cursor, two pinned columns and zebra stripes draws (the same
padding, layered cell styles and component classes), so the runs screen looks as it always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.console import JustifyMethod, RenderableType
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

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
from mltui.tui.widgets.table_lines import (
    CELL_PADDING,
    HEADER_ROW,
    ColumnSpan,
    DrawnRow,
    Look,
    cut_marks,
    draw_row,
    line_of,
    put_mark,
)

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

#: The mark and the name stay put while the other columns scroll sideways.
FIXED_COLUMNS = 2
HEADER_HEIGHT = 1


class Cell:
    """A cell kept as a plain string and made into literal Text only when it is on screen.

    Building ten thousand rows of Rich Text up front takes seconds; these cost a string each,
    and only the rows in view are ever drawn.
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


MARK_CELL = Cell(MARK, "bold cyan")


@dataclass(slots=True)
class _TableRow:
    """A run's row as last made, and what it was made from."""

    run: Run
    signature: tuple[object, ...]
    #: One cell per column key, in order (the mark is drawn from `RunsTable.marked`).
    cells: list[Cell | None]
    #: Plain width of each cell.
    widths: list[int]
    #: Bumped when a cell changes in place (a running run's duration): its drawing is redone.
    version: int = 0


class RunsTableMessage(Message):
    """A message from a runs table (which `@on(..., "#id")` selectors match)."""

    def __init__(self, table: RunsTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> RunsTable:
        return self.table


class RunsTableRowMessage(RunsTableMessage):
    """A message about a row: its place and its run."""

    def __init__(self, table: RunsTable, index: int, run_id: str) -> None:
        super().__init__(table)
        self.index = index
        self.run_id = run_id


class RunsTable(ScrollView, can_focus=True):
    """Runs in rows keyed by run id; the screen decides which rows, in which order."""

    ALLOW_SELECT = False

    # Enter is not bound: it is left to the screen's "open run" binding (shown in the footer,
    # remappable). In a tree, left and right go to the screen too (see `check_action`).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "runs-table--cursor",
        "runs-table--hover",
        "runs-table--fixed",
        "runs-table--fixed-cursor",
        "runs-table--header",
        "runs-table--header-cursor",
        "runs-table--header-hover",
        "runs-table--odd-row",
        "runs-table--even-row",
    }

    # DataTable's look, so that the runs screen looks like every other table of the app.
    DEFAULT_CSS = """
    RunsTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        max-height: 100%;

        &:focus {
            background-tint: $foreground 5%;
            & > .runs-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .runs-table--header {
                background-tint: $foreground 5%;
            }
            & > .runs-table--fixed-cursor {
                color: $block-cursor-foreground;
                background: $block-cursor-background;
            }
        }
        &:dark > .runs-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .runs-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .runs-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        /* The name stays put while the rest scrolls sideways; no block of colour needed. */
        & > .runs-table--fixed {
            background: $surface;
            color: $foreground;
        }
        & > .runs-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .runs-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .runs-table--fixed-cursor {
            background: $block-cursor-blurred-background;
            color: $foreground;
        }
        & > .runs-table--header-cursor {
            background: $accent-darken-1;
            color: $foreground;
        }
        & > .runs-table--header-hover {
            background: $accent 30%;
        }
        & > .runs-table--hover {
            background: $block-hover-background;
        }
    }
    """

    class RowHighlighted(RunsTableRowMessage):
        """The cursor moved to a row."""

    class RowSelected(RunsTableRowMessage):
        """A row was clicked while under the cursor (Enter is the screen's own binding)."""

    class HeaderSelected(RunsTableMessage):
        """A column's header was clicked; `column` is its key (`MARK_COLUMN` for the marks)."""

        def __init__(self, table: RunsTable, column: str) -> None:
            super().__init__(table)
            self.column = column

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.column_keys: list[str] = []
        self.marked: set[str] = set()
        #: When True, left and right are left to the screen (collapse/expand) instead of scrolling.
        self.tree_keys = False
        # Names below are chosen apart from Textual's own (a `_running` here once shadowed
        # MessagePump's flag; see test_the_table_keeps_textual_s_own_names).
        self._shown: dict[str, RunRow] = {}
        #: Shown runs whose duration keeps growing.
        self._running_ids: list[str] = []
        #: Some shown run has children: names get room for the ▸/▾ markers.
        self._nested = False
        # Rows already made, by run id; reused by re-sorts and filters (see `_table_row`).
        self._rows_made: dict[str, _TableRow] = {}
        #: Bumped when the columns change, which makes every row anew.
        self._columns_version = 0
        #: The rows shown, in order, and each run's place among them.
        self._table_rows: list[_TableRow] = []
        self._row_of: dict[str, int] = {}
        #: Header labels and drawn widths (padding included), the mark's column first.
        self._labels: list[Text] = [Text(" ")]
        self._widths: list[int] = [1 + 2 * CELL_PADDING]
        self._cursor_index = 0
        #: The row under the mouse (HEADER_ROW for the header); shown once the mouse moves.
        self._hover_index = 0
        self._hover_shown = False
        self._drawn_rows: LRUCache[tuple[object, ...], DrawnRow] = LRUCache(1000)
        self._style_version = 0
        self._look_made: tuple[object, Look] | None = None

    # -- what is shown -----------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._table_rows)

    @property
    def cursor_row(self) -> int:
        """The index of the row under the cursor (0 when there are no rows)."""
        return self._cursor_index

    def current_run_id(self) -> str | None:
        if not self._table_rows:
            return None
        return self._table_rows[self._cursor_index].run.run_id

    def get_row_index(self, run_id: str) -> int:
        """The index of a shown run's row (KeyError if it is not shown)."""
        return self._row_of[run_id]

    def get_cell(self, run_id: str, column: str) -> Cell | None:
        """What a shown run's row holds in a column; None for an empty cell."""
        if column == MARK_COLUMN:
            return MARK_CELL if run_id in self.marked else None
        return self._table_rows[self._row_of[run_id]].cells[self.column_keys.index(column)]

    def header_label(self, column: str) -> Text:
        """A column's header as drawn (with the sort arrow on the sorted column)."""
        return self._labels[self._column_index(column)]

    def column_spans(self) -> list[ColumnSpan]:
        """Every column in order, the mark's first, with where it lies before scrolling."""
        spans = []
        x = 0
        for key, width in zip([MARK_COLUMN, *self.column_keys], self._widths, strict=True):
            spans.append(ColumnSpan(key, x, width))
            x += width
        return spans

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
            self.column_keys = list(columns)
            self._columns_version += 1
        self._labels = [Text(" ")]
        for column in columns:
            arrow = ""
            if column == sort_column:
                arrow = " ▼" if descending else " ▲"
            self._labels.append(literal(column_label(column) + arrow, "bold"))

        self._nested = any(row.expanded is not None or row.depth for row in rows)
        table_rows = [self._table_row(row) for row in rows]
        self._shown = {row.run.run_id: row for row in rows}
        self._running_ids = [row.run.run_id for row in rows if row.run.is_running]
        self._table_rows = table_rows
        self._row_of = {made.run.run_id: index for index, made in enumerate(table_rows)}
        self._fit_columns(table_rows)
        self._drawn_rows.clear()
        resized = self._update_virtual_size()
        self.refresh()

        cursor = 0
        if keep is not None and keep in self._row_of:
            cursor = self._row_of[keep]
        elif keep_index is not None and table_rows:
            cursor = min(keep_index, len(table_rows) - 1)
        self._cursor_index = cursor
        if table_rows:
            self._post_highlighted()
        self._scroll_cursor_into_view()
        if resized:
            # Scrolling is bounded by the scrollbars, which are laid out on the next refresh.
            self.call_after_refresh(self._scroll_cursor_into_view)

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on a row (kept within the rows) and, if it moved, in view."""
        row = max(0, min(row, len(self._table_rows) - 1))
        moved = row != self._cursor_index
        old = self._cursor_index
        self._cursor_index = row
        if moved:
            self._refresh_row(old)
            self._refresh_row(row)
            self._post_highlighted()
        if scroll or moved:
            self._scroll_cursor_into_view(animate=animate)

    def reveal_column(self, key: str) -> None:
        """Scroll sideways until a column is in view (the pinned columns stay where they are)."""
        spans = self.column_spans()
        span = next((s for s in spans if s.key == key), None)
        if span is None:
            return
        fixed = sum(s.width for s in spans[:FIXED_COLUMNS])
        if span.x < fixed:
            return
        view = self.scrollable_content_region.width
        if span.x - fixed < self.scroll_x or span.x + span.width > self.scroll_x + view:
            # Bring it just right of the pinned name: beside the runs it orders.
            self.scroll_to(x=span.x - fixed, animate=False)

    def set_marked(self, run_id: str, marked: bool) -> None:
        if marked:
            self.marked.add(run_id)
        else:
            self.marked.discard(run_id)
        if run_id in self._row_of:
            self._refresh_row(self._row_of[run_id])

    def tick(self) -> None:
        """Redraw the duration of every running run shown (the clock moved on)."""
        if "duration" not in self.column_keys:
            return
        index = self.column_keys.index("duration")
        widened = False
        for run_id in self._running_ids:
            row = self._shown[run_id]
            made = self._table_rows[self._row_of[run_id]]
            cell = duration_cell(row.run, self._row_style(row))
            made.cells[index] = cell
            made.widths[index] = cell.width
            made.version += 1
            if cell.width + 2 * CELL_PADDING > self._widths[index + 1]:
                self._widths[index + 1] = cell.width + 2 * CELL_PADDING
                widened = True
            self._refresh_row(self._row_of[run_id])
        if widened:
            self._drawn_rows.clear()
            self._update_virtual_size()
            self.refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In a tree, left and right go to the screen (collapse and expand).
        if action in ("cursor_left", "cursor_right") and self.tree_keys:
            return False
        return super().check_action(action, parameters)

    # -- cells -------------------------------------------------------------------------------
    @staticmethod
    def _row_style(row: RunRow) -> str:
        if row.run.lifecycle_stage == DELETED:
            return DELETED_STYLE
        return CONTEXT_STYLE if row.context else ""

    def _name_cell(self, row: RunRow, style: str) -> Cell:
        name = one_line(row.run.run_name or row.run.run_id, 200)
        if self._nested:
            marker = {True: "▾ ", False: "▸ ", None: "  "}[row.expanded]
            name = "  " * row.depth + marker + name
        return Cell(name, style)

    def _table_row(self, row: RunRow) -> _TableRow:
        """The row of a run, made once and reused while nothing it shows changes."""
        run = row.run
        style = self._row_style(row)
        signature = (self._columns_version, style, row.depth, row.expanded, self._nested)
        cached = self._rows_made.get(run.run_id)
        if cached is not None and cached.run is run and cached.signature == signature:
            if run.is_running and "duration" in self.column_keys:
                index = self.column_keys.index("duration")
                cell = duration_cell(run, style)
                cached.cells[index] = cell
                cached.widths[index] = cell.width
            return cached
        cells: list[Cell | None] = []
        for column in self.column_keys:
            if column == "name":
                cells.append(self._name_cell(row, style))
            else:
                cells.append(attribute_cell(run, column, style))
        made = _TableRow(
            run=run,
            signature=signature,
            cells=cells,
            widths=[0 if cell is None else cell.width for cell in cells],
        )
        self._rows_made[run.run_id] = made
        return made

    def _fit_columns(self, rows: list[_TableRow]) -> None:
        """Size each column to its widest cell (up to a cap), from the cells' plain widths."""
        labels = [cell_len(label.plain) for label in self._labels[1:]]
        widest = list(map(max, zip(labels, *(made.widths for made in rows), strict=True)))
        self._widths = [self._widths[0]]
        for key, width, label in zip(self.column_keys, widest, labels, strict=True):
            cap = MAX_WIDTH.get(key, MAX_DATA_WIDTH)
            self._widths.append(min(width, max(cap, label)) + 2 * CELL_PADDING)

    def _column_index(self, column: str) -> int:
        """A column's place in drawing order (the mark's column is 0)."""
        return 0 if column == MARK_COLUMN else self.column_keys.index(column) + 1

    def _update_virtual_size(self) -> bool:
        """Size the scrollable area to the rows and columns; True if it changed."""
        # The pinned columns are drawn over the scrolled ones: leave room to scroll the last
        # columns out from under them.
        width = sum(self._widths) + sum(self._widths[:FIXED_COLUMNS])
        size = Size(width, len(self._table_rows) + HEADER_HEIGHT)
        if size == self.virtual_size:
            return False
        self.virtual_size = size
        return True

    # -- drawing -----------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_version += 1
        self._drawn_rows.clear()
        self.refresh()

    def _look(self) -> Look:
        """The styles of the moment (they change with focus and the theme)."""
        key = (self._style_version, self.get_pseudo_class_state())
        if self._look_made is None or self._look_made[0] != key:
            self._look_made = (key, Look.of(self, "runs-table"))
            self._drawn_rows.clear()
        return self._look_made[1]

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: the pinned columns, then the others as scrolled sideways."""
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        look = self._look()
        index = HEADER_ROW if y < HEADER_HEIGHT else y - HEADER_HEIGHT + scroll_y
        if index >= len(self._table_rows):
            return Strip.blank(width, look.base)  # below the last row
        strip = line_of(
            self._drawn_row(index, look), scroll_x=scroll_x, width=width, base=look.base
        )
        marks = cut_marks(self.column_spans(), FIXED_COLUMNS, scroll_x, width, CUT_LEFT + CUT_RIGHT)
        for x, mark in marks:
            strip = put_mark(strip, x, mark)
        return strip

    def _drawn_row(self, index: int, look: Look) -> DrawnRow:
        """A row (or the header, at HEADER_ROW) drawn cell by cell, kept until it changes."""
        header = index == HEADER_ROW
        cursor = not header and index == self._cursor_index
        hover = self._hover_shown and index == self._hover_index
        cells: Sequence[RenderableType | None]
        if header:
            key: tuple[object, ...] = (index, hover)
            cells = self._labels
        else:
            made = self._table_rows[index]
            marked = made.run.run_id in self.marked
            key = (index, hover, cursor, marked, made.run.run_id, made.version)
            cells = [MARK_CELL if marked else None, *made.cells]
        drawn = self._drawn_rows.get(key)
        if drawn is None:
            app = self.app
            drawn = draw_row(
                app.console,
                app.console_options,
                cells,
                self._widths,
                index=index,
                look=look,
                fixed_columns=FIXED_COLUMNS,
                cursor=cursor,
                hover=hover,
            )
            self._drawn_rows[key] = drawn
        return drawn

    def _refresh_row(self, index: int) -> None:
        if index == HEADER_ROW:
            self.refresh(Region(0, 0, self.size.width, HEADER_HEIGHT))  # it does not scroll
        elif 0 <= index < len(self._table_rows):
            self.refresh_line(index + HEADER_HEIGHT)

    # -- the cursor, the mouse, the keys -----------------------------------------------------
    def _post_highlighted(self) -> None:
        run_id = self._table_rows[self._cursor_index].run.run_id
        self.post_message(self.RowHighlighted(self, self._cursor_index, run_id))

    def _scroll_cursor_into_view(self, animate: bool = False) -> None:
        """Scroll up or down just enough to show the cursor's row below the header."""
        if not self._table_rows:
            return
        fixed = sum(self._widths[:FIXED_COLUMNS])
        width = max(self.size.width, sum(self._widths))
        # From the current x: the cursor never scrolls the table sideways.
        region = Region(
            int(self.scroll_x) + fixed, HEADER_HEIGHT + self._cursor_index, width - fixed, 1
        )
        spacing = Spacing(HEADER_HEIGHT, 0, 0, fixed)
        self.scroll_to_region(region, animate=animate, spacing=spacing, force=True)

    def _show_hover(self, shown: bool) -> None:
        """Show the row under the mouse, or stop (the keys hide it until the mouse moves)."""
        if shown != self._hover_shown:
            self._hover_shown = shown
            self._refresh_row(self._hover_index)

    def _hover_over(self, index: int) -> None:
        if index != self._hover_index:
            self._refresh_row(self._hover_index)
            self._hover_index = index
            self._refresh_row(index)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        meta = event.style.meta
        self._show_hover(bool(meta))
        if "row" in meta:
            self._hover_over(meta["row"])

    def on_leave(self, event: events.Leave) -> None:
        self._show_hover(False)

    def on_click(self, event: events.Click) -> None:
        self._show_hover(True)
        meta = event.style.meta
        if "row" not in meta or "column" not in meta:
            return
        index, column = meta["row"], meta["column"]
        if index == HEADER_ROW:
            # The cursor stays where it is.
            keys = [MARK_COLUMN, *self.column_keys]
            self.post_message(self.HeaderSelected(self, keys[column]))
            return
        if not 0 <= index < len(self._table_rows):
            return
        again = index == self._cursor_index
        self.move_cursor(row=index, scroll=False)
        if again:
            self.post_message(self.RowSelected(self, index, self._table_rows[index].run.run_id))
        self._scroll_cursor_into_view(animate=True)
        event.stop()

    def action_cursor_up(self) -> None:
        self._show_hover(False)
        self.move_cursor(row=self._cursor_index - 1, scroll=False)

    def action_cursor_down(self) -> None:
        self._show_hover(False)
        self.move_cursor(row=self._cursor_index + 1, scroll=False)

    def action_cursor_left(self) -> None:
        self._show_hover(False)
        self.action_scroll_left()

    def action_cursor_right(self) -> None:
        self._show_hover(False)
        self.action_scroll_right()

    def action_page_down(self) -> None:
        """A page down: the view by its height, the cursor by as many rows."""
        self._show_hover(False)
        height = self.scrollable_content_region.height - HEADER_HEIGHT
        self.scroll_relative(y=height, animate=False, force=True)
        self.move_cursor(row=self._cursor_index + height, scroll=False)

    def action_page_up(self) -> None:
        self._show_hover(False)
        height = self.scrollable_content_region.height - HEADER_HEIGHT
        self.scroll_relative(y=-height, animate=False)
        self.move_cursor(row=self._cursor_index - height, scroll=False)

    def action_page_left(self) -> None:
        self._show_hover(False)
        self.scroll_page_left()

    def action_page_right(self) -> None:
        self._show_hover(False)
        self.scroll_page_right()

    def action_scroll_top(self) -> None:
        self._show_hover(False)
        self.move_cursor(row=0, scroll=False)

    def action_scroll_bottom(self) -> None:
        self._show_hover(False)
        self.move_cursor(row=len(self._table_rows) - 1, scroll=False)

    def action_scroll_home(self) -> None:
        self._show_hover(False)
        self.scroll_x = 0

    def action_scroll_end(self) -> None:
        self._show_hover(False)
        self.scroll_x = self.max_scroll_x
