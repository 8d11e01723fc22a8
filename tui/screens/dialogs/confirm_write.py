"""The confirmation that lists every change a registry write makes, before anything is written."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from mltui.store.registry import WritePlan
from mltui.tui.screens.dialogs.style import DIALOG_CSS
from mltui.tui.text import literal


class ConfirmWriteScreen(ModalScreen[bool]):
    """The plan's summary and every change it makes; `y`/Write to write, Escape to cancel."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ConfirmWriteScreen")
        + """
    ConfirmWriteScreen #confirm-changes {
        height: auto;
        max-height: 16;
        border-left: wide $warning;
        padding: 0 1;
    }
    """
    )
    BINDINGS = [
        Binding("y", "write", "Write", id="confirm.write"),
        Binding("escape,n", "cancel", "Cancel", id="confirm.cancel"),
    ]
    AUTO_FOCUS = "#confirm-write"

    def __init__(self, plan: WritePlan, where: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.plan.summary), classes="dialog-title", id="confirm-summary")
            yield Static(Text("This will change:", style="dim"))
            with VerticalScroll(id="confirm-changes"):
                lines = Text()
                for i, change in enumerate(self.plan.changes):
                    if i:
                        lines.append("\n")
                    lines.append("• ", style="bold yellow")
                    lines.append_text(literal(change))
                yield Static(lines, id="confirm-lines")
            hint = "Nothing else is written."
            if self.where:
                hint = f"Written to {self.where}. " + hint
            yield Static(literal(hint), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Write (y)", variant="warning", id="confirm-write")
                yield Button("Cancel (Esc)", id="confirm-cancel")

    @on(Button.Pressed, "#confirm-write")
    def action_write(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
