"""Drawing a table's lines as Textual's DataTable draws them, for a Line API widget.

A row cursor, pinned columns drawn over the scrolled ones, zebra stripes: the same padding, the
same layering of styles (row style, the cell's own style, the cursor's colour on top) and the
same cell boundaries, so a table drawn here looks like every DataTable of the app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget

#: Blank cells each side of a cell's text.
CELL_PADDING = 1
#: The header's row number in the cells' mouse meta (rows count from 0).
HEADER_ROW = -1
#: Drawn for a cell that holds nothing.
EMPTY = Text(no_wrap=True, end="")


class ColumnSpan(NamedTuple):
    """Where a column lies in the table before any scrolling (x and width include padding)."""

    key: str
    x: int
    width: int


@dataclass(frozen=True, slots=True)
class Look:
    """The styles lines are drawn with, read from a widget's component classes.

    The widget declares `<prefix>--cursor`, `--hover`, `--fixed`, `--fixed-cursor`, `--header`,
    `--header-cursor`, `--header-hover`, `--odd-row` and `--even-row`.
    """

    base: Style
    header: Style
    fixed: Style
    even: Style
    odd: Style
    cursor: Style
    fixed_cursor: Style
    header_cursor: Style
    hover: Style
    header_hover: Style

    @classmethod
    def of(cls, widget: Widget, prefix: str) -> Look:
        styles = widget.get_component_styles
        layer = widget.get_component_rich_style
        return cls(
            base=widget.rich_style,
            header=styles(f"{prefix}--header").rich_style,
            fixed=styles(f"{prefix}--fixed").rich_style + Style.from_meta({"fixed": True}),
            even=styles(f"{prefix}--even-row").rich_style,
            odd=styles(f"{prefix}--odd-row").rich_style,
            cursor=layer(f"{prefix}--cursor"),
            fixed_cursor=layer(f"{prefix}--fixed-cursor"),
            header_cursor=layer(f"{prefix}--header-cursor"),
            hover=layer(f"{prefix}--hover"),
            header_hover=layer(f"{prefix}--header-hover"),
        )

    def layer(self, *, header: bool, fixed: bool, cursor: bool, hover: bool) -> Style:
        """The hover and cursor styles laid over a cell, in DataTable's order."""
        style = Style()
        if hover:
            style += self.hover
            if header:
                style += self.header_hover
        if cursor:
            style += self.cursor
            if header:
                style += self.header_cursor
            elif fixed:
                style += self.fixed_cursor
        return style


@dataclass(slots=True)
class DrawnRow:
    """A row drawn in full: its pinned cells, the others, and the style of the blank right of the
    last column (the row's colours carry on to the edge)."""

    fixed: Strip
    scrolled: list[Segment]
    scrolled_width: int
    blank: Style


class _Layered:
    """A renderable drawn over one style and under another."""

    def __init__(self, renderable: RenderableType, under: Style, over: Style) -> None:
        self.renderable = renderable
        self.under = under
        self.over = over

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        segments = console.render(self.renderable, options)
        return Segment.apply_style(segments, style=self.under, post_style=self.over)


def draw_row(
    console: Console,
    options: ConsoleOptions,
    cells: Sequence[RenderableType | None],
    widths: Sequence[int],
    *,
    index: int,
    look: Look,
    fixed_columns: int,
    cursor: bool = False,
    hover: bool = False,
) -> DrawnRow:
    """Row `index` (HEADER_ROW for the header) drawn cell by cell, `widths` with padding.

    Each cell's segments carry {"row", "column"} meta: the mouse events say which cell they hit.
    """
    header = index == HEADER_ROW
    if header:
        row_style = fixed_style = look.header
    else:
        row_style = look.odd if index % 2 else look.even
        fixed_style = look.fixed
    fixed: list[Segment] = []
    scrolled: list[Segment] = []
    for column, (cell, width) in enumerate(zip(cells, widths, strict=True)):
        pinned = column < fixed_columns
        under = (fixed_style if pinned else row_style) + cell_meta(index, column)
        over = look.layer(header=header, fixed=pinned, cursor=cursor, hover=hover)
        # The cursor's foreground wins over the cell's own colour; its background does not.
        layered = _Layered(
            Padding(EMPTY if cell is None else cell, (0, CELL_PADDING)),
            under + over,
            Style.from_color(over.color),
        )
        cell_options = options.update_dimensions(width, 1).update(no_wrap=True)
        (fixed if pinned else scrolled).extend(console.render_lines(layered, cell_options)[0])
    blank = row_style + look.layer(header=header, fixed=False, cursor=cursor, hover=hover)
    blank += Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
    return DrawnRow(Strip(fixed), scrolled, sum(widths[fixed_columns:]), blank)


def cell_meta(row: int, column: int) -> Style:
    """Which cell a mouse event is over (read back from `event.style.meta`)."""
    return Style.from_meta({"row": row, "column": column})


def line_of(drawn: DrawnRow, *, scroll_x: int, width: int, base: Style) -> Strip:
    """A drawn row as a line `width` wide: the pinned cells, then the others scrolled by
    `scroll_x`."""
    fixed_width = drawn.fixed.cell_length
    blank = Segment(" " * max(0, width - drawn.scrolled_width), drawn.blank)
    scrolled = Strip([*drawn.scrolled, blank]).crop(scroll_x, scroll_x + width - fixed_width)
    return Strip.join([drawn.fixed, scrolled]).adjust_cell_length(width, base).simplify()


def cut_marks(
    spans: Sequence[ColumnSpan], fixed_columns: int, scroll_x: int, width: int, marks: str
) -> list[tuple[int, str]]:
    """(x, mark) where the view's edges cut into a scrolled column's text: `marks[0]` just right
    of the pinned columns, `marks[1]` on the last cell. An edge that falls between columns, or in
    a column's padding, cuts nothing."""
    fixed = sum(span.width for span in spans[:fixed_columns])
    left = scroll_x + fixed  # table x shown just right of the pinned columns
    right = scroll_x + width  # table x just past the right edge
    pad = CELL_PADDING
    found = []
    for span in spans[fixed_columns:]:
        start, end = span.x, span.x + span.width
        # The text spans start + pad .. end - pad: an edge strictly inside it cuts it.
        if start + pad < left < end - pad:
            found.append((fixed, marks[0]))
        if start + pad < right < end - pad:
            found.append((width - 1, marks[1]))
    return found


def put_mark(strip: Strip, x: int, mark: str) -> Strip:
    """`strip` with the cell at `x` replaced by `mark`, in that cell's style."""
    if not 0 <= x < strip.cell_length:
        return strip
    style = next((segment.style for segment in strip.crop(x, x + 1)), None)
    return Strip.join(
        [strip.crop(0, x), Strip([Segment(mark, style)], 1), strip.crop(x + 1, strip.cell_length)]
    )
