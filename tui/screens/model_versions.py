"""One registered model: its versions with aliases, stages and source runs, and the writes on
them (stage, alias, description, tags), each confirmed with the list of what changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from mltui.store import ArtifactRoot, Store
from mltui.store.entities import ModelVersion, RegisteredModel, Run
from mltui.store.follow import Shown
from mltui.store.model_folders import version_model_folder, version_model_root
from mltui.store.registry import WriteResult
from mltui.tui.screens.base import Answer, MltuiScreen, in_key_order
from mltui.tui.screens.dialogs.inputs import DescriptionScreen, TagInputScreen, TextInputScreen
from mltui.tui.screens.dialogs.transition import Transition, TransitionScreen
from mltui.tui.screens.dialogs.write_flow import (
    RegistryWriteFlow,
    WriteNotice,
    with_refusal_binding,
)
from mltui.tui.text import clean, format_time, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.registry_cells import aliases_text, stage_text, tags_text

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges


@dataclass(slots=True)
class VersionsReading:
    """A model and its versions, with what the screen looks up for them (runs, model folders)."""

    model: RegisteredModel | None
    versions: list[ModelVersion]
    runs: dict[str, Run] = field(default_factory=dict)
    folders: dict[str, Path | None] = field(default_factory=dict)
    #: Where a version's model is read through the store instead (a tracking server's proxy).
    stored: dict[str, tuple[ArtifactRoot, str]] = field(default_factory=dict)


def read_versions(store: Store, name: str) -> VersionsReading:
    """Everything the versions screen shows, read off the UI thread."""
    model = next((m for m in store.registered_models() if m.name == name), None)
    versions = store.model_versions(name)
    reading = VersionsReading(model, versions)
    for run_id in {mv.run_id for mv in versions if mv.run_id}:
        run = store.run(run_id)
        if run is not None:
            reading.runs[run_id] = run
    for mv in versions:
        folder = reading.folders[mv.version] = version_model_folder(store, mv)
        stored = version_model_root(store, mv) if folder is None else None
        if stored is not None:
            reading.stored[mv.version] = stored
    return reading


def run_text(mv: ModelVersion, runs: dict[str, Run], limit: int = 24) -> Text:
    if not mv.run_id:
        return Text("")
    run = runs.get(mv.run_id)
    if run is None:
        return Text(mv.run_id[:8] + " (not here)", style="dim")
    text = literal(one_line(run.run_name or "(no name)", limit))
    text.append(f" {clean(mv.run_id[:8])}", style="dim")
    return text


class ModelVersionsScreen(RegistryWriteFlow, MltuiScreen[None]):
    """The versions of one registered model, newest first; aliases first on every row."""

    TITLE = "Model versions"
    AUTO_FOCUS = "#versions-table"
    DEFAULT_CSS = """
    ModelVersionsScreen #versions-header {
        height: auto;
        max-height: 6;
        padding: 0 1;
        background: $boost;
    }
    ModelVersionsScreen #versions-empty {
        padding: 1 2;
        color: $text-muted;
    }
    ModelVersionsScreen #version-detail {
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $boost;
    }
    """
    BINDINGS = with_refusal_binding(
        [
            Binding("escape", "back", "Back", id="registry.back"),
            Binding("enter", "open_run", "Source run", id="registry.open_run", priority=True),
            Binding("m", "open_mlmodel", "MLmodel", id="registry.open_mlmodel"),
            Binding("s", "transition", "Stage", id="registry.transition"),
            Binding("a", "set_alias", "Set alias", id="registry.set_alias"),
            Binding("d", "delete_alias", "Delete alias", id="registry.delete_alias"),
            Binding("e", "edit_description", "Description", id="registry.edit_description"),
            Binding(
                "E",
                "edit_model_description",
                "Model description",
                id="registry.edit_model_description",
                show=False,
            ),
            Binding("t", "set_tag", "Set tag", id="registry.set_tag"),
            Binding("x", "delete_tag", "Delete tag", id="registry.delete_tag"),
            Binding("r", "reload", "Reload", id="registry.reload", show=False),
        ]
    )

    class Loaded(Answer):
        def __init__(self, reading: VersionsReading) -> None:
            super().__init__()
            self.reading = reading

    def __init__(self, name: str) -> None:
        super().__init__()
        self.model_name = name
        self.reading: VersionsReading | None = None
        self.versions: dict[str, ModelVersion] = {}

    def compose(self) -> ComposeResult:
        store = self.store
        yield Breadcrumbs(
            store_crumb(store.location, self.app.demo), "Registered models", self.model_name
        )
        yield Static(Text("Reading versions…", style="dim"), id="versions-header")
        yield Static("This model has no versions.", id="versions-empty")
        yield KeyedTable(
            [
                ("version", "Version"),
                ("aliases", "Aliases"),
                ("stage", "Stage"),
                ("status", "Status"),
                ("run", "Source run"),
                ("created", "Created"),
                ("description", "Description"),
                ("tags", "Tags"),
            ],
            id="versions-table",
        )
        yield Static(id="version-detail")
        yield WriteNotice()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#versions-empty").display = False
        self.query_one(DataTable).loading = True
        self.load()

    def on_screen_resume(self) -> None:
        # Whether writes are refused can change while another screen is shown (or on opening).
        self.check_writes()

    # -- live updates (the app forwards the follower's changes) -------------------------------
    def live_data(self) -> Shown:
        return Shown(registry=True)

    def store_changed(self, changes: StoreChanges) -> None:
        """Read the versions again when the registry changed (another process, or our writes),
        also while a reading is under way: it may have been taken before the change."""
        self.recheck_writes()
        if changes.registry:
            self.load()

    # -- reading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="versions", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(read_versions(self.store, self.model_name)))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "versions" and event.state == WorkerState.ERROR:
            self.query_one(DataTable).loading = False
            self.notify(one_line(event.worker.error), title="Registry", severity="error")

    def on_model_versions_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        reading = self.reading = message.reading
        table = self.query_one(KeyedTable)
        table.loading = False
        self.versions = {mv.version: mv for mv in reading.versions}
        table.set_rows(
            (
                mv.version,
                [
                    Text(f"v{one_line(mv.version, 12)}", style="bold", justify="right"),
                    aliases_text(mv.aliases, with_versions=False),
                    stage_text(mv.current_stage),
                    literal(one_line(mv.status or "")),
                    run_text(mv, reading.runs),
                    Text(format_time(mv.creation_timestamp)),
                    literal(one_line(mv.description or "", 36)),
                    tags_text(mv.tags, 36),
                ],
            )
            for mv in reading.versions
        )
        self.query_one("#versions-empty").display = not reading.versions
        table.display = bool(reading.versions)
        self._show_header()
        self._show_detail()
        count = len(reading.versions)
        self.query_one(Breadcrumbs).status = (
            f"{count} version{'s' if count != 1 else ''}"
            if reading.model is not None
            else "no such model"
        )
        self.refresh_bindings()

    def _show_header(self) -> None:
        header = self.query_one("#versions-header", Static)
        model = self.reading.model if self.reading else None
        if model is None:
            header.update(
                literal(f"There is no registered model {self.model_name!r} now.", style="red")
            )
            return
        title = literal(one_line(model.name, 80), style="bold")
        if model.aliases:
            title.append("   ")
            title.append_text(aliases_text(model.aliases))
        lines: list[RenderableType] = [title]
        description = one_line((model.description or "").strip(), 300)
        lines.append(literal(description) if description else Text("No description.", style="dim"))
        if model.tags:
            lines.append(tags_text(model.tags, 300))
        header.update(Group(*lines))

    def current_version_id(self) -> str | None:
        return self.query_one(KeyedTable).current_key()

    def current_version(self) -> ModelVersion | None:
        version = self.current_version_id()
        return self.versions.get(version) if version is not None else None

    @on(DataTable.RowHighlighted, "#versions-table")
    def _highlighted(self) -> None:
        self._show_detail()
        self.refresh_bindings()

    def _show_detail(self) -> None:
        detail = self.query_one("#version-detail", Static)
        mv = self.current_version()
        detail.display = mv is not None
        if mv is None or self.reading is None:
            return
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim", no_wrap=True, min_width=11)
        grid.add_column(ratio=1, overflow="fold")
        grid.add_row("Source", literal(one_line(mv.source or "", 400)))
        if mv.storage_location and mv.storage_location != mv.source:
            grid.add_row("Stored at", literal(one_line(mv.storage_location, 400)))
        run = Text()
        if mv.run_id:
            found = self.reading.runs.get(mv.run_id)
            if found is not None:
                run = literal(one_line(found.run_name or "(no name)", 60))
                run.append(f"  {clean(mv.run_id)}", style="dim")
            else:
                run = literal(one_line(mv.run_id))
                run.append("  not in this store", style="dim")
        grid.add_row("Run", run)
        folder = self.reading.folders.get(mv.version)
        if folder is not None:
            where = literal(one_line(self._shown_path(folder), 400))
            where.append("  m opens it", style="dim")
        else:
            where = Text("not found on this machine", style="dim")
        grid.add_row("MLmodel", where)
        description = (mv.description or "").strip()
        grid.add_row(
            "Description",
            literal(description) if description else Text("none (e edits it)", style="dim"),
        )
        if mv.tags:
            grid.add_row("Tags", tags_text(mv.tags, 400))
        detail.update(grid)

    def _shown_path(self, folder: Path) -> str:
        """A local folder from the store's own folder on (`mlruns/1/…`), else as it is."""
        base = self.store.folder
        if base is None:
            return str(folder)
        try:
            return str(Path(base.name) / folder.resolve().relative_to(base.resolve()))
        except ValueError:
            return str(folder)

    # -- actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.write_gate(action, self._allowed(action))

    def _allowed(self, action: str) -> bool:
        mv = self.current_version()
        if action == "open_run":
            return bool(mv and self.reading and mv.run_id in self.reading.runs)
        if action == "open_mlmodel":
            return bool(
                mv
                and self.reading
                and (self.reading.folders.get(mv.version) or mv.version in self.reading.stored)
            )
        if action == "delete_alias":
            return bool(mv and mv.aliases)
        if action == "delete_tag":
            return bool(mv and mv.tags)
        if action == "edit_model_description":
            return bool(self.reading and self.reading.model)
        if action in ("transition", "set_alias", "edit_description", "set_tag"):
            return mv is not None
        return True

    def action_reload(self) -> None:
        self.check_writes()
        self.load()

    @in_key_order
    def action_open_run(self) -> None:
        mv = self.current_version()
        if mv is None or not mv.run_id or self.reading is None:
            return
        if mv.run_id not in self.reading.runs:
            self.notify(f"Run {one_line(mv.run_id)} is not in this store.", timeout=4)
            return
        self.app.open_run(mv.run_id)

    @on(DataTable.RowSelected, "#versions-table")
    def _selected(self) -> None:
        self.action_open_run()

    def action_open_mlmodel(self) -> None:
        mv = self.current_version()
        if mv is None or self.reading is None:
            return
        label = f"{self.model_name} v{mv.version}"
        folder = self.reading.folders.get(mv.version)
        stored = self.reading.stored.get(mv.version)
        if folder is not None:
            self.app.open_mlmodel(folder, mv.run_id, label=label)
        elif stored is not None:
            self.app.open_stored_mlmodel(*stored, mv.run_id, label=label)

    def action_transition(self) -> None:
        mv = self.current_version()
        if mv is None or self.refused_up_front():
            return
        name, version = self.model_name, mv.version

        def chosen(choice: Transition | None) -> None:
            if choice is not None:
                self.start_write(
                    lambda w: w.plan_transition_stage(
                        name, version, choice.stage, choice.archive_existing
                    )
                )

        self.app.push_screen(TransitionScreen(name, mv, list(self.versions.values())), chosen)

    def action_set_alias(self) -> None:
        mv = self.current_version()
        if mv is None or self.refused_up_front():
            return
        name, version = self.model_name, mv.version
        model = self.reading.model if self.reading else None
        existing = sorted((model.aliases if model else {}).items())
        choices = [
            (alias, f"@{alias}  now on v{held}" + ("  (this version)" if held == version else ""))
            for alias, held in existing
        ]

        def chosen(alias: str | None) -> None:
            if alias:
                self.start_write(lambda w: w.plan_set_alias(name, alias, version))

        self.app.push_screen(
            TextInputScreen(
                f"Point an alias of {name} at version {version}",
                placeholder="alias, e.g. champion",
                hint="An existing alias moves here. Letters, digits, _ and - only.",
                choices=choices,
            ),
            chosen,
        )

    def action_delete_alias(self) -> None:
        mv = self.current_version()
        if mv is None or not mv.aliases or self.refused_up_front():
            return
        name = self.model_name

        def chosen(alias: str | None) -> None:
            if alias:
                self.start_write(lambda w: w.plan_delete_alias(name, alias))

        if len(mv.aliases) == 1:
            chosen(mv.aliases[0])
            return
        from mltui.tui.screens.dialogs.picker import PickerScreen

        self.app.push_screen(
            PickerScreen(f"Delete an alias of {name} version {mv.version}", list(mv.aliases)),
            chosen,
        )

    def action_edit_description(self) -> None:
        mv = self.current_version()
        if mv is None or self.refused_up_front():
            return
        name, version = self.model_name, mv.version

        def edited(text: str | None) -> None:
            if text is not None:
                self.start_write(lambda w: w.plan_update_version_description(name, version, text))

        self.app.push_screen(
            DescriptionScreen(f"Description of {name} version {version}", mv.description),
            edited,
        )

    def action_edit_model_description(self) -> None:
        self.edit_model_description(self.reading.model if self.reading else None)

    def action_set_tag(self) -> None:
        mv = self.current_version()
        if mv is None or self.refused_up_front():
            return
        name, version = self.model_name, mv.version

        def chosen(tag: tuple[str, str] | None) -> None:
            if tag is not None:
                key, value = tag
                self.start_write(lambda w: w.plan_set_version_tag(name, version, key, value))

        self.app.push_screen(
            TagInputScreen(f"Set a tag of {name} version {version}", mv.tags), chosen
        )

    def action_delete_tag(self) -> None:
        mv = self.current_version()
        if mv is None or not mv.tags or self.refused_up_front():
            return
        name, version = self.model_name, mv.version
        from mltui.tui.screens.dialogs.picker import PickerScreen

        def chosen(key: str | None) -> None:
            if key is not None:
                self.start_write(lambda w: w.plan_delete_version_tag(name, version, key))

        self.app.push_screen(
            PickerScreen(f"Delete a tag of {name} version {version}", sorted(mv.tags)), chosen
        )

    def after_write(self, result: WriteResult) -> None:
        self.load()
