"""An MLflow model folder as its MLmodel file describes it: flavors, signature, input example,
environment files and the files themselves. Nothing is loaded or unpickled (store/mlmodel.py).

Opened from a run's Models tab, from a registered model's version, or directly:
`mltui path/to/model` / `mltui path/to/MLmodel` opens the app on this page alone, in the store
the folder sits in (if any) so the run it came from can still be opened.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from mltui.store import ArtifactRoot, Store, StoreError
from mltui.store.entities import Run
from mltui.store.mlmodel import (
    FlavorInfo,
    MLmodelError,
    ModelInfo,
    SchemaInfo,
    read_mlmodel,
    read_stored_mlmodel,
)
from mltui.tui.screens.tabbed import TabbedScreen, number_key_bindings
from mltui.tui.text import clean, format_time, literal, one_line
from mltui.tui.widgets.artifact_browser import ArtifactBrowser, format_size
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb, store_label

#: (pane id, tab label) in the order of the number keys.
TABS = [
    ("flavors", "1 Flavors"),
    ("signature", "2 Signature"),
    ("example", "3 Input example"),
    ("environment", "4 Environment"),
    ("files", "5 Files"),
]
#: Widest a cell of the input example table gets (characters).
EXAMPLE_CELL = 40


# -- rendering -----------------------------------------------------------------------------------
def _value(value: Any) -> str:
    """A scalar as written in JSON (true, null, 1.5) and anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    except (TypeError, ValueError):
        return str(value)


def _shape(dims: tuple[Any, ...]) -> str:
    """A shape as Python writes a tuple: `(-1, 28, 28)`, `(-1,)`; -1 is a variable dimension."""
    inner = ", ".join(_value(d) for d in dims)
    return f"({inner},)" if len(dims) == 1 else f"({inner})"


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def schema_table(schema: SchemaInfo) -> Table:
    """A schema as a table: name, type, required for columns; name, dtype, shape for tensors."""
    if schema.kind == "tensors":
        table = _table("Name", "Dtype", "Shape")
        for t in schema.tensors:
            table.add_row(
                literal(t.name if t.name is not None else "(unnamed)"),
                literal(t.dtype),
                literal(_shape(t.shape)),
            )
        return table
    table = _table("Name", "Type", "Required")
    for c in schema.columns:
        table.add_row(
            literal(c.name if c.name is not None else "(unnamed)"),
            literal(c.display),
            Text("yes") if c.required else Text("no", style="dim"),
        )
    return table


def signature_view(info: ModelInfo) -> Group:
    sig = info.signature
    parts: list[Any] = []
    if sig is None:
        return Group(Text("This model has no signature.", style="dim"))
    for title, schema in (("Inputs", sig.inputs), ("Outputs", sig.outputs)):
        if schema is None:
            parts.append(Text(f"{title}: none", style="bold"))
        else:
            kind = "tensor-based" if schema.kind == "tensors" else "column-based"
            count = len(schema.tensors if schema.kind == "tensors" else schema.columns)
            heading = Text(f"{title}", style="bold")
            heading.append(f"  {kind}, {count}", style="dim")
            parts += [heading, schema_table(schema)]
        parts.append(Text(""))
    if sig.params:
        parts.append(Text("Params", style="bold"))
        table = _table("Name", "Type", "Default", "Shape")
        for p in sig.params:
            shape = "scalar" if p.shape is None else _shape(p.shape)
            table.add_row(literal(p.name), literal(p.type), literal(_value(p.default)), shape)
        parts.append(table)
    else:
        parts.append(Text("Params: none", style="bold"))
    for problem in sig.problems:
        parts += [Text(""), literal(problem, style="yellow")]
    return Group(*parts)


def _facts(rows: list[tuple[str, Text | str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else literal(value))
    return grid


_SHOWN_FLAVOR_KEYS = {"loader_module", "python_version", "serialization_format", "code", "env"}


def flavor_view(flavor: FlavorInfo) -> Group:
    rows: list[tuple[str, Text | str]] = []
    if flavor.loader_module:
        rows.append(("Loader module", flavor.loader_module))
    if flavor.python_version:
        rows.append(("Python", flavor.python_version))
    if flavor.versions:
        rows.append(("Versions", ", ".join(f"{k} {v}" for k, v in flavor.versions.items())))
    if flavor.serialization_format:
        rows.append(("Serialization", flavor.serialization_format))
    if flavor.model_file:
        rows.append(("Model file", flavor.model_file))
    if flavor.code:
        rows.append(("Code", flavor.code))
    if flavor.env:
        rows.append(("Environment", ", ".join(f"{k}: {v}" for k, v in flavor.env.items())))
    for key, value in flavor.raw.items():
        key = str(key)
        if key in _SHOWN_FLAVOR_KEYS or key.endswith("_version") or value == flavor.model_file:
            continue
        rows.append((key, one_line(_value(value), 300)))
    heading = literal(flavor.name, style="bold")
    body: Any = _facts(rows) if rows else Text("(no settings)", style="dim")
    return Group(heading, body, Text(""))


def flavors_view(info: ModelInfo) -> Group:
    parts: list[Any] = []
    for problem in info.problems:
        parts.append(literal(problem, style="yellow"))
    if info.problems:
        parts.append(Text(""))
    if not info.flavors:
        parts.append(Text("MLmodel lists no flavors.", style="dim"))
    parts += [flavor_view(f) for f in info.flavors]
    if info.metadata:
        parts.append(Text("Metadata", style="bold"))
        parts.append(_facts([(str(k), one_line(_value(v), 300)) for k, v in info.metadata.items()]))
    return Group(*parts)


def environment_view(info: ModelInfo) -> Group:
    conda = next((f.env.get("conda") for f in info.flavors if f.env.get("conda")), "conda.yaml")
    venv = next(
        (f.env.get("virtualenv") for f in info.flavors if f.env.get("virtualenv")),
        "python_env.yaml",
    )
    parts: list[Any] = []
    for name, text in (
        ("requirements.txt", info.requirements),
        (conda, info.conda),
        (venv, info.python_env),
    ):
        parts.append(literal(name, style="bold"))
        if text is None and info.path is None:
            parts.append(Text("not fetched from the server (only MLmodel is read)", style="dim"))
        elif text is None:
            parts.append(Text("not in the model folder", style="dim"))
        else:
            parts.append(literal(text.rstrip("\n") or "(empty)"))
        parts.append(Text(""))
    return Group(*parts)


def _cell(value: Any) -> Text:
    if value is None:
        return Text("null", style="dim")
    if isinstance(value, int | float):  # bool is an int too
        return Text(_value(value), justify="right")
    return literal(one_line(_value(value), EXAMPLE_CELL))


class _Tail:
    """A value on one line; when too long it loses its start (paths end in what matters)."""

    def __init__(self, value: str) -> None:
        self.value = one_line(value, 2000)

    def __rich_console__(self, console, options):
        room = max(options.max_width, 1)
        chars = self.value
        if cell_len(chars) > room:
            while chars and cell_len(chars) > room - 1:
                chars = chars[1:]
            chars = "…" + chars
        yield Text(chars, no_wrap=True, overflow="crop")


def _fact(value: str) -> Text:
    return Text(one_line(value), no_wrap=True, overflow="ellipsis")


def header_view(info: ModelInfo, folder_label: str, run_text: Text) -> Group:
    """The facts above the tabs (model id, run, created, MLflow version, size, paths)."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="dim", no_wrap=True, min_width=13)
    grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")  # as wide as a time
    if info.model_id:
        id_label, model_id = "Model id", info.model_id
        if info.model_uuid and info.model_uuid != info.model_id:
            model_id += f" (uuid {info.model_uuid})"
    else:
        id_label, model_id = "Model uuid", info.model_uuid or ""
    created = format_time(info.created_timestamp) or (info.utc_time_created or "")
    size = format_size(info.size_bytes)
    if size and info.size_source == "folder":
        size += " (folder)"
    flavors = ", ".join(f.name for f in info.flavors)
    grid.add_row(id_label, _fact(model_id), "Created", _fact(created))
    grid.add_row("Run", run_text, "MLflow", _fact(info.mlflow_version or ""))
    grid.add_row("Flavors", _fact(flavors), "Size", _fact(size))
    lines = Table.grid(padding=(0, 1), expand=True)
    lines.add_column(style="dim", no_wrap=True, min_width=13)
    lines.add_column(ratio=1, no_wrap=True)
    lines.add_row("Artifact path", _Tail(info.artifact_path or ""))
    lines.add_row("Folder", _Tail(folder_label))
    return Group(grid, lines)


class MLmodelScreen(TabbedScreen):
    """Everything a model folder says about the model, read without loading it."""

    TITLE = "MLmodel"
    TABS = TABS
    DEFAULT_CSS = """
    MLmodelScreen #mlmodel-header {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    MLmodelScreen TabbedContent {
        height: 1fr;
    }
    MLmodelScreen TabPane {
        height: 1fr;
        padding: 0;
    }
    MLmodelScreen .mlmodel-pane {
        height: 1fr;
        padding: 0 1;
    }
    MLmodelScreen #example-info {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="mlmodel.back"),
        Binding("o", "open_run", "Open run", id="mlmodel.open_run"),
        Binding("y", "copy_path", "Copy folder path", id="mlmodel.copy_path"),
        Binding("tab", "next_tab", "Next tab", id="mlmodel.next_tab"),
        Binding("shift+tab", "previous_tab", "Previous tab", id="mlmodel.previous_tab", show=False),
        Binding("r", "reload", "Reload", id="mlmodel.reload"),
        *number_key_bindings("mlmodel", TABS),
    ]

    class Loaded(Message):
        def __init__(self, info: ModelInfo, run: Run | None) -> None:
            super().__init__()
            self.info = info
            self.run = run

    class Failed(Message):
        """The MLmodel file could not be read at all."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None,
        store: Store | None = None,
        run_id: str | None = None,
        *,
        label: str | None = None,
        root: ArtifactRoot | None = None,
        rel: str = "",
    ) -> None:
        """`label` names the model in the breadcrumbs (e.g. `wine-classifier v2`). A model not
        in a local folder (a tracking server's) is the folder `rel` under `root`, read through
        `store` (its MLmodel alone); `model_dir` is then None."""
        super().__init__()
        if (model_dir is None) == (root is None) or (root is not None and store is None):
            raise ValueError("MLmodelScreen takes a model folder, or a store's root and path")
        self.model_dir = Path(model_dir) if model_dir is not None else None
        #: The store the folder sits in; None for a loose model folder.
        self.model_store = store
        self.root = root
        self.rel = rel.strip("/")
        self.run_id = run_id
        self.label = label
        self.info: ModelInfo | None = None
        self.run: Run | None = None

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(*self._trail(), id="mlmodel-crumbs")
        yield Static(Text("Reading MLmodel…", style="dim"), id="mlmodel-header")
        with TabbedContent(id="mlmodel-tabs"):
            with TabPane(TABS[0][1], id="flavors"), VerticalScroll(classes="mlmodel-pane"):
                yield Static(id="flavors-body")
            with TabPane(TABS[1][1], id="signature"), VerticalScroll(classes="mlmodel-pane"):
                yield Static(id="signature-body")
            with TabPane(TABS[2][1], id="example"):
                yield Static(id="example-info")
                yield DataTable(id="example-table", zebra_stripes=True, cursor_type="row")
            with TabPane(TABS[3][1], id="environment"), VerticalScroll(classes="mlmodel-pane"):
                yield Static(id="environment-body")
            with TabPane(TABS[4][1], id="files"):
                yield ArtifactBrowser(id="mlmodel-files")
        yield Footer()

    def _trail(self) -> list[str]:
        where = (
            store_crumb(self.model_store.location, self.app.demo)
            if self.model_store is not None
            else ""
        )
        folder = self.model_dir or Path(self._where())
        # An MLflow 3 logged model's folder is <model id>/artifacts: the id says more.
        name = folder.parent.name if folder.name == "artifacts" else folder.name
        return [where or "mltui", "MLmodel", self.label or name or str(folder)]

    def _where(self) -> str:
        """The model folder: its path, or its URI in the store."""
        if self.model_dir is not None:
            return str(self.model_dir)
        assert self.root is not None
        return "/".join(p for p in (self.root.recorded.rstrip("/"), self.rel) if p)

    def on_mount(self) -> None:
        self.query_one("#example-table").display = False
        self.load()
        self._browse_files()

    # -- reading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="mlmodel", exit_on_error=False)
    def load(self) -> None:
        try:
            if self.model_dir is not None:
                info = read_mlmodel(self.model_dir)
            else:
                assert self.model_store is not None and self.root is not None
                info = read_stored_mlmodel(self.model_store, self.root, self.rel)
        except MLmodelError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        run = None
        run_id = self.run_id or info.run_id
        if self.model_store is not None and run_id:
            try:
                run = self.model_store.run(run_id)
            except StoreError:
                run = None
        self.post_message(self.Loaded(info, run))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "mlmodel" and event.state == WorkerState.ERROR:
            self.notify(one_line(event.worker.error), title="MLmodel", severity="error")

    def on_mlmodel_screen_failed(self, message: Failed) -> None:
        self.query_one("#mlmodel-header", Static).update(literal(message.reason, style="red"))
        self.query_one(Breadcrumbs).status = "unreadable"
        self.notify(one_line(message.reason, 300), title="MLmodel", severity="error")

    def on_mlmodel_screen_loaded(self, message: Loaded) -> None:
        first = self.info is None
        info = self.info = message.info
        self.run = message.run
        if self.run_id is None:
            self.run_id = info.run_id
        self.query_one("#mlmodel-header", Static).update(
            header_view(info, self._folder_label(), self._run_text())
        )
        status = f"{len(info.problems)} problem(s)" if info.problems else ""
        self.query_one(Breadcrumbs).status = status
        self.query_one("#flavors-body", Static).update(flavors_view(info))
        self.query_one("#signature-body", Static).update(signature_view(info))
        self.query_one("#environment-body", Static).update(environment_view(info))
        self._show_example(info)
        self.refresh_bindings()
        if first:
            self._focus_pane(self.query_one(TabbedContent).active)

    def _folder_label(self) -> str:
        if self.model_dir is None:
            return self._where()
        base = self.model_store.folder if self.model_store is not None else None
        if base is not None:
            try:
                return str(Path(base.name) / self.model_dir.resolve().relative_to(base.resolve()))
            except ValueError:
                pass
        return store_label(self.model_dir)

    def _run_text(self) -> Text:
        run_id = self.run_id or ""
        if not run_id:
            return Text("none recorded", style="dim")
        if self.run is not None:
            text = _fact(self.run.run_name or "(no name)")
            text.stylize("bold")
            text.append(f" ({clean(run_id)})", style="dim")
            return text
        text = _fact(run_id)
        if self.model_store is not None:
            text.append("  (not in this store)", style="dim")
        return text

    def _show_example(self, info: ModelInfo) -> None:
        table = self.query_one("#example-table", DataTable)
        table.clear(columns=True)
        ex = info.input_example
        if ex is None:
            saved = info.path is None and "saved_input_example_info" in info.raw
            self.query_one("#example-info", Static).update(
                Text(
                    "The input example is not fetched from the server (only MLmodel is read)."
                    if saved
                    else "No input example was saved with this model.",
                    style="dim",
                )
            )
            table.display = False
            return
        text = Text()
        what = ex.type or "example"
        if ex.pandas_orient:
            what += f" ({ex.pandas_orient} orient)"
        text.append_text(literal(what))
        if ex.path:
            text.append("  ·  ")
            text.append_text(literal(ex.path))
        if ex.columns:
            shown = len(ex.rows)
            rows = f"{ex.total_rows} row{'s' if ex.total_rows != 1 else ''}"
            if ex.truncated:
                rows += f", first {shown} shown"
            text.append(f"  ·  {rows} × {len(ex.columns)} columns")
        if ex.params:
            text.append("\nparams: ")
            text.append_text(literal(one_line(_value(ex.params), 300)))
        if ex.serving_input_path:
            text.append("\nserving payload: ")
            text.append_text(literal(ex.serving_input_path))
        if ex.problem:
            text.append("\n")
            text.append_text(literal(ex.problem, style="yellow"))
        self.query_one("#example-info", Static).update(text)
        table.display = bool(ex.columns)
        for i, column in enumerate(ex.columns):
            table.add_column(literal(one_line(column, EXAMPLE_CELL)), key=str(i))
        for r, row in enumerate(ex.rows):
            cells = [_cell(row[i] if i < len(row) else None) for i in range(len(ex.columns))]
            table.add_row(*cells, key=str(r))

    def _browse_files(self) -> None:
        browser = self.query_one(ArtifactBrowser)
        if self.model_dir is None:
            assert self.root is not None
            # Listed through the store (the server's proxy), the model folder opened.
            browser.set_root(self.root, "Artifacts", reveal=self.rel, store=self.model_store)
            return
        store_dir = self.model_store.folder if self.model_store is not None else None
        folder = Path(os.path.abspath(self.model_dir))
        root = ArtifactRoot(str(folder), folder)
        browser.set_root(root, "Model folder", store_dir=store_dir)

    # -- tabs ------------------------------------------------------------------------------------
    @on(TabbedContent.TabActivated, "#mlmodel-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_pane(event.pane.id or "")

    def _focus_pane(self, pane: str) -> None:
        if pane == "files":
            self.query_one(ArtifactBrowser).focus_tree()
        elif pane == "example":
            self.query_one("#example-table").focus()
        else:
            scroll = self.query_one(f"#{pane}").query(VerticalScroll)
            if scroll:
                scroll.first().focus()

    # -- actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_run":
            return self.run is not None
        return True

    def action_open_run(self) -> None:
        if self.run is None:
            return
        self.app.open_run(self.run.run_id)

    def action_copy_path(self) -> None:
        path = str(self.model_dir.resolve()) if self.model_dir is not None else self._where()
        self.app.copy_to_clipboard(path)
        self.notify(f"Copied {one_line(path, 200)}", timeout=3)

    def action_reload(self) -> None:
        self.load()
        self._browse_files()
