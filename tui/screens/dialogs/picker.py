"""A type-ahead list to pick one item from many (sort column, metric, ...)."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from mltui.tui.widgets.type_ahead import TypeAheadList


class PickerScreen(ModalScreen[str | None]):
    """Type to narrow the list, ↓/↑ to move in it, Enter to pick, Escape to cancel."""

    # ↓/↑ are priority bindings, run as they arrive: the focus is in the list before the next
    # key is handed on (keys typed fast or pasted arrive together), so a space after ↓ is
    # not typed into the box.
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "cursor_down", "Next", show=False, priority=True),
        Binding("up", "cursor_up", "Previous", show=False, priority=True),
    ]

    def __init__(self, title: str, items: list[str], current: str | None = None) -> None:
        super().__init__()
        self.picker_title = title
        self.items = items
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(self.picker_title, style="bold"), id="picker-title")
            yield Input(placeholder="type to filter", id="picker-input")
            items = [(item, item) for item in self.items]
            yield TypeAheadList(items, box="picker-input", id="picker-list")

    @property
    def _list(self) -> TypeAheadList:
        return self.query_one("#picker-list", TypeAheadList)

    def on_mount(self) -> None:
        self._fill("")
        if self.current in self.items:
            self._list.highlighted = self.items.index(self.current)

    def _fill(self, query: str) -> None:
        options = self._list
        options.narrow(query)
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#picker-input")
    def _narrow(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-input")
    def _submit(self) -> None:
        value = self._list.highlighted_value
        if value is not None:
            self.dismiss(value)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._list.value_of(event.option))

    def action_cursor_down(self) -> None:
        self._to_list().action_cursor_down()

    def action_cursor_up(self) -> None:
        self._to_list().action_cursor_up()

    def _to_list(self) -> OptionList:
        options = self._list
        self.set_focus(options)  # at once: `focus()` waits, and the next key would miss it
        return options

    def on_key(self, event: events.Key) -> None:
        # The list took what was typed on to the box; a space is not typed there.
        if event.key == "space" and self.focused is self._list:
            event.stop()  # one item is picked, with Enter: nothing to toggle

    def action_cancel(self) -> None:
        self.dismiss(None)
