"""Sorting by a column and a quick filter box, shared by the screens that list one table (the
experiments, the logged models): `s` picks a column, `S` reverses, a header click sorts by it or
reverses it, `/` shows the filter box and each change refilters."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable, Input
from textual.widgets.data_table import ColumnKey

from mltui.tui.screens.base import MixinHost


class SortableFilterable(MixinHost):
    """Mixed into a Screen, which sets FILTER_BOX (the Input's id) and SORT_TITLE, holds
    `sort_key`, `sort_reverse` and `quick_filter`, and gives `sort_columns()`,
    `descending_first(key)` and `refresh_table()`.

    Handlers are named methods (on_input_changed, ...), not @on: Textual collects @on handlers
    only from classes that are message pumps themselves."""

    FILTER_BOX: ClassVar[str] = ""
    SORT_TITLE: ClassVar[str] = "Sort by"
    sort_key: str
    sort_reverse: bool
    quick_filter: str

    def sort_columns(self) -> list[tuple[str, str]]:
        """(column key, label) of every column the table sorts by."""
        raise NotImplementedError

    def descending_first(self, key: str) -> bool:
        """Whether sorting by `key` starts with the largest (newest, most) first."""
        return False

    def refresh_table(self) -> None:
        raise NotImplementedError

    def sort_labels(self, table: DataTable[Any]) -> None:
        """Column headers with ▼ or ▲ on the one sorted by."""
        for key, label in self.sort_columns():
            arrow = (" ▼" if self.sort_reverse else " ▲") if key == self.sort_key else ""
            column = table.columns[ColumnKey(key)]
            column.label = Text(label + arrow)
            # DataTable sizes a column to its label once, when it is added: a column as narrow
            # as its label would cut the arrow off. Widened here, it takes effect as the rows
            # are added again, and stays (the header does not jump as the sort moves on).
            column.content_width = max(column.content_width, cell_len(column.label.plain))

    def action_filter(self) -> None:
        box = self.query_one(f"#{self.FILTER_BOX}", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == self.FILTER_BOX:
            self.quick_filter = event.value
            self.refresh_table()

    def action_sort(self) -> None:
        from mltui.tui.screens.dialogs.picker import PickerScreen

        columns = self.sort_columns()
        labels = [label for _, label in columns]
        current = next(label for key, label in columns if key == self.sort_key)

        def chosen(label: str | None) -> None:
            if label is not None:
                self.sort_by(next(key for key, lab in columns if lab == label))

        self.app.push_screen(PickerScreen(self.SORT_TITLE, labels, current), chosen)

    def sort_by(self, key: str) -> None:
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, self.descending_first(key)
        self.refresh_table()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.refresh_table()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        if event.column_key.value in dict(self.sort_columns()):
            self.sort_by(event.column_key.value)
