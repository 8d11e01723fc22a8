"""The one type-ahead list: what narrowing keeps, and keys typed while the list has the focus."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input

from mltui.tui.screens.dialogs.columns import ColumnsScreen
from mltui.tui.screens.dialogs.picker import PickerScreen
from mltui.tui.widgets.type_ahead import TypeAheadList, TypeAheadSelectionList

pytestmark = pytest.mark.anyio

ITEMS = [("Alpha", "first"), ("beta", "Second"), ("alphabet", "[bold]third")]


class Lists(App[None]):
    def compose(self) -> ComposeResult:
        yield Input(id="box")
        yield TypeAheadList(ITEMS, box="box", id="one")
        yield TypeAheadSelectionList(ITEMS, {"beta"}, box="box", id="many")


async def test_narrowing_matches_values_in_any_case_by_default_and_labels_when_asked():
    app = Lists()
    async with app.run_test():
        one = app.query_one("#one", TypeAheadList)
        one.narrow("ALPH")
        assert one.option_count == 2 and one.highlighted is None
        one.highlighted = 1
        assert one.highlighted_value == "alphabet"
        assert str(one.get_option_at_index(1).prompt) == "[bold]third"  # literal, not markup
        many = app.query_one("#many", TypeAheadSelectionList)
        many.narrow("sec")  # labels, for a column chooser
        assert [many.get_option_at_index(i).value for i in range(many.option_count)] == ["beta"]
        many.narrow("")
        assert many.selected == ["beta"]  # what was chosen survives narrowing


async def test_keys_typed_in_the_list_go_on_in_its_box():
    app = Lists()
    async with app.run_test() as pilot:
        box = app.query_one("#box", Input)
        box.value = "al"
        one = app.query_one("#one", TypeAheadList)
        one.focus()
        await pilot.press("p", "h")  # the box got the focus at "p"; "h" adds to what it holds
        assert app.focused is box and box.value == "alph"
        one.focus()
        await pilot.press("backspace", "backspace")
        assert box.value == "al"
        one.focus()
        await pilot.press("space")  # left to the list
        assert app.focused is one and box.value == "al"


async def test_picker_keeps_what_was_typed_when_typing_goes_on_from_the_list():
    # ↓ moves into the list; typing on returns to the box, which selects all its text as it
    # gets the focus: the second key used to replace the query ("h", not "alph").
    class Picking(App[None]):
        def on_mount(self) -> None:
            self.push_screen(PickerScreen("Pick", ["alpha", "alphabet", "hotel"]))

    app = Picking()
    async with app.run_test() as pilot:
        await pilot.press("a", "l", "down", "p", "h")
        assert app.screen.query_one("#picker-input", Input).value == "alph"


async def test_column_chooser_keeps_ticks_made_before_narrowing():
    class Choosing(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ColumnsScreen([("a", "alpha"), ("b", "beta"), ("h", "hotel")], []))

    app = Choosing()
    async with app.run_test() as pilot:
        await pilot.press("down", "space", "l")  # tick alpha, then narrow to "l"
        shown = app.screen.query_one(TypeAheadSelectionList)
        assert shown.option_count == 2 and shown.selected == ["a"]
