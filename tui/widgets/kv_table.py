"""A two-column key/value DataTable for user data (params, tags), keyed by the key."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from tui.text import literal, one_line


class KeyValueTable(DataTable[Text]):
    """Keys and values shown literally, one line each; `c` copies the value under the cursor."""

    BINDINGS = [
        Binding("c", "copy_value", "Copy value", id="kv.copy", show=False),
    ]

    def __init__(
        self, key_label: str = "Key", value_label: str = "Value", *, id: str | None = None
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.key_label = key_label
        self.value_label = value_label
        self.values: dict[str, str] = {}

    def on_mount(self) -> None:
        self.add_column(self.key_label, key="key")
        self.add_column(self.value_label, key="value")

    def set_items(self, items: Iterable[tuple[str, str]], *, key_style: str = "") -> None:
        """Show `items` in the order given, keeping the cursor on the same key if it is still there."""
        keep = self.current_key()
        self.clear()
        self.values = {}
        for key, value in items:
            self.values[key] = value
            self.add_row(literal(one_line(key), style=key_style), literal(one_line(value)), key=key)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep))

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def action_copy_value(self) -> None:
        key = self.current_key()
        if key is None:
            return
        self.app.copy_to_clipboard(self.values[key])
        self.notify(f"Copied the value of {one_line(key, 60)}", timeout=2, markup=False)
