"""Where you are (store › experiment › run) on the left, a short status on the right."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from mltui.tui.text import clean


def store_label(location: Path) -> str:
    """The store's path as a person would type it: relative to here or to ~ when shorter."""
    if "://" in str(location):  # a database URI (its password already taken out)
        return str(location)
    path = Path(location)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)


def store_crumb(location: Path, demo: bool = False) -> str:
    """The store as the first crumb of screens below the experiments: its folder's or file's
    name (`mlruns`, `mlflow.db`), or "demo store" for `mltui --demo`, as the top screen says."""
    if demo:
        return "demo store"
    return getattr(location, "name", "") or str(location)


class Breadcrumbs(Widget):
    """A one-line trail of the screens below this one, with a status at the right."""

    DEFAULT_CSS = """
    Breadcrumbs {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    """

    parts: reactive[tuple[str, ...]] = reactive(tuple, layout=False)
    status: reactive[str] = reactive("")

    def __init__(self, *parts: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(Breadcrumbs.parts, tuple(parts))

    def show(self, *parts: str) -> None:
        self.parts = tuple(parts)

    def render(self) -> Text:
        trail = Text(no_wrap=True, overflow="ellipsis")
        for i, part in enumerate(self.parts):
            if i:
                trail.append(" › ", style="dim")
            trail.append(clean(part), style="bold" if i == len(self.parts) - 1 else "")
        status = Text(clean(self.status), style="italic")
        width = self.content_size.width
        room = width - status.cell_len - 1
        if room < 10:
            return trail
        trail.truncate(room, overflow="ellipsis")
        trail.pad_right(room - trail.cell_len + 1)
        return trail + status
