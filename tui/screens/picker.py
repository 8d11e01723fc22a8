"""A type-ahead list to pick one item from many (sort column, metric, ...)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.text import one_line


class PickerScreen(ModalScreen[str | None]):
    """Type to narrow the list, Enter to pick, Escape to cancel."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "cursor_down", "Next", show=False),
        Binding("up", "cursor_up", "Previous", show=False),
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
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self._fill("")
        if self.current in self.items:
            options = self.query_one(OptionList)
            options.highlighted = self.items.index(self.current)

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        needle = query.lower()
        options.add_options(
            Option(Text(one_line(item)), id=str(i))
            for i, item in enumerate(self.items)
            if needle in item.lower()
        )
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#picker-input")
    def _narrow(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-input")
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id is not None:
            self.dismiss(self.items[int(option_id)])

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
