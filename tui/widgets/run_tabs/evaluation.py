"""The run page's Evaluation tab, for a run with evaluation results tables (`mlflow.evaluate`)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from mltui.store import Store
from mltui.store.evaluations import EvalTable, eval_table_paths, read_eval_table
from mltui.tui.widgets.eval_tables import eval_tables
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab


class EvaluationTab(RunTab[list[EvalTable]]):
    PANE = "evaluation"
    LABEL = "Evaluation"
    FOCUS = "#evaluation-pane"
    OPTIONAL = True
    DEFAULT_CSS = """
    EvaluationTab #evaluation-pane {
        height: 1fr;
        padding: 0 1;
    }
    """

    @classmethod
    def read(cls, store: Store, details: RunDetails) -> list[EvalTable]:
        run = details.run
        return [read_eval_table(store, run, p) for p in eval_table_paths(store, run)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="evaluation-pane"):
            yield Static(id="evaluation-body")

    def has_content(self, details: RunDetails) -> bool:
        return bool(details.tab_data.get(self.PANE))

    def show(self, details: RunDetails, data: list[EvalTable]) -> None:
        self.query_one("#evaluation-body", Static).update(eval_tables(data))
