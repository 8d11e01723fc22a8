"""`c` on the runs screen: choose which params, metrics and tags columns to show."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, SelectionList, Static

from mltui.tui.widgets.type_ahead import TypeAheadSelectionList


class ColumnsScreen(ModalScreen[list[str] | None]):
    """Type to narrow, Space to show or hide a column, Enter to apply, Escape to cancel.

    Dismisses with the chosen column keys, in the order they were offered.
    """

    DEFAULT_CSS = """
    ColumnsScreen {
        align: center middle;
    }
    #columns {
        width: 64;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    #columns-list {
        height: auto;
        max-height: 20;
        border: none;
        padding: 0;
    }
    #columns-hint {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("enter", "apply", "Apply", id="columns.apply", priority=True),
        Binding("escape", "cancel", "Cancel", id="columns.cancel"),
        Binding("ctrl+a", "toggle_all", "All/none shown", id="columns.all", priority=True),
        # Priority bindings run as keys arrive, before the next key is handed on: keys typed
        # fast or pasted arrive together, and Enter (a priority binding too) must find the
        # space before it toggled, and the space must find the list focused by ↓.
        Binding("down", "to_list", "To the list", show=False, priority=True),
        Binding("space", "toggle_highlighted", "Show/hide", show=False, priority=True),
    ]

    def __init__(self, columns: list[tuple[str, str]], chosen: list[str]) -> None:
        """`columns` are (key, label) pairs in the order offered; `chosen` the keys shown now."""
        super().__init__()
        self.labels = dict(columns)
        self.keys = [key for key, _ in columns]
        self.chosen = set(chosen)

    def compose(self) -> ComposeResult:
        with Vertical(id="columns"):
            yield Static(Text("Columns", style="bold"), id="columns-title")
            yield Input(placeholder="type to narrow", id="columns-input")
            yield TypeAheadSelectionList(
                [(key, self.labels[key]) for key in self.keys],
                self.chosen,
                box="columns-input",
                id="columns-list",
            )
            yield Static(
                "space show/hide · ↑↓ move · ctrl+a all/none · enter apply · esc cancel",
                id="columns-hint",
            )

    def on_mount(self) -> None:
        self._fill("")

    @property
    def _list(self) -> TypeAheadSelectionList:
        return self.query_one("#columns-list", TypeAheadSelectionList)

    def _fill(self, query: str) -> None:
        options = self._list
        options.narrow(query)
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#columns-input")
    def _narrow(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(SelectionList.SelectionToggled, "#columns-list")
    def _toggled(self, event: SelectionList.SelectionToggled) -> None:
        # A click (space comes through `action_toggle_highlighted`).
        key = event.selection.value
        self.chosen ^= {key}

    def action_to_list(self) -> None:
        options = self._list
        if self.focused is not options:
            self.set_focus(options)  # at once: `focus()` waits, and the next key would miss it
        else:
            options.action_cursor_down()

    def action_toggle_highlighted(self) -> None:
        """Space in the list shows or hides the highlighted column; in the box it is typed."""
        options = self._list
        if self.focused is not options:
            raise SkipAction()
        if options.highlighted is None:
            return
        key = options.get_option_at_index(options.highlighted).value
        with options.prevent(SelectionList.SelectionToggled):  # `chosen` is changed here
            options.toggle(key)
        self.chosen ^= {key}

    def action_toggle_all(self) -> None:
        options = self._list
        shown = [options.get_option_at_index(i).value for i in range(options.option_count)]
        if all(key in self.chosen for key in shown):
            self.chosen.difference_update(shown)
            options.deselect_all()
        else:
            self.chosen.update(shown)
            options.select_all()

    def action_apply(self) -> None:
        self.dismiss([key for key in self.keys if key in self.chosen])

    def action_cancel(self) -> None:
        self.dismiss(None)
