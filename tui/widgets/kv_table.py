"""A two-column key/value table for user data (params, tags), keyed by the key."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding

from mltui.tui.text import literal, one_line
from mltui.tui.widgets.keyed_table import KeyedTable


class KeyValueTable(KeyedTable):
    """Keys and values shown literally, one line each; `c` copies the value under the cursor."""

    BINDINGS = [
        Binding("c", "copy_value", "Copy value", id="kv.copy", show=False),
    ]

    def __init__(
        self, key_label: str = "Key", value_label: str = "Value", *, id: str | None = None
    ) -> None:
        super().__init__([("key", key_label), ("value", value_label)], id=id)
        self.values: dict[str, str] = {}

    def set_items(self, items: Iterable[tuple[str, str]], *, key_style: str = "") -> None:
        """Show `items` in the order given, keeping the cursor on the same key if it is still there."""
        self.values = dict(items)
        self.set_rows(
            (key, (literal(one_line(key), style=key_style), literal(one_line(value))))
            for key, value in self.values.items()
        )

    def action_copy_value(self) -> None:
        key = self.current_key()
        if key is None:
            return
        self.app.copy_to_clipboard(self.values[key])
        self.notify(f"Copied the value of {one_line(key, 60)}", timeout=2, markup=False)
