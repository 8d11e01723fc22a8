"""MLflow 3 logged models (MLflow's Models tab): the list of the chosen experiments' models, and
one model opened with its params, metrics (each with its dataset and step), tags and MLmodel."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from mltui.store.entities import LoggedModel, LoggedModelMetric
from mltui.store.mlmodel import logged_model_kind
from mltui.store.registry import TAG_MODEL_VERSIONS
from mltui.tui.present.compare import lower_is_better
from mltui.tui.screens.base import in_key_order
from mltui.tui.screens.sortable import SortableFilterable
from mltui.tui.screens.tabbed import TabbedScreen, number_key_bindings
from mltui.tui.text import format_time, format_time_short, format_value, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.kv_table import KeyValueTable

#: (column key, label) always shown; metric columns go between these and the params.
FIXED_COLUMNS = [
    ("name", "Name"),
    ("run", "Source run"),
    ("status", "Status"),
    ("created", "Created"),
    ("registered", "Registered"),
]
STATUS_STYLE = {"READY": "green", "PENDING": "yellow", "FAILED": "red"}
#: A metric column: (metric key, dataset name or None for points logged without a dataset).
MetricColumn = tuple[str, str | None]


def metric_columns(models: Sequence[LoggedModel]) -> list[MetricColumn]:
    """One column per metric key and dataset found among `models`, by key, then dataset."""
    found = {(m.key, m.dataset_name) for model in models for m in model.metrics}
    return sorted(found, key=lambda c: (c[0], c[1] or ""))


def metric_label(column: MetricColumn) -> str:
    key, dataset = column
    return key if dataset is None else f"{key} [{dataset}]"


def latest_metric(model: LoggedModel, column: MetricColumn) -> LoggedModelMetric | None:
    """The model's latest point of that metric on that dataset (the one MLflow sorts by)."""
    points = [m for m in model.metrics if (m.key, m.dataset_name) == column]
    return max(points, key=lambda m: (m.timestamp, m.step), default=None)


def registered_versions(model: LoggedModel) -> str:
    """`wine-classifier v2 v3, churn-model v1`: the versions registered from this model, as
    MLflow lists them in its mlflow.modelVersions tag (shown as written if it is not that list)."""
    raw = model.tags.get(TAG_MODEL_VERSIONS)
    if not raw:
        return ""
    try:
        entries = json.loads(raw)
        pairs = [(str(e["name"]), str(e["version"])) for e in entries]
    except (ValueError, TypeError, KeyError):
        return raw
    versions: dict[str, list[str]] = {}
    for name, version in pairs:
        versions.setdefault(name, []).append(f"v{version}")
    return ", ".join(f"{name} {' '.join(vs)}" for name, vs in versions.items())


def params_text(params: dict[str, str], limit: int = 80) -> Text:
    return literal(one_line(", ".join(f"{k}={v}" for k, v in sorted(params.items())), limit))


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, "italic"))


def short_id(run_id: str | None) -> Text:
    return literal(one_line(run_id[:8], 8)) if run_id else Text("no run", style="dim")


def open_model_mlmodel(screen: LoggedModelsScreen | LoggedModelScreen, model: LoggedModel) -> None:
    """Push the MLmodel view of a logged model's artifacts, or say why there is none."""
    store = screen.app.opened_store
    root = store.logged_model_artifact_root(model)
    label = f"{one_line(model.name, 60)} ({model.model_id})"
    if root.path is None and store.can_browse_artifacts(root):
        # A tracking server's proxy: the page reads MLmodel through it (and says if it is not there).
        screen.app.open_stored_mlmodel(root, "", model.source_run_id, label=label)
        return
    if root.path is None:
        screen.notify(one_line(root.note or "its artifacts cannot be read here"), markup=False)
        return
    if not (root.path / "MLmodel").is_file():
        screen.notify(f"No MLmodel in {one_line(str(root.path), 200)}", markup=False)
        return
    screen.app.open_mlmodel(root.path, model.source_run_id, label=label)


class LoggedModelsScreen(SortableFilterable, Screen[None]):
    """Every logged model of the chosen experiments, newest first as MLflow lists them."""

    TITLE = "Logged models"
    FILTER_BOX = "logged-models-filter"
    SORT_TITLE = "Sort logged models by"
    AUTO_FOCUS = "#logged-models-table"
    DEFAULT_CSS = """
    LoggedModelsScreen #logged-models-empty {
        padding: 1 2;
        color: $text-muted;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="logged_models.back"),
        Binding("enter", "open", "Open", id="logged_models.open", priority=True),
        Binding("m", "mlmodel", "MLmodel", id="logged_models.mlmodel"),
        Binding("slash", "filter", "Filter", id="logged_models.filter"),
        Binding("s", "sort", "Sort", id="logged_models.sort"),
        Binding("S", "reverse", "Reverse sort", id="logged_models.reverse", show=False),
        Binding("r", "reload", "Reload", id="logged_models.reload"),
    ]

    class Loaded(Message):
        def __init__(self, models: list[LoggedModel], names: list[str]) -> None:
            super().__init__()
            self.models = models
            self.names = names

    def __init__(self, experiment_ids: Sequence[str]) -> None:
        super().__init__()
        self.experiment_ids = list(experiment_ids)
        self.models: list[LoggedModel] = []
        self.metric_cols: list[MetricColumn] = []
        # MLflow's order (newest first, then by id) until the user sorts by something else.
        self.sort_key = "created"
        self.sort_reverse = True
        self.quick_filter = ""

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(
            store_crumb(self.app.opened_store.location, self.app.demo), "Logged models"
        )
        box = Input(placeholder="filter by name, id, run or param", id="logged-models-filter")
        box.display = False
        yield box
        yield Static(
            "No logged models in these experiments (MLflow 3 logs them with log_model).",
            id="logged-models-empty",
        )
        yield KeyedTable([], id="logged-models-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#logged-models-empty").display = False
        self.query_one(KeyedTable).loading = True
        self.load()

    # -- reading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="logged-models", exit_on_error=False)
    def load(self) -> None:
        store = self.app.opened_store
        names = []
        for exp_id in self.experiment_ids:
            exp = store.experiment_by_name_or_id(exp_id)
            names.append(exp.name if exp is not None else exp_id)
        self.post_message(self.Loaded(store.logged_models(self.experiment_ids), names))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "logged-models" and event.state == WorkerState.ERROR:
            self.query_one(KeyedTable).loading = False
            self.notify(one_line(event.worker.error), title="Logged models", severity="error")

    def on_logged_models_screen_loaded(self, message: Loaded) -> None:
        self.models = message.models
        crumbs = self.query_one(Breadcrumbs)
        crumbs.show(*crumbs.parts[:1], ", ".join(message.names), "Logged models")
        table = self.query_one(KeyedTable)
        table.loading = False
        self.metric_cols = metric_columns(self.models)
        table.clear(columns=True)
        for key, label in self.sort_columns():
            table.add_column(label, key=key)
        self.refresh_table()
        self.query_one("#logged-models-empty").display = not self.models
        for warning in self.app.opened_store.warnings.messages:
            self.notify(one_line(warning), severity="warning", timeout=8)

    # -- the table -------------------------------------------------------------------------------
    def sort_columns(self) -> list[tuple[str, str]]:
        metrics = [(f"metric-{i}", metric_label(c)) for i, c in enumerate(self.metric_cols)]
        return [*FIXED_COLUMNS, *metrics, ("params", "Params")]

    def sort_value(self, key: str) -> Callable[[LoggedModel], Any]:
        """The value a column sorts by; a metric's is None where a model has no such point."""
        if key.startswith("metric-"):
            column = self.metric_cols[int(key.removeprefix("metric-"))]

            def metric(model: LoggedModel) -> float | None:
                point = latest_metric(model, column)
                return None if point is None or point.value != point.value else point.value

            return metric
        return {
            "name": lambda m: m.name.lower(),
            "run": lambda m: m.source_run_id or "",
            "status": lambda m: m.status,
            "created": lambda m: m.creation_timestamp or 0,
            "registered": registered_versions,
            "params": lambda m: params_text(m.params).plain,
        }[key]

    def visible_models(self) -> list[LoggedModel]:
        needle = self.quick_filter.lower()
        shown = [m for m in self.models if not needle or needle in self._haystack(m)]
        value = self.sort_value(self.sort_key)
        # Models without a value (a metric they lack) go last in either direction, as in MLflow.
        valued = [m for m in shown if value(m) is not None]
        valued.sort(key=value, reverse=self.sort_reverse)  # stable: ties keep MLflow's order
        return valued + [m for m in shown if value(m) is None]

    @staticmethod
    def _haystack(model: LoggedModel) -> str:
        params = " ".join(f"{k}={v}" for k, v in model.params.items())
        return f"{model.name} {model.model_id} {model.source_run_id or ''} {params}".lower()

    def refresh_table(self) -> None:
        table = self.query_one(KeyedTable)
        self.sort_labels(table)
        rows = self.visible_models()
        # The cursor follows its model, unless it sits at the top: there it stays, so that
        # after a sort the first model (the best by that metric) is the one highlighted.
        at_top = table.cursor_row <= 0
        table.set_rows((m.model_id, self.cells(m)) for m in rows)
        if at_top and rows:
            table.move_cursor(row=0)
        count = len(rows)
        self.query_one(Breadcrumbs).status = f"{count} model{'s' if count != 1 else ''}"

    def cells(self, model: LoggedModel) -> list[Text]:
        metrics = []
        for column in self.metric_cols:
            point = latest_metric(model, column)
            shown = "" if point is None else format_value(point.value)
            metrics.append(Text(shown, justify="right"))
        return [
            literal(one_line(model.name, 40)),
            short_id(model.source_run_id),
            status_text(model.status),
            Text(format_time_short(model.creation_timestamp)),
            literal(one_line(registered_versions(model), 40)),
            *metrics,
            params_text(model.params),
        ]

    def current_model(self) -> LoggedModel | None:
        key = self.query_one(KeyedTable).current_key()
        return next((m for m in self.models if m.model_id == key), None)

    # -- actions ---------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.query_one("#logged-models-filter").display:
            self._close_filter()
        else:
            self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    @in_key_order
    def action_open(self) -> None:
        if self.focused is self.query_one("#logged-models-filter"):
            self.query_one(KeyedTable).focus()
            return
        model = self.current_model()
        if model is not None:
            self.app.open_logged_model(model)

    def action_mlmodel(self) -> None:
        model = self.current_model()
        if model is not None:
            open_model_mlmodel(self, model)

    def _close_filter(self) -> None:
        box = self.query_one("#logged-models-filter", Input)
        box.value = ""
        box.display = False
        self.query_one(KeyedTable).focus()

    def descending_first(self, key: str) -> bool:
        # Newest first, and the best value of a metric first (a loss or error lowest, as the
        # compare screen judges it; `b` there flips it); names and ids from A.
        if key.startswith("metric-"):
            metric_key, _ = self.metric_cols[int(key.removeprefix("metric-"))]
            return not lower_is_better(self.app.metric_directions, metric_key)
        return key == "created"

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()


#: (pane id, tab label) in the order of the number keys.
TABS = [("params", "1 Params"), ("metrics", "2 Metrics"), ("tags", "3 Tags")]


def model_header(model: LoggedModel, kind: str) -> Table:
    """Who the model is: id, run, status, times, type and flavors, where its files are."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="dim", no_wrap=True, min_width=12)
    grid.add_column(ratio=1, overflow="fold")
    grid.add_row("Model ID", literal(model.model_id))
    grid.add_row("Source run", literal(model.source_run_id or "none (logged without a run)"))
    status = status_text(model.status)
    if model.status_message:
        status.append("  ")
        status.append_text(literal(one_line(model.status_message, 200)))
    grid.add_row("Status", status)
    grid.add_row(
        "Created",
        Text(
            f"{format_time(model.creation_timestamp)}   last updated "
            f"{format_time(model.last_updated_timestamp)}"
        ),
    )
    grid.add_row("Type", literal(kind) if kind else Text("not recorded", style="dim"))
    grid.add_row("Artifacts", literal(model.artifact_location))
    return grid


class LoggedModelScreen(TabbedScreen):
    """One logged model: its params, metrics and tags; `m` its MLmodel, `o` its source run."""

    TITLE = "Logged model"
    TABS = TABS
    DEFAULT_CSS = """
    LoggedModelScreen #logged-model-header {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    LoggedModelScreen TabbedContent {
        height: 1fr;
    }
    LoggedModelScreen TabPane {
        height: 1fr;
        padding: 0;
    }
    """
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="logged_model.back"),
        Binding("m", "mlmodel", "MLmodel", id="logged_model.mlmodel"),
        Binding("o", "open_run", "Source run", id="logged_model.run"),
        Binding("tab", "next_tab", "Next tab", id="logged_model.next_tab", show=False),
        Binding(
            "shift+tab", "previous_tab", "Previous tab", id="logged_model.prev_tab", show=False
        ),
        *number_key_bindings("logged_model", TABS),
    ]

    def __init__(self, model: LoggedModel) -> None:
        super().__init__()
        self.model = model

    def compose(self) -> ComposeResult:
        model = self.model
        crumb = store_crumb(self.app.opened_store.location, self.app.demo)
        yield Breadcrumbs(crumb, "Logged models", f"{model.name} ({model.model_id})")
        yield Static(id="logged-model-header")
        with TabbedContent(id="logged-model-tabs"):
            with TabPane(TABS[0][1], id="params"):
                yield KeyValueTable("Param", id="logged-model-params")
            with TabPane(TABS[1][1], id="metrics"):
                yield KeyedTable(
                    [
                        ("key", "Metric"),
                        ("dataset", "Dataset"),
                        ("digest", "Digest"),
                        ("value", "Value"),
                        ("step", "Step"),
                        ("time", "Logged"),
                    ],
                    id="logged-model-metrics",
                )
            with TabPane(TABS[2][1], id="tags"):
                yield KeyValueTable("Tag", id="logged-model-tags")
        yield Footer()

    def on_mount(self) -> None:
        model = self.model
        self.query_one("#logged-model-params", KeyValueTable).set_items(
            sorted(model.params.items()), key_style="cyan"
        )
        self.query_one("#logged-model-tags", KeyValueTable).set_items(
            sorted(model.tags.items()), key_style="cyan"
        )
        self.query_one("#logged-model-metrics", KeyedTable).set_rows(
            (str(i), metric_cells(m)) for i, m in enumerate(sorted_metrics(model.metrics))
        )
        count = len(model.metrics)
        self.query_one(Breadcrumbs).status = f"{count} metric{'s' if count != 1 else ''}"
        self.query_one("#logged-model-header", Static).update(model_header(model, ""))
        self.read_kind()

    @work(thread=True, exclusive=True, group="logged-model")
    def read_kind(self) -> None:
        """The type and flavors (the MLmodel file is read off the UI thread)."""
        kind = logged_model_kind(
            self.model, self.app.opened_store.logged_model_artifact_root(self.model)
        )
        header = model_header(self.model, kind)
        self.app.call_from_thread(self.query_one("#logged-model-header", Static).update, header)

    @on(TabbedContent.TabActivated, "#logged-model-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.query_one(f"#logged-model-{event.pane.id}").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_run":
            return bool(self.model.source_run_id)
        return True

    def action_mlmodel(self) -> None:
        open_model_mlmodel(self, self.model)

    def action_open_run(self) -> None:
        if self.model.source_run_id:
            self.app.open_run(self.model.source_run_id)


def sorted_metrics(metrics: Sequence[LoggedModelMetric]) -> list[LoggedModelMetric]:
    return sorted(metrics, key=lambda m: (m.key, m.dataset_name or "", m.step, m.timestamp))


def metric_cells(metric: LoggedModelMetric) -> list[Text]:
    return [
        literal(one_line(metric.key, 80)),
        literal(one_line(metric.dataset_name, 60)) if metric.dataset_name else Text(""),
        literal(one_line(metric.dataset_digest, 40)) if metric.dataset_digest else Text(""),
        Text(format_value(metric.value), justify="right"),
        Text(str(metric.step), justify="right"),
        Text(format_time(metric.timestamp)),
    ]
