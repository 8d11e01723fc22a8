"""A list narrowed by what is typed in the box above it: pickers, column choosers, suggestions.

The list holds (value, label) items and shows those whose value (or label) holds what was typed,
in any case. Typing or backspace while the list has the focus goes on in the box, so a person
never has to go back to it to narrow further. One narrowing rule for every such list; the
dialogs decide what is highlighted and what a pick does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.widgets import Input, OptionList, SelectionList
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from mltui.tui.text import literal, one_line

if TYPE_CHECKING:
    from textual.widget import Widget

    # The lists it is mixed into, as the type checker sees the mixin; at run time object.
    _ListHost = Widget
else:
    _ListHost = object


class TypeAhead(_ListHost):
    """Mixed into an OptionList: its items, how they narrow, and keys typed on to the box."""

    def setup_type_ahead(
        self, box: str, items: Sequence[tuple[str, str]], match_labels: bool, limit: int
    ) -> None:
        self.box_id = box
        self.items = list(items)
        self.match_labels = match_labels
        self.limit = limit

    def matching(self, typed: str) -> Iterable[int]:
        """Indexes of the items holding `typed` (any case) in their value, or label."""
        needle = typed.lower()
        field = 1 if self.match_labels else 0
        return (i for i, item in enumerate(self.items) if needle in item[field].lower())

    def prompt(self, label: str) -> Text:
        return literal(one_line(label, self.limit))

    def on_key(self, event: events.Key) -> None:
        """Typing (or backspace) while the list has the focus goes on in the narrowing box.

        Space is left to the list: it toggles an item in a selection list.
        """
        screen = self.screen
        box = screen.query_one(f"#{self.box_id}", Input)
        if event.key == "backspace":
            screen.set_focus(box)
            box.action_delete_left()
        elif event.is_printable and event.character not in (None, " "):
            screen.set_focus(box)
            box.insert_text_at_cursor(event.character)
        else:
            return
        event.stop()
        # The box selects all its text as the focus arrives (Input.select_on_focus), and the
        # next key typed would replace it: put the cursor back where the edit left it, once the
        # focus event (queued before this callback) has been handled.
        box.call_later(setattr, box, "cursor_position", box.cursor_position)


class TypeAheadList(TypeAhead, OptionList):
    """Pick one item: an OptionList narrowed from the box whose id is `box`."""

    def __init__(
        self,
        items: Sequence[tuple[str, str]] = (),
        *,
        box: str,
        match_labels: bool = False,
        limit: int = 200,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.setup_type_ahead(box, items, match_labels, limit)

    def narrow(self, typed: str) -> None:
        """Show the items holding `typed`; nothing is highlighted."""
        self.clear_options()
        self.add_options(
            Option(self.prompt(self.items[i][1]), id=str(i)) for i in self.matching(typed)
        )
        self.highlighted = None

    def value_of(self, option: Option) -> str:
        return self.items[int(option.id or 0)][0]

    @property
    def highlighted_value(self) -> str | None:
        if self.highlighted is None:
            return None
        return self.value_of(self.get_option_at_index(self.highlighted))


class TypeAheadSelectionList(TypeAhead, SelectionList[str]):
    """Choose several items: a SelectionList narrowed from the box whose id is `box`.

    `chosen` is the dialog's own set, not a copy: the dialog changes it as items are ticked, and
    narrowing ticks what it holds.
    """

    def __init__(
        self,
        items: Sequence[tuple[str, str]],
        chosen: set[str],
        *,
        box: str,
        match_labels: bool = True,
        limit: int = 80,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.setup_type_ahead(box, items, match_labels, limit)
        self.chosen = chosen

    def narrow(self, typed: str) -> None:
        """Show the items holding `typed`, each ticked if chosen; nothing is highlighted."""
        self.clear_options()
        self.add_options(
            Selection(self.prompt(label), value, value in self.chosen)
            for value, label in (self.items[i] for i in self.matching(typed))
        )
        self.highlighted = None
