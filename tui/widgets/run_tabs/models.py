"""The run page's Models tab: MLflow 3's logged models and model outputs of the run, then its
MLflow 1.x/2.x log-model history; Enter asks the page to open the one under the cursor."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from mltui.store import Store
from mltui.store.run_models import HISTORY, OUTPUT, RunModel, RunModels, run_models
from mltui.tui.text import format_time, literal, one_line
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab

UNREADABLE_HISTORY = "(unreadable mlflow.log-model.history tag)"


def model_cells(model: RunModel) -> tuple[str, str, str]:
    """(From, Name / path, Created) of a model's row."""
    origin = f"{OUTPUT}, step {model.step}" if model.origin == OUTPUT else model.origin
    if not model.found:
        return origin, "(not in this experiment)", ""
    if model.origin == HISTORY:
        return origin, model.name, model.utc_time_created[:19] + " UTC"
    return origin, model.name, format_time(model.creation_timestamp)


class ModelsTab(RunTab[RunModels]):
    PANE = "models"
    LABEL = "Models"
    FOCUS = "#models-table"

    class Open(Message):
        """Enter on a model: the page opens its MLmodel, or its folder among the artifacts."""

        def __init__(self, model: RunModel) -> None:
            super().__init__()
            self.model = model

    def __init__(self, store: Store, number: int) -> None:
        super().__init__(store, number)
        #: The models by row key.
        self.models: dict[str, RunModel] = {}

    @classmethod
    def read(cls, store: Store, details: RunDetails) -> RunModels:
        return run_models(store, details.run, details.logged_models)

    def compose(self) -> ComposeResult:
        yield Static("No models logged by this run.", classes="empty", id="models-empty")
        with Vertical(id="models-body"):
            yield Static(
                "Enter opens a model's MLmodel view; R registers it.",
                classes="hint",
                id="models-hint",
            )
            yield KeyedTable(
                [
                    ("origin", "From"),
                    ("name", "Name / path"),
                    ("kind", "Type / flavors"),
                    ("created", "Created"),
                    ("status", "Status"),
                    ("id", "Model id"),
                ],
                id="models-table",
            )

    def on_mount(self) -> None:
        self.query_one(".empty").display = False

    def show(self, details: RunDetails, data: RunModels) -> None:
        table = self.query_one("#models-table", DataTable)
        table.clear()
        rows = [(model, model_cells(model)) for model in data.models]
        if data.history_unreadable:
            rows.append(
                (RunModel(HISTORY, UNREADABLE_HISTORY, "", ""), (HISTORY, UNREADABLE_HISTORY, ""))
            )
        self.models = {}
        for i, (model, (origin, name, created)) in enumerate(rows):
            key = str(i)
            self.models[key] = model
            table.add_row(
                Text(origin, style="dim"),
                literal(one_line(name)),
                literal(one_line(model.kind)),
                Text(created),
                literal(one_line(model.status)),
                literal(one_line(model.model_id), style="dim"),
                key=key,
            )
        self.show_empty(not rows, "#models-body")

    @on(DataTable.RowSelected, "#models-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        model = self.models.get(key) if key is not None else None
        if model is not None:
            self.post_message(self.Open(model))
