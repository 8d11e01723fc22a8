"""Evaluation results tables (`mlflow.evaluate`'s eval_results_table.json) as Rich tables: every
cell literal text on one line, long tables cut with a note of what is left out."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mltui.store.evaluations import EvalTable
from mltui.tui.text import format_value, literal, one_line

#: Rows shown of one table; the rest is counted (a whole table is in the artifact).
MAX_ROWS = 500
#: Characters of one cell shown (a model's answer can be pages long).
MAX_CELL = 120


def cell_text(value: object) -> Text:
    if isinstance(value, bool) or value is None:
        return Text(str(value), style="dim" if value is None else "")
    if isinstance(value, int | float):
        return Text(format_value(float(value)), justify="right")
    return literal(one_line(value, MAX_CELL))


def eval_table(table: EvalTable) -> RenderableType:
    heading = literal(table.path, style="bold")
    if table.error is not None:
        return Group(heading, literal(table.error, style="red"))
    count = len(table.rows)
    heading.append(f"  {count} row{'s' if count != 1 else ''}", style="dim")
    grid = Table(expand=False, show_edge=False, pad_edge=False, header_style="bold cyan")
    for column in table.columns:
        grid.add_column(literal(column), overflow="fold", max_width=MAX_CELL // 2)
    for row in table.rows[:MAX_ROWS]:
        grid.add_row(*(cell_text(v) for v in row))
    parts: list[RenderableType] = [heading, grid]
    if count > MAX_ROWS:
        parts.append(Text(f"… {count - MAX_ROWS} more rows in the artifact", style="dim"))
    return Group(*parts)


def eval_tables(tables: Sequence[EvalTable]) -> RenderableType:
    parts: list[RenderableType] = []
    for i, table in enumerate(tables):
        if i:
            parts.append(Text(""))
        parts.append(eval_table(table))
    return Group(*parts)
