"""The run page's Params tab: the run's params, sorted by key, shown literally."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from mltui.tui.widgets.kv_table import KeyValueTable
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab


class ParamsTab(RunTab[None]):
    PANE = "params"
    LABEL = "Params"
    FOCUS = "#params-table"

    def compose(self) -> ComposeResult:
        yield Static("No params.", classes="empty", id="params-empty")
        yield KeyValueTable("Param", "Value", id="params-table")

    def on_mount(self) -> None:
        self.query_one(".empty").display = False

    def show(self, details: RunDetails, data: None) -> None:
        run = details.run
        self.query_one(KeyValueTable).set_items(sorted(run.params.items()))
        self.show_empty(not run.params, "#params-table")
