"""Small input dialogs for registry writes: one line of text, a tag, a description."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea

from mltui.tui.screens.base import in_key_order
from mltui.tui.screens.dialogs.style import DIALOG_CSS
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.type_ahead import TypeAheadList


class TextInputScreen(ModalScreen[str | None]):
    """One line of text; Enter accepts, Escape cancels. Existing values can be picked below."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TextInputScreen")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("down", "pick_next", "Next suggestion", show=False),
        Binding("up", "pick_previous", "Previous suggestion", show=False),
    ]
    AUTO_FOCUS = "#dialog-input"

    def __init__(
        self,
        title: str,
        *,
        value: str = "",
        placeholder: str = "",
        hint: str = "",
        choices: Sequence[tuple[str, str]] = (),
    ) -> None:
        """`choices` are (value, label) pairs shown under the input, narrowed as one types."""
        super().__init__()
        self.dialog_title = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.dialog_title), classes="dialog-title")
            yield Input(
                value=self.value,
                placeholder=self.placeholder,
                id="dialog-input",
            )
            choices = TypeAheadList(self.choices, box="dialog-input", id="dialog-choices")
            choices.display = bool(self.choices)
            yield choices
            yield Static(
                literal(
                    self.hint
                    + ("\n" if self.hint else "")
                    + ("↓↑ pick from the list · " if self.choices else "")
                    + "Enter accepts · Esc cancels"
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self._fill("")

    @property
    def _choices(self) -> TypeAheadList:
        return self.query_one("#dialog-choices", TypeAheadList)

    def _fill(self, typed: str) -> None:
        self._choices.narrow(typed)

    @on(Input.Changed, "#dialog-input")
    def _typed(self, event: Input.Changed) -> None:
        if self.choices:
            self._fill(event.value)

    @on(Input.Submitted, "#dialog-input")
    def _submitted(self, event: Input.Submitted) -> None:
        options = self._choices
        if options.highlighted_value is not None and options.display:
            self.dismiss(options.highlighted_value)
        elif event.value.strip():
            self.dismiss(event.value.strip())

    @on(OptionList.OptionSelected, "#dialog-choices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._choices.value_of(event.option))

    def action_pick_next(self) -> None:
        self._choices.action_cursor_down()

    def action_pick_previous(self) -> None:
        options = self._choices
        if options.highlighted == 0:
            options.highlighted = None  # back to what was typed
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class TagInputScreen(ModalScreen[tuple[str, str] | None]):
    """A tag key and value; an existing key brings its value in to be edited."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TagInputScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    AUTO_FOCUS = "#tag-key"

    def __init__(self, title: str, tags: dict[str, str]) -> None:
        super().__init__()
        self.dialog_title = title
        self.tags = dict(tags)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.dialog_title), classes="dialog-title")
            yield Input(
                placeholder="key",
                id="tag-key",
            )
            yield Input(placeholder="value", id="tag-value")
            known = ", ".join(sorted(self.tags)) or "none"
            yield Static(
                literal(
                    f"Existing tags: {one_line(known, 300)}\nEnter on the value accepts · Esc "
                    "cancels"
                ),
                classes="dialog-hint",
            )

    @on(Input.Submitted, "#tag-key")
    def _key_done(self, event: Input.Submitted) -> None:
        value = self.query_one("#tag-value", Input)
        if event.value in self.tags and not value.value:
            value.value = self.tags[event.value]
        value.focus()

    @on(Input.Submitted, "#tag-value")
    def _value_done(self, event: Input.Submitted) -> None:
        key = self.query_one("#tag-key", Input).value.strip()
        if not key:
            self.query_one("#tag-key", Input).focus()
            return
        self.dismiss((key, event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class DescriptionScreen(ModalScreen[str | None]):
    """A description in a text area; ctrl+s saves, Escape cancels."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="DescriptionScreen")
        + """
    DescriptionScreen TextArea {
        height: 12;
    }
    """
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="dialog.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]
    AUTO_FOCUS = "#description-text"

    def __init__(self, title: str, text: str | None) -> None:
        super().__init__()
        self.dialog_title = title
        self.text = text or ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.dialog_title), classes="dialog-title")
            yield TextArea(
                self.text, id="description-text", soft_wrap=True, show_line_numbers=False
            )
            yield Static(
                Text("Markdown, as MLflow shows it. ctrl+s saves · Esc cancels"),
                classes="dialog-hint",
            )

    @in_key_order
    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
