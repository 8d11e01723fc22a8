"""A `mlflow.genai.evaluate` run's results: one row per evaluated trace (request, response, each
scorer's feedback coloured pass/fail from its value alone), the run's aggregate metrics above,
the highlighted row's rationales and errors below; Enter opens the trace."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from mltui.store.genai_evaluation import (
    EvaluatedTrace,
    GenaiEvaluation,
    verdict,
)
from mltui.store.traces import Assessment
from mltui.tui.text import format_value, literal, one_line
from mltui.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from textual import getters

    from mltui.tui.app import MltuiApp

#: Characters of a request or response preview shown in a cell.
PREVIEW = 28
#: Characters of a scorer's value shown in a cell (the detail below shows more).
VALUE = 24
BASE_COLUMNS = [("request", "Request"), ("response", "Response")]


def feedback_cell(feedback: Assessment | None) -> Text:
    """A scorer's value: green ✔ / red ✘ when it reads as pass or fail, `error` when the scorer
    raised, numbers right-aligned, anything else as literal text."""
    if feedback is None:
        return Text("—", style="dim")
    if feedback.error is not None:
        return Text("! error", style="bold red")
    value = feedback.value
    passed = verdict(value)
    if passed is not None:
        return Text(f"{'✔' if passed else '✘'} {value}", style="green" if passed else "red")
    if isinstance(value, int | float):
        return Text(format_value(float(value)), justify="right")
    if value is None:
        return Text("None", style="dim")
    return literal(one_line(value, VALUE))


def row_cells(trace: EvaluatedTrace, scorers: list[str]) -> list[Text]:
    info = trace.info
    return [
        literal(one_line(info.request_preview or "", PREVIEW)),
        literal(one_line(info.response_preview or "", PREVIEW)),
        *(feedback_cell(trace.feedback.get(name)) for name in scorers),
    ]


def aggregates_text(evaluation: GenaiEvaluation) -> Text:
    """`exact_match mean 0.5 · answer_length max 128 mean 45.5` and the number of rows."""
    count = len(evaluation.traces)
    text = Text(f"{count} evaluated trace{'s' if count != 1 else ''}", style="bold")
    for name in evaluation.scorers:
        aggregates = evaluation.aggregates.get(name)
        if not aggregates:
            continue
        text.append("  ·  ", style="dim")
        text.append_text(literal(name, style="cyan"))
        for aggregation, value in aggregates.items():
            text.append_text(literal(f" {aggregation} ", style="dim"))
            text.append(format_value(value))
    return text


def feedback_detail(trace: EvaluatedTrace, scorers: list[str]) -> Table:
    """Each scorer's full value, source, rationale or error for one row."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="cyan", no_wrap=True)
    grid.add_column()
    for name in scorers:
        feedback = trace.feedback.get(name)
        if feedback is None:
            continue
        # A fresh line: the cell's colour and right-alignment are for the cell only.
        line = Text()
        line.append_text(feedback_cell(feedback))
        line.append_text(literal(f"  by {feedback.source_type} {feedback.source_id or ''}", "dim"))
        if feedback.error is not None:
            line.append_text(literal(f"  {one_line(feedback.error, 200)}", style="red"))
        if feedback.rationale:
            line.append_text(literal(f"  “{one_line(feedback.rationale, 200)}”", style="italic"))
        grid.add_row(literal(name), line)
    return grid


class GenaiEvalView(Vertical):
    """One reading of the evaluation, given by `show` (the run page's GenAI eval tab reads it)."""

    if TYPE_CHECKING:
        app = getters.app(MltuiApp)  # typed for the type checker only, as the screens do

    DEFAULT_CSS = """
    GenaiEvalView {
        height: 1fr;
    }
    GenaiEvalView #genai-summary {
        height: auto;
        padding: 0 1;
    }
    GenaiEvalView #genai-eval-table {
        height: 1fr;
    }
    GenaiEvalView #genai-detail {
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.evaluation: GenaiEvaluation | None = None
        self.rows: dict[str, EvaluatedTrace] = {}

    def compose(self) -> ComposeResult:
        yield Static(id="genai-summary")
        yield KeyedTable(BASE_COLUMNS, id="genai-eval-table")
        yield Static(id="genai-detail")

    def show(self, evaluation: GenaiEvaluation) -> None:
        self.evaluation = evaluation
        self.rows = {t.info.trace_id: t for t in evaluation.traces}
        table = self.query_one(KeyedTable)
        scorers = evaluation.scorers
        if [str(key.value) for key in table.columns] != [k for k, _ in BASE_COLUMNS] + scorers:
            table.clear(columns=True)
            for key, label in BASE_COLUMNS:
                table.add_column(label, key=key)
            for name in scorers:
                table.add_column(literal(name), key=name)
        table.set_rows((t.info.trace_id, row_cells(t, scorers)) for t in evaluation.traces)
        self.query_one("#genai-summary", Static).update(aggregates_text(evaluation))
        self._show_detail()

    @on(DataTable.RowHighlighted, "#genai-eval-table")
    def _show_detail(self) -> None:
        trace = self.rows.get(self.query_one(KeyedTable).current_key() or "")
        detail = self.query_one("#genai-detail", Static)
        detail.display = trace is not None
        if trace is not None and self.evaluation is not None:
            detail.update(feedback_detail(trace, self.evaluation.scorers))

    @on(DataTable.RowSelected, "#genai-eval-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.app.open_trace(event.row_key.value)
