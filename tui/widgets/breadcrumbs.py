"""Where you are: store › experiment › run, at the top of every screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.text import clean


class Breadcrumbs(Static):
    """A one-line trail of the screens below this one."""

    DEFAULT_CSS = """
    Breadcrumbs {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, *parts: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.parts = list(parts)

    def on_mount(self) -> None:
        self.show(*self.parts)

    def show(self, *parts: str) -> None:
        self.parts = list(parts)
        text = Text()
        for i, part in enumerate(self.parts):
            if i:
                text.append(" › ", style="dim")
            last = i == len(self.parts) - 1
            text.append(clean(part), style="bold" if last else "")
        self.update(text)
