"""The runs filter: MLflow's filter syntax, or plain words searched in names, ids and values."""

from __future__ import annotations

import re
from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from mltui.store.entities import Run
from mltui.store.errors import FilterError
from mltui.tui.text import literal

RunPredicate = Callable[[Run], bool]

# What makes text a filter rather than words to look for. "in" and "is" count only as
# `IN (` and `IS [NOT] NULL`, so a run named "run in nested" is still plain text.
_COMPARATOR = re.compile(r"[=<>]|\b(?:i?like)\b|\bin\s*\(|\bis\s+(?:not\s+)?null\b", re.IGNORECASE)


def text_search(needle: str) -> RunPredicate:
    """Case-insensitive substring search over run name, run id, param values and tag values."""
    needle = needle.lower()

    def matches(run: Run) -> bool:
        if needle in run.run_name.lower() or needle in run.run_id.lower():
            return True
        return any(needle in v.lower() for v in run.params.values()) or any(
            needle in v.lower() for v in run.tags.values()
        )

    return matches


def compile_query(text: str) -> RunPredicate | None:
    """A predicate for what was typed; None for empty text. Raises FilterError for a bad filter.

    Text that parses as MLflow filter syntax is a filter (`metrics.rmse < 7 and params.alpha =
    '0.5'`); text that does not, and has no comparator in it, is a plain search (`lasso`).
    """
    text = text.strip()
    if not text:
        return None
    from mltui.store.search import parse_filter

    try:
        return parse_filter(text)
    except FilterError:
        if _COMPARATOR.search(text):
            raise
    return text_search(text)


class FilterBar(Vertical):
    """`/` opens it; Enter applies; Escape clears it and gives the keys back to the table."""

    DEFAULT_CSS = """
    FilterBar {
        height: auto;
        padding: 0 1;
        background: $boost;
        display: none;
    }
    FilterBar Horizontal {
        height: 1;
    }
    FilterBar #filter-label {
        width: auto;
        color: $text-muted;
        padding-right: 1;
    }
    FilterBar Input {
        width: 1fr;
    }
    FilterBar #filter-error {
        color: $text-error;
        display: none;
    }
    FilterBar #filter-error.-shown {
        display: block;
    }
    """

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="runs.filter_clear")]

    class Applied(Message):
        """Enter was pressed: filter by `text` (possibly empty)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Cleared(Message):
        """Escape was pressed: no filter, back to the table."""

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("filter", id="filter-label")
            yield Input(
                placeholder="metrics.rmse < 0.7 and params.alpha = '0.5'   or words to find",
                compact=True,
                id="filter-input",
            )
        yield Static(id="filter-error")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    @property
    def value(self) -> str:
        return self.input.value

    def open(self) -> None:
        """Show the bar and put the cursor in it."""
        self.display = True
        # Focus now, not after a refresh as `focus()` does: keys typed straight after `/`
        # (or pasted with it) must land in the box.
        self.screen.set_focus(self.input)

    def close(self) -> None:
        self.display = False

    def show_error(self, sentence: str | None) -> None:
        """Show why the filter was not applied under the bar (None hides it)."""
        error = self.query_one("#filter-error", Static)
        error.update(literal(sentence or ""))
        error.set_class(bool(sentence), "-shown")

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Applied(event.value))

    def action_clear(self) -> None:
        self.input.value = ""
        self.show_error(None)
        self.close()
        self.post_message(self.Cleared())
