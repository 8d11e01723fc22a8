"""A row-cursor DataTable whose rows are keyed (a model's name, a version), so that filling it
again after a reload keeps the cursor on the same row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable


class KeyedTable(DataTable[Text]):
    """Columns given as (key, label); rows set together with `set_rows`, each with its key."""

    def __init__(self, columns: Sequence[tuple[str, str]], *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        for key, label in columns:
            self.add_column(label, key=key)

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def set_rows(self, rows: Iterable[tuple[str, Sequence[Text]]]) -> None:
        """Show `rows` ((key, cells), in order), the cursor on the same key if it is still there."""
        keep = self.current_key()
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep))
