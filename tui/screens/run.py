"""One run in full: a header, then params, metrics, tags, artifacts, datasets, models and (for an
evaluation) evaluation tabs.

Each tab is a widget of its own (tui/widgets/run_tabs/); this page reads the run, hands every
reading to every tab (`RunTab.show_run`) and routes what the tabs ask for: a chart, a model's
MLmodel page or folder, a registration. A new tab is one more class in RUN_TABS.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent
from textual.worker import Worker, WorkerState

from mltui.store.follow import Shown, StoreChanges
from mltui.store.run_models import mlmodel_folder, stored_mlmodel_location
from mltui.tui.screens.base import Answer
from mltui.tui.screens.tabbed import TabbedScreen, number_key_bindings
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.artifact_browser import ArtifactBrowser
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.run_header import RunHeader
from mltui.tui.widgets.run_tabs.artifacts import ArtifactsTab
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab
from mltui.tui.widgets.run_tabs.datasets import DatasetsTab
from mltui.tui.widgets.run_tabs.evaluation import EvaluationTab
from mltui.tui.widgets.run_tabs.genai import GenaiEvalTab
from mltui.tui.widgets.run_tabs.metrics import MetricsTab
from mltui.tui.widgets.run_tabs.models import ModelsTab
from mltui.tui.widgets.run_tabs.params import ParamsTab
from mltui.tui.widgets.run_tabs.tags import TagsTab

#: Seconds between readings of a running run when the app follows changes (and no --poll).
FOLLOW_SECONDS = 5.0

#: The tabs, in the order of the number keys (`1` shows the first).
RUN_TABS: list[type[RunTab[Any]]] = [
    ParamsTab,
    MetricsTab,
    TagsTab,
    ArtifactsTab,
    DatasetsTab,
    ModelsTab,
    EvaluationTab,
    GenaiEvalTab,
]
#: (pane id, tab label) in the order of the number keys.
TABS = [(tab.PANE, f"{number} {tab.LABEL}") for number, tab in enumerate(RUN_TABS, 1)]


class RunScreen(TabbedScreen):
    """Everything MLflow recorded about one run."""

    TITLE = "Run"
    TABS = TABS
    DEFAULT_CSS = """
    RunScreen TabbedContent {
        height: 1fr;
    }
    RunScreen TabPane {
        height: 1fr;
        padding: 0;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="run.back"),
        Binding("y", "copy_id", "Copy run id", id="run.copy_id"),
        Binding("tab", "next_tab", "Next tab", id="run.next_tab"),
        Binding("shift+tab", "previous_tab", "Previous tab", id="run.previous_tab", show=False),
        Binding("p", "open_parent", "Parent run", id="run.parent"),
        Binding("r", "reload", "Reload", id="run.reload"),
        Binding("backspace", "run_artifacts", "Run artifacts", id="run.run_artifacts"),
        Binding("g", "chart", "Chart", id="run.chart"),
        Binding("R", "register_model", "Register model", id="run.register_model", show=False),
        *number_key_bindings("run", TABS),
    ]

    class Loaded(Answer):
        def __init__(self, details: RunDetails) -> None:
            super().__init__()
            self.details = details

    class Missing(Message):
        """There is no run with this id in the store."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.details: RunDetails | None = None
        #: Optional tabs (RunTab.OPTIONAL) shown for the last reading.
        self._optional_shown: set[str] = set()
        self._ticker: Timer | None = None
        self._follow: Timer | None = None
        self._read_when_shown = False
        #: `r` was pressed: the next reading resets the tabs (RunDetails.reset).
        self._reset = False

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        store = self.store
        yield Breadcrumbs(store_crumb(store.location, self.app.demo), self.run_id, id="run-crumbs")
        yield RunHeader(id="run-header")
        with TabbedContent(id="run-tabs"):
            for number, tab in enumerate(RUN_TABS, 1):
                yield tab(store, number)
        yield Footer()

    def on_mount(self) -> None:
        tabs = self.query_one(TabbedContent)
        for tab in RUN_TABS:
            if tab.OPTIONAL:
                tabs.hide_tab(tab.PANE)
        self.load()

    # -- reading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def load(self) -> None:
        store = self.store
        run = store.run(self.run_id)
        if run is None:
            self.post_message(self.Missing())
            return
        experiment = store.experiment(run.experiment_id)
        parent = store.run(run.parent_run_id) if run.parent_run_id else None
        details = RunDetails(run, experiment, parent, store.artifact_root(run))
        # Read once for every tab (the Models tab and the metrics' datasets).
        details.logged_models = store.logged_models([run.experiment_id])
        for tab in RUN_TABS:
            details.tab_data[tab.PANE] = tab.read(store, details)
        self.post_message(self.Loaded(details))
        self.store.workers.warm_for([run])  # its long histories chart sooner with the workers up

    def _read_again(self) -> None:
        if not self.app.on_show(self):
            # Under another page, on a store whose follower looks only at what is on show (a
            # tracking server): no requests now; read once when shown again.
            self._read_when_shown = True
            return
        self.load()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        if self._read_when_shown:
            self._read_when_shown = False
            self.load()

    # -- live updates (the app forwards the follower's changes) -------------------------------
    def live_data(self) -> Shown:
        """Its tags: a database's follower compares them, as MLflow rewrites a tag in place.
        (A tracking server's follower ignores them: a running run is read again here.)"""
        return Shown(tags_of=frozenset({self.run_id}))

    def store_changed(self, changes: StoreChanges) -> None:
        """A finished run changed (a tag set or rewritten, a param, its status): read it again.
        A running run is read again on its own timer (its points come many times a second)."""
        if self.run_id not in changes.runs:
            return
        running = self.details is not None and self.details.run.is_running
        if not (running and self._follow is not None):
            self._read_again()

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(one_line(event.worker.error), title="Run", severity="error", markup=False)
            if self.details is None:
                self.query_one(RunHeader).update(Text("The run could not be read.", style="red"))

    def on_run_screen_missing(self, message: Missing) -> None:
        self.query_one(RunHeader).update(
            literal(f"No run {self.run_id} in this store.", style="red")
        )
        self.notify(f"No run {one_line(self.run_id)}", severity="error", markup=False)

    def on_run_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        first = self.details is None
        details = self.details = message.details
        details.reset, self._reset = first or self._reset, False
        run = details.run
        self.query_one(Breadcrumbs).show(
            store_crumb(self.store.location, self.app.demo),
            details.experiment.name if details.experiment else run.experiment_id,
            run.run_name or run.run_id,
        )
        self.render_header()
        self._show_tabs(details)
        if run.is_running and self._ticker is None:
            self._ticker = self.set_interval(1.0, self.render_header)
        elif not run.is_running and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.refresh_bindings()
        if first:
            self._focus_pane(self.query_one(TabbedContent).active)
        # A running run is read again a while after each reading completes (never overlapping);
        # the artifact tree is left as it is, `r` reloads it.
        if self._follow is not None:
            self._follow.stop()
            self._follow = None
        if run.is_running and self.app.watch_store:
            self._follow = self.set_timer(self.app.poll_seconds or FOLLOW_SECONDS, self._read_again)

    def _show_tabs(self, details: RunDetails) -> None:
        """Hand the reading to every tab; show the optional tabs that have something for it."""
        tabs = self.query_one(TabbedContent)
        for tab in self.query(RunTab):
            tab.show_run(details)
            if not tab.OPTIONAL:
                continue
            if tab.has_content(details):
                self._optional_shown.add(tab.PANE)
                tabs.show_tab(tab.PANE)
            else:
                self._optional_shown.discard(tab.PANE)
                tabs.hide_tab(tab.PANE)

    def on_run_tab_status(self, message: RunTab.Status) -> None:
        following = self.details is not None and self.details.run.is_running
        self.query_one(Breadcrumbs).status = message.text or (
            "following" if following and self.app.watch_store else ""
        )

    def render_header(self) -> None:
        if self.details is not None:
            details = self.details
            self.query_one(RunHeader).show(details.run, details.experiment, details.parent)

    # -- routing ---------------------------------------------------------------------------------
    def on_models_tab_open(self, message: ModelsTab.Open) -> None:
        """Enter on a model: its MLmodel page when its folder has one, else its folder."""
        model = message.model
        if self.details is None:
            return
        root = self.details.artifact_root
        folder = mlmodel_folder(model, root)
        if folder is not None:
            self.app.open_mlmodel(folder, self.run_id, label=model.name)
        elif (stored := stored_mlmodel_location(self.store, model, root)) is not None:
            # Read through the store (a tracking server's proxy): the MLmodel file alone.
            self.app.open_stored_mlmodel(*stored, self.run_id, label=model.name)
        elif self.query_one(ArtifactsTab).show_model(model):
            self.refresh_bindings()
            self.action_show_tab("artifacts")

    def on_artifact_browser_open_model(self, message: ArtifactBrowser.OpenModel) -> None:
        self.app.open_mlmodel(message.folder, self.run_id, label=message.rel or "model")

    # -- tabs and focus --------------------------------------------------------------------------
    @on(TabbedContent.TabActivated, "#run-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_pane(event.pane.id or "")
        self.refresh_bindings()

    def _focus_pane(self, pane: str) -> None:
        for tab in self.query(RunTab):
            if pane == tab.PANE:
                tab.focus_content()

    # -- actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_tab":
            optional = {tab.PANE for tab in RUN_TABS if tab.OPTIONAL}
            return parameters[0] not in optional or parameters[0] in self._optional_shown
        if action == "open_parent":
            return bool(self.details and self.details.run.parent_run_id)
        if action == "run_artifacts":
            tabs = self.query(TabbedContent)
            return (
                bool(tabs)
                and tabs.first().active == "artifacts"
                and not self.query_one(ArtifactsTab).browsing_run_root
            )
        return True

    def action_chart(self) -> None:
        """Chart this run's metrics (the one under the cursor on the Metrics tab, if any)."""
        key = None
        if self.query_one(TabbedContent).active == "metrics":
            key = self.query_one(MetricsTab).current_metric()
        self.app.open_chart([self.run_id], [key] if key else None)

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.run_id)
        self.notify(f"Copied run id {one_line(self.run_id)}", timeout=3, markup=False)

    def action_open_parent(self) -> None:
        if self.details and self.details.run.parent_run_id:
            self.app.open_run(self.details.run.parent_run_id)

    def action_reload(self) -> None:
        self._reset = True
        self.load()

    def action_run_artifacts(self) -> None:
        self.query_one(ArtifactsTab).browse_run()
        self.refresh_bindings()

    def action_register_model(self) -> None:
        from mltui.tui.screens.dialogs.register import RegisterModelScreen

        def registered(done: bool | None) -> None:
            if done:
                self.load()

        self.app.push_screen(RegisterModelScreen(self.run_id), registered)
