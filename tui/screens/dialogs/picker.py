"""A type-ahead list to pick one item from many (sort column, metric, ...)."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mltui.tui.text import one_line


def type_ahead(screen: Screen, box: Input, event: events.Key) -> bool:
    """Typing (or backspace) while a list has the focus goes on in its narrowing box.

    True when the key was taken. Space is left to the list: it toggles an item there.
    """
    if event.key == "backspace":
        screen.set_focus(box)
        box.action_delete_left()
    elif event.is_printable and event.character not in (None, " "):
        screen.set_focus(box)
        box.insert_text_at_cursor(event.character)
    else:
        return False
    event.stop()
    return True


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
        self._to_list().action_cursor_down()

    def action_cursor_up(self) -> None:
        self._to_list().action_cursor_up()

    def _to_list(self) -> OptionList:
        options = self.query_one(OptionList)
        self.set_focus(options)  # at once: `focus()` waits, and the next key would miss it
        return options

    def on_key(self, event: events.Key) -> None:
        options = self.query_one(OptionList)
        if self.focused is not options:
            return
        box = self.query_one("#picker-input", Input)
        if not type_ahead(self, box, event) and event.key == "space":
            event.stop()  # one item is picked, with Enter: nothing to toggle

    def action_cancel(self) -> None:
        self.dismiss(None)
