"""`?`: the keys of the screen below, from the same bindings as the footer and the palette."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static


class HelpScreen(ModalScreen[None]):
    """A list of every key that applies where `?` was pressed."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        # The screen's own actions first, then the app's, then moving about in widgets.
        groups: dict[str, list[tuple[str, str]]] = {"screen": [], "app": [], "widgets": []}
        seen: set[tuple[str, str]] = set()
        for active in self.under.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            shown = self.app.get_key_display(binding)
            if (shown, binding.description) in seen:
                continue
            seen.add((shown, binding.description))
            group = (
                "screen"
                if active.node is self.under
                else "app"
                if active.node is self.app
                else "widgets"
            )
            groups[group].append((shown, binding.tooltip or binding.description))
        titles = {
            "screen": self.under.title or "This screen",
            "app": "Everywhere",
            "widgets": "Moving about",
        }
        with VerticalScroll(id="help-body"):
            for group, rows in groups.items():
                if not rows:
                    continue
                table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
                table.add_column(style="bold", no_wrap=True, min_width=10)
                table.add_column()
                for key, description in rows:
                    table.add_row(Text(key), Text(description))
                yield Static(Text(titles[group], style="bold underline"), classes="help-title")
                yield Static(table, classes="help-group")
            yield Static(
                Text("ctrl+p opens the command palette: every action above, by name.", style="dim")
            )
