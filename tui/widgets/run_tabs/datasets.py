"""The run page's Datasets tab: the run's dataset inputs, and the one under the cursor in full."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from mltui.store import Store
from mltui.store.datasets import profile_items, schema_columns, source_summary
from mltui.store.entities import TAG_DATA_CONTEXT, Dataset, DatasetInput
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab


def schema_summary(schema: str | None, limit: int = 60) -> str:
    """`3 cols: a double, b long, …` or an empty string when there is no readable schema."""
    cols = schema_columns(schema)
    if not cols:
        return "" if not schema else "(unreadable schema)"
    text = f"{len(cols)} col{'s' if len(cols) != 1 else ''}: " + ", ".join(
        f"{name} {kind}".strip() for name, kind in cols
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def context_text(di: DatasetInput) -> str:
    """What the dataset was used for (`training`), then its other input tags in brackets."""
    context = di.tags.get(TAG_DATA_CONTEXT, "")
    others = ", ".join(f"{k}={v}" for k, v in sorted(di.tags.items()) if k != TAG_DATA_CONTEXT)
    if others:
        context = f"{context} ({others})" if context else others
    return context


class DatasetsTab(RunTab[None]):
    PANE = "datasets"
    LABEL = "Datasets"
    FOCUS = "#datasets-table"
    DEFAULT_CSS = """
    DatasetsTab #dataset-detail {
        height: auto;
        max-height: 10;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, store: Store, number: int) -> None:
        super().__init__(store, number)
        #: Dataset inputs in the order of the table.
        self.inputs: list[DatasetInput] = []

    def compose(self) -> ComposeResult:
        yield Static("No dataset inputs.", classes="empty", id="datasets-empty")
        with Vertical(id="datasets-body"):
            yield KeyedTable(
                [
                    ("name", "Name"),
                    ("context", "Context"),
                    ("schema", "Schema"),
                    ("type", "Source type"),
                    ("source", "Source"),
                    ("digest", "Digest"),
                ],
                id="datasets-table",
            )
            yield Static(id="dataset-detail")

    def on_mount(self) -> None:
        self.query_one(".empty").display = False

    def show(self, details: RunDetails, data: None) -> None:
        table = self.query_one("#datasets-table", DataTable)
        table.clear()
        inputs = self.inputs = sorted(
            details.run.inputs or [], key=lambda di: (di.dataset.name, di.dataset.digest)
        )
        for i, di in enumerate(inputs):
            d = di.dataset
            table.add_row(
                literal(one_line(d.name)),
                literal(one_line(context_text(di), 40)),
                literal(one_line(schema_summary(d.schema, 28))),
                literal(one_line(d.source_type)),
                literal(one_line(source_summary(d.source), 36)),
                literal(one_line(d.digest), style="dim"),
                key=str(i),
            )
        self.show_empty(not inputs, "#datasets-body")
        self._show_detail(0 if inputs else None)

    @on(DataTable.RowHighlighted, "#datasets-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)

    def _show_detail(self, index: int | None) -> None:
        detail = self.query_one("#dataset-detail", Static)
        if index is None or index >= len(self.inputs):
            detail.update("")
            return
        detail.update(_detail(self.inputs[index].dataset))


def _detail(d: Dataset) -> Text:
    text = Text()
    text.append("Digest  ", style="dim")
    text.append_text(literal(one_line(d.digest)))
    text.append("\nSource  ", style="dim")
    text.append_text(literal(one_line(d.source, 400)))
    cols = schema_columns(d.schema)
    if cols:
        text.append("\nSchema  ", style="dim")
        text.append_text(literal(", ".join(f"{name}: {kind}" for name, kind in cols)))
    profile = profile_items(d.profile)
    if profile:
        text.append("\nProfile ", style="dim")
        text.append_text(literal(", ".join(f"{k}={v}" for k, v in profile)))
    return text
