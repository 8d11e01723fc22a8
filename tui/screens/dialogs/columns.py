"""`c` on the runs screen: choose which params, metrics and tags columns to show."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, SelectionList, Static

from mltui.tui.screens.base import after_typed_keys
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
        # Keys typed fast or pasted arrive together. Priority bindings are seen as each key
        # arrives: ↓ moves the focus to the list at once, so the space after it is the list's
        # (in the box a space is typed); what each does waits for the keys before it
        # (`_in_order`) and acts on the list narrowed by the text typed before it (`_sync`).
        Binding("down", "to_list", "To the list", show=False, priority=True),
        Binding("space", "toggle_highlighted", "Show/hide", show=False, priority=True),
    ]

    def __init__(self, columns: list[tuple[str, str]], chosen: list[str]) -> None:
        """`columns` are (key, label) pairs in the order offered; `chosen` the keys shown now."""
        super().__init__()
        self.labels = dict(columns)
        self.keys = [key for key, _ in columns]
        self.chosen = set(chosen)
        #: What the list is narrowed to (the box's text when it was last narrowed).
        self._narrowed_to: str | None = None

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

    @property
    def _box(self) -> Input:
        return self.query_one("#columns-input", Input)

    def _fill(self, query: str) -> None:
        options = self._list
        options.narrow(query)
        self._narrowed_to = query
        if options.option_count:
            options.highlighted = 0

    def _sync(self) -> None:
        """Narrow the list to the box's text as it is now, unless it is narrowed so already.
        (A Changed message may come after a later key acted on the list: its value is old by
        then, and narrowing again would move the highlight.)"""
        if self._box.value != self._narrowed_to:
            self._fill(self._box.value)

    def _in_order(self, act: Callable[[], object]) -> None:
        """`act` on the list as the box narrows it, once the keys typed before have been
        handled, in the box (text may still wait there) as in the list."""

        def synced() -> None:
            self._sync()
            act()

        after_typed_keys(self, synced, self._box)

    @on(Input.Changed, "#columns-input")
    def _narrow(self) -> None:
        self._sync()

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
            self._in_order(options.action_cursor_down)

    def action_toggle_highlighted(self) -> None:
        """Space in the list shows or hides the highlighted column; in the box it is typed."""
        options = self._list
        if self.focused is not options:
            raise SkipAction()
        self._in_order(self._toggle_highlighted)

    def _toggle_highlighted(self) -> None:
        options = self._list
        if options.highlighted is None:
            return
        key = options.get_option_at_index(options.highlighted).value
        with options.prevent(SelectionList.SelectionToggled):  # `chosen` is changed here
            options.toggle(key)
        self.chosen ^= {key}

    def action_toggle_all(self) -> None:
        self._in_order(self._toggle_all)

    def _toggle_all(self) -> None:
        options = self._list
        shown = [options.get_option_at_index(i).value for i in range(options.option_count)]
        if all(key in self.chosen for key in shown):
            self.chosen.difference_update(shown)
            options.deselect_all()
        else:
            self.chosen.update(shown)
            options.select_all()

    def action_apply(self) -> None:
        self._in_order(lambda: self.dismiss([key for key in self.keys if key in self.chosen]))

    def action_cancel(self) -> None:
        self.dismiss(None)
