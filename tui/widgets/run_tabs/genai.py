"""The run page's GenAI eval tab, for a run of `mlflow.genai.evaluate` with evaluated traces."""

from __future__ import annotations

from textual.app import ComposeResult

from mltui.store import Store
from mltui.store.genai_evaluation import GenaiEvaluation, genai_evaluation, is_genai_evaluation
from mltui.tui.widgets.genai_eval import GenaiEvalView
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab


class GenaiEvalTab(RunTab[GenaiEvaluation | None]):
    PANE = "genai"
    LABEL = "GenAI eval"
    FOCUS = "#genai-eval-table"
    OPTIONAL = True

    @classmethod
    def read(cls, store: Store, details: RunDetails) -> GenaiEvaluation | None:
        # Only a run MLflow tagged as a genai.evaluate run is looked up in the traces.
        if not is_genai_evaluation(details.run):
            return None
        return genai_evaluation(store, details.run)

    def compose(self) -> ComposeResult:
        yield GenaiEvalView(id="genai-eval")

    def has_content(self, details: RunDetails) -> bool:
        evaluation = details.tab_data.get(self.PANE)
        return evaluation is not None and bool(evaluation.traces)

    def show(self, details: RunDetails, data: GenaiEvaluation | None) -> None:
        if data is not None:
            self.query_one(GenaiEvalView).show(data)
