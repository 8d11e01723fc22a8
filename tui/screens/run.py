"""One run in full: a header, then params, metrics, tags, artifacts, datasets, models and (for an
evaluation) evaluation tabs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Markdown, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from mltui.store import ArtifactRoot, Store
from mltui.store.entities import (
    DELETED,
    TAG_LOG_MODEL_HISTORY,
    TAG_NOTE,
    TAG_SOURCE_NAME,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    Run,
)
from mltui.store.evaluations import (
    DatasetMetrics,
    EvalTable,
    eval_table_paths,
    metrics_by_dataset,
    read_eval_table,
)
from mltui.store.mlmodel import logged_model_artifact_root, logged_model_kind
from mltui.tui import clock
from mltui.tui.present.metric_groups import metric_sections
from mltui.tui.screens.tabbed import TabbedScreen, number_key_bindings
from mltui.tui.text import clean, format_duration, format_time, format_value, literal, one_line
from mltui.tui.widgets.artifact_browser import ArtifactBrowser
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.eval_tables import eval_tables
from mltui.tui.widgets.genai_eval import GenaiEvalView
from mltui.tui.widgets.kv_table import KeyValueTable
from mltui.tui.widgets.runs_table import STATUS_LOOK

SYSTEM_TAG_PREFIX = "mlflow."
#: Seconds between readings of a running run when the app follows changes (and no --poll).
FOLLOW_SECONDS = 5.0
#: Width of the header's label column ("Experiment" and a space).
LABEL_WIDTH = 11
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_DATA_CONTEXT = "mlflow.data.context"
#: Row keys of the Metrics tab's group headings (no metric key starts with a NUL).
HEADING_KEY = "\x00"

#: (pane id, tab label) in the order of the number keys.
TABS = [
    ("params", "1 Params"),
    ("metrics", "2 Metrics"),
    ("tags", "3 Tags"),
    ("artifacts", "4 Artifacts"),
    ("datasets", "5 Datasets"),
    ("models", "6 Models"),
    # Shown only for a run with evaluation results tables (mlflow.evaluate).
    ("evaluation", "7 Evaluation"),
    # Shown only for a run of mlflow.genai.evaluate with evaluated traces.
    ("genai", "8 GenAI eval"),
]


def status_text(status: str, lifecycle_stage: str = "") -> Text:
    """A run status as a coloured symbol and word (`✔ FINISHED`), `deleted` added when it is."""
    symbol, style = STATUS_LOOK.get(status, ("?", "dim"))
    text = Text(f"{symbol} {status}", style=style)
    if lifecycle_stage == DELETED:
        text.append("  deleted", style="bold red")
    return text


# -- metrics -------------------------------------------------------------------------------------
@dataclass(slots=True, frozen=True)
class MetricSummary:
    """What a metric's whole history says: extremes (NaN ignored) and how much was logged."""

    minimum: float
    maximum: float
    steps: int
    points: int


def summarize_history(history: list[Metric]) -> MetricSummary:
    """Min and max over the non-NaN values (NaN when there are none), distinct steps, points."""
    numbers = [m.value for m in history if not math.isnan(m.value)]
    return MetricSummary(
        minimum=min(numbers) if numbers else math.nan,
        maximum=max(numbers) if numbers else math.nan,
        steps=len({m.step for m in history}),
        points=len(history),
    )


def _number(value: float | None) -> Text:
    if value is None:
        return Text("…", style="dim", justify="right")
    style = "yellow" if math.isnan(value) or math.isinf(value) else ""
    return Text(format_value(value), style=style, justify="right")


def _count(value: int | None) -> Text:
    return Text(
        "…" if value is None else str(value), style="dim" if value is None else "", justify="right"
    )


# -- datasets ------------------------------------------------------------------------------------
def _json(value: str | None) -> object:
    if not value:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def schema_columns(schema: str | None) -> list[tuple[str, str]]:
    """(name, type) of each column or tensor of an MLflow dataset schema (JSON text)."""
    data = _json(schema)
    if isinstance(data, dict) and "mlflow_colspec" in data:
        data = data["mlflow_colspec"]
    elif isinstance(data, dict) and "mlflow_tensorspec" in data:
        out: list[tuple[str, str]] = []
        spec = data["mlflow_tensorspec"]
        for part in ("features", "targets"):
            tensors = _json(spec.get(part)) if isinstance(spec, dict) else None
            for t in tensors if isinstance(tensors, list) else []:
                if isinstance(t, dict):
                    ts = t.get("tensor-spec") or {}
                    kind = f"tensor {ts.get('dtype', '?')} {ts.get('shape', '')}".strip()
                    out.append((str(t.get("name") or part), kind))
        return out
    if not isinstance(data, list):
        return []
    return [(str(c.get("name", "")), str(c.get("type", ""))) for c in data if isinstance(c, dict)]


def schema_summary(schema: str | None, limit: int = 60) -> str:
    """`3 cols: a double, b long, …` or an empty string when there is no readable schema."""
    cols = schema_columns(schema)
    if not cols:
        return "" if not schema else "(unreadable schema)"
    text = f"{len(cols)} col{'s' if len(cols) != 1 else ''}: " + ", ".join(
        f"{name} {kind}".strip() for name, kind in cols
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def source_summary(source: str) -> str:
    """The part of a dataset source (JSON text) a person recognises: its URL, path or table."""
    data = _json(source)
    if isinstance(data, dict):
        for key in ("url", "uri", "path", "table_name", "repo_id", "file_path", "source"):
            if data.get(key):
                return str(data[key])
        tags = data.get("tags")
        if isinstance(tags, dict) and tags.get(TAG_SOURCE_NAME):
            return str(tags[TAG_SOURCE_NAME])
        return ", ".join(f"{k}={v}" for k, v in data.items())
    return source


# -- models --------------------------------------------------------------------------------------
@dataclass(slots=True)
class ModelRow:
    """One row of the Models tab: a 3.x logged model or a 1.x/2.x log-model history entry."""

    origin: str
    name: str
    model_id: str
    kind: str
    created: str
    status: str
    #: 1.x/2.x: where the model is under the run's artifacts.
    artifact_path: str | None = None
    #: 3.x: the logged model's own artifact folder.
    root: ArtifactRoot | None = None


def log_model_history(run: Run) -> list[ModelRow]:
    """The entries of the `mlflow.log-model.history` tag (MLflow 1.x/2.x `log_model`)."""
    raw = run.tags.get(TAG_LOG_MODEL_HISTORY)
    if not raw:
        return []
    data = _json(raw)
    if not isinstance(data, list):
        return [ModelRow("history", "(unreadable mlflow.log-model.history tag)", "", "", "", "")]
    rows = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        flavors = entry.get("flavors")
        path = str(entry.get("artifact_path") or "")
        rows.append(
            ModelRow(
                origin="history",
                name=path,
                model_id=str(entry.get("model_uuid") or ""),
                kind=", ".join(flavors) if isinstance(flavors, dict) else "",
                created=str(entry.get("utc_time_created") or "")[:19] + " UTC",
                status="",
                artifact_path=path or None,
            )
        )
    return rows


def model_rows(
    store: Store, run: Run, in_experiment: list[LoggedModel] | None = None
) -> list[ModelRow]:
    """The run's logged models (MLflow 3) and model outputs, then its log-model history.

    `in_experiment`: the logged models of the run's experiment, when the caller has read them."""
    rows: list[ModelRow] = []
    output_steps = {o.model_id: o.step for o in run.outputs or []}
    if in_experiment is None:
        in_experiment = store.logged_models([run.experiment_id])
    logged = [
        m for m in in_experiment if m.source_run_id == run.run_id or m.model_id in output_steps
    ]
    logged.sort(key=lambda m: (m.creation_timestamp or 0, m.model_id))
    for m in logged:
        step = output_steps.get(m.model_id)
        root = logged_model_artifact_root(store, m)
        rows.append(
            ModelRow(
                origin="logged model" if step is None else f"output, step {step}",
                name=m.name,
                model_id=m.model_id,
                kind=logged_model_kind(m, root),
                created=format_time(m.creation_timestamp),
                status=m.status,
                root=root,
            )
        )
    known = {m.model_id for m in logged}
    for model_id, step in output_steps.items():
        if model_id not in known:
            rows.append(
                ModelRow(f"output, step {step}", "(not in this experiment)", model_id, "", "", "")
            )
    return rows + log_model_history(run)


# -- the screen ----------------------------------------------------------------------------------
@dataclass(slots=True)
class RunDetails:
    """Everything the screen shows except metric histories, read in one worker."""

    run: Run
    experiment: Experiment | None
    parent: Run | None
    artifact_root: ArtifactRoot
    models: list[ModelRow] = field(default_factory=list)
    #: The run's metrics by the dataset MLflow recorded them with (evaluations).
    metric_groups: list[DatasetMetrics] = field(default_factory=list)
    eval_tables: list[EvalTable] = field(default_factory=list)


class RunScreen(TabbedScreen):
    """Everything MLflow recorded about one run."""

    TITLE = "Run"
    TABS = TABS
    DEFAULT_CSS = """
    RunScreen #run-header {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    RunScreen TabbedContent {
        height: 1fr;
    }
    RunScreen TabPane {
        height: 1fr;
        padding: 0;
    }
    RunScreen .empty {
        padding: 1 2;
        color: $text-muted;
    }
    RunScreen #tags-pane {
        height: 1fr;
        padding: 0 1;
    }
    RunScreen #tags-pane > .heading {
        margin-top: 1;
        text-style: bold;
    }
    RunScreen #run-note {
        margin: 0 0 1 0;
        padding: 0 1;
        height: auto;
    }
    RunScreen #run-note > *:first-child {
        margin-top: 0;
    }
    RunScreen #dataset-detail {
        height: auto;
        max-height: 10;
        padding: 0 1;
        background: $boost;
    }
    RunScreen #evaluation-pane {
        height: 1fr;
        padding: 0 1;
    }
    RunScreen .hint {
        padding: 0 1;
        color: $text-muted;
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

    class Loaded(Message):
        def __init__(self, details: RunDetails) -> None:
            super().__init__()
            self.details = details

    class Missing(Message):
        """There is no run with this id in the store."""

    class HistorySummarized(Message):
        def __init__(self, summaries: dict[str, MetricSummary]) -> None:
            super().__init__()
            self.summaries = summaries

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.details: RunDetails | None = None
        self.summaries: dict[str, MetricSummary] = {}
        self.models: dict[str, ModelRow] = {}
        #: Dataset inputs in the order of the Datasets table.
        self.inputs: list[DatasetInput] = []
        self._ticker: Timer | None = None
        self._follow: Timer | None = None
        self._browsing_run_root = True
        self._reset_artifacts = False
        self._note = ""

    # -- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        store = self.store
        yield Breadcrumbs(store_crumb(store.location, self.app.demo), self.run_id, id="run-crumbs")
        yield Static(Text("Loading run…", style="dim"), id="run-header")
        with TabbedContent(id="run-tabs"):
            with TabPane(TABS[0][1], id="params"):
                yield Static("No params.", classes="empty", id="params-empty")
                yield KeyValueTable("Param", "Value", id="params-table")
            with TabPane(TABS[1][1], id="metrics"):
                yield Static("No metrics.", classes="empty", id="metrics-empty")
                table: DataTable[Text] = DataTable(
                    id="metrics-table", cursor_type="row", zebra_stripes=True
                )
                for key, label in [
                    ("key", "Metric"),
                    ("latest", "Latest"),
                    ("step", "Step"),
                    ("min", "Min"),
                    ("max", "Max"),
                    ("steps", "Steps"),
                    ("points", "Points"),
                ]:
                    table.add_column(label, key=key)
                yield table
            with TabPane(TABS[2][1], id="tags"), VerticalScroll(id="tags-pane"):
                yield Static(id="user-tags")
                yield Static(id="system-tags")
                yield Static(Text("Note"), classes="heading", id="note-heading")
                yield Markdown(id="run-note", open_links=False)
            with TabPane(TABS[3][1], id="artifacts"):
                yield ArtifactBrowser(id="artifact-browser")
            with TabPane(TABS[4][1], id="datasets"):
                yield Static("No dataset inputs.", classes="empty", id="datasets-empty")
                with Vertical(id="datasets-body"):
                    datasets: DataTable[Text] = DataTable(
                        id="datasets-table", cursor_type="row", zebra_stripes=True
                    )
                    for key, label in [
                        ("name", "Name"),
                        ("context", "Context"),
                        ("schema", "Schema"),
                        ("type", "Source type"),
                        ("source", "Source"),
                        ("digest", "Digest"),
                    ]:
                        datasets.add_column(label, key=key)
                    yield datasets
                    yield Static(id="dataset-detail")
            with TabPane(TABS[5][1], id="models"):
                yield Static("No models logged by this run.", classes="empty", id="models-empty")
                with Vertical(id="models-body"):
                    yield Static(
                        "Enter opens a model's MLmodel view; R registers it.",
                        classes="hint",
                        id="models-hint",
                    )
                    models: DataTable[Text] = DataTable(
                        id="models-table", cursor_type="row", zebra_stripes=True
                    )
                    for key, label in [
                        ("origin", "From"),
                        ("name", "Name / path"),
                        ("kind", "Type / flavors"),
                        ("created", "Created"),
                        ("status", "Status"),
                        ("id", "Model id"),
                    ]:
                        models.add_column(label, key=key)
                    yield models
            with TabPane(TABS[6][1], id="evaluation"), VerticalScroll(id="evaluation-pane"):
                yield Static(id="evaluation-body")
            with TabPane(TABS[7][1], id="genai"):
                yield GenaiEvalView(id="genai-eval")
        yield Footer()

    def on_mount(self) -> None:
        for empty in self.query(".empty"):
            empty.display = False
        self.query_one("#note-heading").display = False
        self.query_one("#run-note").display = False
        self.query_one(TabbedContent).hide_tab("evaluation")
        self.query_one(TabbedContent).hide_tab("genai")
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
        # Read once for the Models tab and the metrics' datasets.
        in_experiment = store.logged_models([run.experiment_id])
        details.models = model_rows(store, run, in_experiment)
        details.metric_groups = metrics_by_dataset(store, run, in_experiment)
        details.eval_tables = [read_eval_table(store, run, p) for p in eval_table_paths(store, run)]
        self.post_message(self.Loaded(details))
        self.store.workers.warm_for([run])  # its long histories chart sooner with the workers up

    def _read_again(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="run-history", exit_on_error=False)
    def summarize_metrics(self, run_id: str, keys: list[str]) -> None:
        worker = get_current_worker()
        store = self.store
        batch: dict[str, MetricSummary] = {}
        for key in keys:
            if worker.is_cancelled:
                return
            batch[key] = summarize_history(store.metric_history(run_id, key))
            if len(batch) >= 20:
                self.post_message(self.HistorySummarized(batch))
                batch = {}
        if batch:
            self.post_message(self.HistorySummarized(batch))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "run-history" and event.state in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self._show_status("")
        if event.state == WorkerState.ERROR:
            self.notify(one_line(event.worker.error), title="Run", severity="error", markup=False)
            if self.details is None:
                self.query_one("#run-header", Static).update(
                    Text("The run could not be read.", style="red")
                )

    def on_run_screen_missing(self, message: Missing) -> None:
        self.query_one("#run-header", Static).update(
            literal(f"No run {self.run_id} in this store.", style="red")
        )
        self.notify(f"No run {one_line(self.run_id)}", severity="error", markup=False)

    def on_run_screen_loaded(self, message: Loaded) -> None:
        first = self.details is None
        details = self.details = message.details
        run = details.run
        store = self.store
        self.query_one(Breadcrumbs).show(
            store_crumb(store.location, self.app.demo),
            details.experiment.name if details.experiment else run.experiment_id,
            run.run_name or run.run_id,
        )
        self.render_header()
        self.show_params(run)
        self.show_metrics(run)
        self.show_tags(run)
        self.show_datasets(run)
        self.show_models(details.models)
        self.show_evaluation(details.eval_tables)
        self.query_one(GenaiEvalView).show_run(store, run)
        if first or self._reset_artifacts:
            self._reset_artifacts = False
            self._browse_run_artifacts()
        if run.is_running and self._ticker is None:
            self._ticker = self.set_interval(1.0, self.render_header)
        elif not run.is_running and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.refresh_bindings()
        if first:
            self._focus_pane(self.query_one(TabbedContent).active)
        if run.metrics and first:
            self._show_status("reading metric histories…")
        self.summarize_metrics(run.run_id, sorted(run.metrics))
        # A running run is read again a while after each reading completes (never overlapping);
        # the artifact tree is left as it is, `r` reloads it.
        if self._follow is not None:
            self._follow.stop()
            self._follow = None
        if run.is_running and self.app.watch_store:
            self._follow = self.set_timer(self.app.poll_seconds or FOLLOW_SECONDS, self._read_again)

    def on_run_screen_history_summarized(self, message: HistorySummarized) -> None:
        self.summaries.update(message.summaries)
        table = self.query_one("#metrics-table", DataTable)
        for key, summary in message.summaries.items():
            if key not in table.rows:
                continue
            table.update_cell(key, "min", _number(summary.minimum), update_width=True)
            table.update_cell(key, "max", _number(summary.maximum), update_width=True)
            table.update_cell(key, "steps", _count(summary.steps), update_width=True)
            table.update_cell(key, "points", _count(summary.points), update_width=True)

    # -- showing ---------------------------------------------------------------------------------
    def _show_status(self, status: str) -> None:
        following = self.details is not None and self.details.run.is_running
        self.query_one(Breadcrumbs).status = status or (
            "following" if following and self.app.watch_store else ""
        )

    def render_header(self) -> None:
        if self.details is None:
            return
        run, parent, exp = self.details.run, self.details.parent, self.details.experiment
        title = literal(one_line(run.run_name or "(no name)"), style="bold")
        title.no_wrap, title.overflow = True, "ellipsis"
        title.append("   ")
        title.append_text(status_text(run.status, run.lifecycle_stage))

        end = run.end_time
        if run.is_running and run.start_time is not None:
            duration = format_duration(clock.now_ms() - run.start_time) + " (running)"
        elif run.start_time is not None and end is not None:
            duration = format_duration(end - run.start_time)
        else:
            duration = ""
        source = run.tags.get(TAG_SOURCE_NAME, "")
        commit = run.tags.get(TAG_GIT_COMMIT, "")
        if commit:
            source = f"{source} @ {commit[:8]}" if source else commit[:8]
        exp_text = f"{exp.name} ({run.experiment_id})" if exp else run.experiment_id

        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim", no_wrap=True, min_width=LABEL_WIDTH - 1)
        grid.add_column(no_wrap=True)  # as wide as a whole run id
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(ratio=1)
        rows = [
            ("Run id", run.run_id, "Experiment", exp_text),
            ("Start", format_time(run.start_time), "End", format_time(end)),
            ("Duration", duration, "User", run.user_id),
        ]
        for a, b, c, d in rows:
            grid.add_row(a, _cell(b), c, _cell(d))
        lines: list[RenderableType] = [title, grid, _TailLine("Source", source)]
        if run.parent_run_id:
            name = parent.run_name if parent else "(not found)"
            lines.append(_TailLine("Parent", f"{name} ({run.parent_run_id})", keep_head=True))
        self.query_one("#run-header", Static).update(Group(*lines))

    def _toggle_empty(self, name: str, empty: bool, body: str) -> None:
        self.query_one(f"#{name}-empty").display = empty
        self.query_one(body).display = not empty

    def show_params(self, run: Run) -> None:
        table = self.query_one("#params-table", KeyValueTable)
        table.set_items(sorted(run.params.items()))
        self._toggle_empty("params", not run.params, "#params-table")

    def show_metrics(self, run: Run) -> None:
        table = self.query_one("#metrics-table", DataTable)
        keep = table.cursor_row
        table.clear()
        groups = self.details.metric_groups if self.details else []
        by_dataset = [
            (f"Dataset {g.dataset_name} ({g.dataset_digest})", list(g.metrics))
            for g in groups
            if g.dataset_name is not None
        ]
        for heading, keys in metric_sections(list(run.metrics), by_dataset):
            if heading is not None:
                table.add_row(
                    literal(heading, style="bold"), *[Text("")] * 6, key=f"{HEADING_KEY}{heading}"
                )
            self._add_metric_rows(table, run, keys)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))
        self._toggle_empty("metrics", not run.metrics, "#metrics-table")

    def _add_metric_rows(self, table: DataTable, run: Run, keys: list[str]) -> None:
        for key in keys:
            metric = run.metrics[key]
            summary = self.summaries.get(key)
            table.add_row(
                literal(one_line(key)),
                _number(metric.value),
                Text(str(metric.step), justify="right"),
                _number(summary.minimum if summary else None),
                _number(summary.maximum if summary else None),
                _count(summary.steps if summary else None),
                _count(summary.points if summary else None),
                key=key,
            )

    def show_evaluation(self, tables: list[EvalTable]) -> None:
        tabs = self.query_one(TabbedContent)
        if tables:
            tabs.show_tab("evaluation")
        else:
            tabs.hide_tab("evaluation")
        self.query_one("#evaluation-body", Static).update(eval_tables(tables))

    def show_tags(self, run: Run) -> None:
        user = sorted((k, v) for k, v in run.tags.items() if not k.startswith(SYSTEM_TAG_PREFIX))
        system = sorted(
            (k, v) for k, v in run.tags.items() if k.startswith(SYSTEM_TAG_PREFIX) and k != TAG_NOTE
        )
        self.query_one("#user-tags", Static).update(_tag_table("Tags", user))
        self.query_one("#system-tags", Static).update(_tag_table("System tags (mlflow.*)", system))
        note = run.tags.get(TAG_NOTE, "")
        shown = bool(note.strip())
        self.query_one("#note-heading").display = shown
        markdown = self.query_one("#run-note", Markdown)
        markdown.display = shown
        # The note is the user's own Markdown; control characters are made visible first so it
        # can never drive the terminal.
        if note != self._note:
            self._note = note
            markdown.update(clean(note.replace("\r\n", "\n")) if shown else "")

    def show_datasets(self, run: Run) -> None:
        table = self.query_one("#datasets-table", DataTable)
        table.clear()
        inputs = self.inputs = sorted(
            run.inputs or [], key=lambda di: (di.dataset.name, di.dataset.digest)
        )
        for i, di in enumerate(inputs):
            d = di.dataset
            context = di.tags.get(TAG_DATA_CONTEXT, "")
            others = ", ".join(
                f"{k}={v}" for k, v in sorted(di.tags.items()) if k != TAG_DATA_CONTEXT
            )
            if others:
                context = f"{context} ({others})" if context else others
            table.add_row(
                literal(one_line(d.name)),
                literal(one_line(context, 40)),
                literal(one_line(schema_summary(d.schema, 28))),
                literal(one_line(d.source_type)),
                literal(one_line(source_summary(d.source), 36)),
                literal(one_line(d.digest), style="dim"),
                key=str(i),
            )
        self._toggle_empty("datasets", not inputs, "#datasets-body")
        self._show_dataset_detail(0 if inputs else None)

    @on(DataTable.RowHighlighted, "#datasets-table")
    def _dataset_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_dataset_detail(event.cursor_row)

    def _show_dataset_detail(self, index: int | None) -> None:
        detail = self.query_one("#dataset-detail", Static)
        inputs = self.inputs
        if index is None or index >= len(inputs):
            detail.update("")
            return
        d = inputs[index].dataset
        text = Text()
        text.append("Digest  ", style="dim")
        text.append_text(literal(one_line(d.digest)))
        text.append("\nSource  ", style="dim")
        text.append_text(literal(one_line(d.source, 400)))
        cols = schema_columns(d.schema)
        if cols:
            text.append("\nSchema  ", style="dim")
            text.append_text(literal(", ".join(f"{name}: {kind}" for name, kind in cols)))
        profile = _json(d.profile)
        if isinstance(profile, dict) and profile:
            text.append("\nProfile ", style="dim")
            text.append_text(literal(", ".join(f"{k}={v}" for k, v in profile.items())))
        detail.update(text)

    def show_models(self, rows: list[ModelRow]) -> None:
        table = self.query_one("#models-table", DataTable)
        table.clear()
        self.models = {}
        for i, row in enumerate(rows):
            key = str(i)
            self.models[key] = row
            table.add_row(
                Text(row.origin, style="dim"),
                literal(one_line(row.name)),
                literal(one_line(row.kind)),
                Text(row.created),
                literal(one_line(row.status)),
                literal(one_line(row.model_id), style="dim"),
                key=key,
            )
        self._toggle_empty("models", not rows, "#models-body")

    # -- artifacts -------------------------------------------------------------------------------
    def _browse_run_artifacts(self, reveal: str | None = None) -> None:
        if self.details is None:
            return
        self._browsing_run_root = True
        browser = self.query_one(ArtifactBrowser)
        browser.set_root(
            self.details.artifact_root,
            "Run artifacts",
            reveal=reveal,
            store_dir=self._store_dir(),
            store=self.store,
        )
        self.refresh_bindings()

    def _store_dir(self) -> Path | None:
        """The folder paths are shown relative to (None: artifact URIs are shown as they are)."""
        return self.store.folder

    @on(DataTable.RowSelected, "#models-table")
    def _model_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        row = self.models.get(key) if key is not None else None
        if row is None or self.details is None:
            return
        folder = row.root.path if row.root is not None else None
        if row.artifact_path and self.details.artifact_root.path is not None:
            folder = self.details.artifact_root.path / row.artifact_path
        if folder is not None and (folder / "MLmodel").is_file():
            self.app.open_mlmodel(folder, self.run_id, label=row.name)
            return
        browser = self.query_one(ArtifactBrowser)
        if row.root is not None:
            if not self.store.can_browse_artifacts(row.root):
                self.notify(one_line(row.root.note or "cannot be browsed locally"), markup=False)
                return
            self._browsing_run_root = False
            browser.set_root(
                row.root,
                f"Logged model {one_line(row.name)} ({row.model_id})",
                store_dir=self._store_dir(),
                store=self.store,
            )
            self.refresh_bindings()
        elif row.artifact_path is not None:
            if not self.store.can_browse_artifacts(self.details.artifact_root):
                self.notify(
                    one_line(self.details.artifact_root.note or "cannot be browsed locally"),
                    markup=False,
                )
                return
            if self._browsing_run_root:
                browser.reveal(row.artifact_path)
            else:
                self._browse_run_artifacts(reveal=row.artifact_path)
        else:
            self.notify("This model has no artifact folder to open.", timeout=3)
            return
        self.action_show_tab("artifacts")

    def on_genai_eval_view_found(self, message: GenaiEvalView.Found) -> None:
        tabs = self.query_one(TabbedContent)
        (tabs.show_tab if message.evaluation else tabs.hide_tab)("genai")

    # -- tabs and focus --------------------------------------------------------------------------
    @on(TabbedContent.TabActivated, "#run-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_pane(event.pane.id or "")
        self.refresh_bindings()

    def _focus_pane(self, pane: str) -> None:
        target = {
            "params": "#params-table",
            "metrics": "#metrics-table",
            "tags": "#tags-pane",
            "datasets": "#datasets-table",
            "models": "#models-table",
            "evaluation": "#evaluation-pane",
            "genai": "#genai-eval-table",
        }.get(pane)
        if pane == "artifacts":
            self.query_one(ArtifactBrowser).focus_tree()
        elif target is not None:
            self.query_one(target).focus()

    # -- actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "show_tab" and parameters == ("evaluation",):
            return bool(self.details and self.details.eval_tables)
        if action == "show_tab" and parameters == ("genai",):
            return bool(self.query_one(GenaiEvalView).rows)
        if action == "open_parent":
            return bool(self.details and self.details.run.parent_run_id)
        if action == "run_artifacts":
            tabs = self.query(TabbedContent)
            return not self._browsing_run_root and bool(tabs) and tabs.first().active == "artifacts"
        return True

    def on_artifact_browser_open_model(self, message: ArtifactBrowser.OpenModel) -> None:
        self.app.open_mlmodel(message.folder, self.run_id, label=message.rel or "model")

    def action_chart(self) -> None:
        """Chart this run's metrics (the one under the cursor on the Metrics tab, if any)."""
        key = None
        if self.query_one(TabbedContent).active == "metrics":
            table = self.query_one("#metrics-table", DataTable)
            if table.row_count:
                key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key is not None and key.startswith(HEADING_KEY):
                key = None  # a group's heading: the chart picks a metric
        self.app.open_chart([self.run_id], [key] if key else None)

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.run_id)
        self.notify(f"Copied run id {one_line(self.run_id)}", timeout=3, markup=False)

    def action_open_parent(self) -> None:
        if self.details and self.details.run.parent_run_id:
            self.app.open_run(self.details.run.parent_run_id)

    def action_reload(self) -> None:
        self._reset_artifacts = True
        self.load()

    def action_run_artifacts(self) -> None:
        self._browse_run_artifacts()

    def action_register_model(self) -> None:
        from mltui.tui.screens.dialogs.register import RegisterModelScreen

        def registered(done: bool | None) -> None:
            if done:
                self.load()

        self.app.push_screen(RegisterModelScreen(self.run_id), registered)


def _cell(value: str) -> Text:
    return Text(one_line(value), no_wrap=True, overflow="ellipsis")


class _TailLine:
    """`Label     value` on one line; a value too long loses its start (paths end in the file name)."""

    def __init__(self, label: str, value: str, *, keep_head: bool = False) -> None:
        self.label = label
        self.value = one_line(value, 1000)
        self.keep_head = keep_head

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = max(options.max_width - LABEL_WIDTH, 1)
        value = Text(self.value)
        if value.cell_len > room:
            if self.keep_head:
                value.truncate(room, overflow="ellipsis")
            else:
                # Drop characters from the start until the rest fits beside an ellipsis.
                chars = self.value
                while chars and cell_len(chars) > room - 1:
                    chars = chars[1:]
                value = Text("…" + chars)
        line = Text(self.label.ljust(LABEL_WIDTH), style="dim", no_wrap=True, overflow="crop")
        line.append_text(value)
        yield line


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
