"""The run page's Tags tab: the user's tags, MLflow's system tags, then the run's note."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown, Static

from mltui.store.entities import TAG_NOTE
from mltui.tui.text import clean, literal
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab

SYSTEM_TAG_PREFIX = "mlflow."


class TagsTab(RunTab[None]):
    PANE = "tags"
    LABEL = "Tags"
    FOCUS = "#tags-pane"
    DEFAULT_CSS = """
    TagsTab #tags-pane {
        height: 1fr;
        padding: 0 1;
    }
    TagsTab #tags-pane > .heading {
        margin-top: 1;
        text-style: bold;
    }
    TagsTab #run-note {
        margin: 0 0 1 0;
        padding: 0 1;
        height: auto;
    }
    TagsTab #run-note > *:first-child {
        margin-top: 0;
    }
    """

    #: The note shown (the Markdown is rendered again only when it changes).
    _note = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="tags-pane"):
            yield Static(id="user-tags")
            yield Static(id="system-tags")
            yield Static(Text("Note"), classes="heading", id="note-heading")
            yield Markdown(id="run-note", open_links=False)

    def on_mount(self) -> None:
        self.query_one("#note-heading").display = False
        self.query_one("#run-note").display = False

    def show(self, details: RunDetails, data: None) -> None:
        tags = details.run.tags
        user = sorted((k, v) for k, v in tags.items() if not k.startswith(SYSTEM_TAG_PREFIX))
        system = sorted(
            (k, v) for k, v in tags.items() if k.startswith(SYSTEM_TAG_PREFIX) and k != TAG_NOTE
        )
        self.query_one("#user-tags", Static).update(_tag_table("Tags", user))
        self.query_one("#system-tags", Static).update(_tag_table("System tags (mlflow.*)", system))
        self._show_note(tags.get(TAG_NOTE, ""))

    def _show_note(self, note: str) -> None:
        shown = bool(note.strip())
        self.query_one("#note-heading").display = shown
        markdown = self.query_one("#run-note", Markdown)
        markdown.display = shown
        # The note is the user's own Markdown; control characters are made visible first so it
        # can never drive the terminal.
        if note != self._note:
            self._note = note
            markdown.update(clean(note.replace("\r\n", "\n")) if shown else "")


def _tag_table(title: str, items: list[tuple[str, str]]) -> Group:
    heading = Text(f"{title} ({len(items)})", style="bold")
    if not items:
        return Group(heading, Text("none", style="dim"))
    table = Table(box=None, show_header=False, expand=True, padding=(0, 2, 0, 0))
    table.add_column(style="cyan", ratio=1, overflow="fold")
    table.add_column(ratio=2, overflow="fold")
    for key, value in items:
        table.add_row(literal(key), literal(value) if value else Text("(empty)", style="dim"))
    return Group(heading, table)
