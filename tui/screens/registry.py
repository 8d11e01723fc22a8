"""The model registry: every registered model with its aliases, latest versions and tags.

Enter opens a model's versions. Descriptions and tags of a model are edited here, each write
shown in full before it is made (tui/screens/dialogs/write_flow.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from mltui.store.entities import RegisteredModel
from mltui.store.follow import Shown
from mltui.store.registry import WriteResult
from mltui.tui.screens.base import Answer, MltuiScreen, in_key_order
from mltui.tui.screens.dialogs.inputs import TagInputScreen
from mltui.tui.screens.dialogs.write_flow import (
    RegistryWriteFlow,
    WriteNotice,
    with_refusal_binding,
)
from mltui.tui.text import format_time, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.registry_cells import (
    STAGE_STYLE,
    aliases_text,
    tags_text,
    workspace_column,
)

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges

#: Stages in the order a person looks for them (MLflow lists None first).
STAGE_COLUMNS = ("Production", "Staging", "None", "Archived")


def latest_in(model: RegisteredModel, stage: str) -> Text:
    """The newest version of `model` in `stage` (`v2`), as MLflow's latest_versions has it."""
    version = next((mv.version for mv in model.latest_versions if mv.current_stage == stage), None)
    if version is None:
        return Text("")
    return Text(f"v{one_line(version, 12)}", style=STAGE_STYLE.get(stage, ""), justify="right")


#: What an incomplete model (a folder without meta.yaml) is, where it is shown.
INCOMPLETE_NOTE = (
    "incomplete: its folder has no meta.yaml (a create was interrupted); MLflow cannot list "
    "any model while it is there. D removes it."
)


def model_detail(model: RegisteredModel) -> Group:
    """The highlighted model in full: description, aliases, tags, times."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="dim", no_wrap=True, min_width=11)
    grid.add_column(ratio=1, overflow="fold")
    if model.incomplete:
        grid.add_row("State", Text(INCOMPLETE_NOTE, style="red"))
        return Group(grid)
    grid.add_row("Aliases", aliases_text(model.aliases) or Text("none", style="dim"))
    if model.tags:
        tags = Text()
        for i, (key, value) in enumerate(sorted(model.tags.items())):
            if i:
                tags.append("  ")
            tags.append_text(literal(one_line(key, 80), style="cyan"))
            tags.append("=")
            tags.append_text(literal(one_line(value, 200)))
        grid.add_row("Tags", tags)
    else:
        grid.add_row("Tags", Text("none", style="dim"))
    grid.add_row(
        "Created",
        Text(
            f"{format_time(model.creation_timestamp)}   last updated "
            f"{format_time(model.last_updated_timestamp)}"
        ),
    )
    description = (model.description or "").strip()
    grid.add_row(
        "Description",
        literal(description) if description else Text("none (e edits it)", style="dim"),
    )
    return Group(grid)


class RegisteredModelsScreen(RegistryWriteFlow, MltuiScreen[None]):
    """Every registered model of the store; Enter shows a model's versions."""

    TITLE = "Registered models"
    AUTO_FOCUS = "#registry-table"
    DEFAULT_CSS = """
    RegisteredModelsScreen #registry-empty {
        padding: 1 2;
        color: $text-muted;
    }
    RegisteredModelsScreen #registry-detail {
        height: auto;
        max-height: 9;
        padding: 0 1;
        background: $boost;
    }
    """
    BINDINGS = with_refusal_binding(
        [
            Binding("escape", "back", "Back", id="registry.back"),
            Binding("enter", "open", "Versions", id="registry.open", priority=True),
            Binding("e", "edit_description", "Description", id="registry.edit_description"),
            Binding("t", "set_tag", "Set tag", id="registry.set_tag"),
            Binding("x", "delete_tag", "Delete tag", id="registry.delete_tag"),
            Binding("r", "reload", "Reload", id="registry.reload"),
            Binding("D", "remove_incomplete", "Remove", id="registry.remove_incomplete"),
        ]
    )

    class Loaded(Answer):
        def __init__(self, models: list[RegisteredModel]) -> None:
            super().__init__()
            self.models = models

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[str, RegisteredModel] = {}
        self._loaded = False

    def compose(self) -> ComposeResult:
        store = self.store
        yield Breadcrumbs(store_crumb(store.location, self.app.demo), "Registered models")
        yield Static(
            "No registered models in this store. Register a run's model from its run screen (R).",
            id="registry-empty",
        )
        yield KeyedTable(
            [
                ("name", "Name"),
                ("aliases", "Aliases"),
                *[(stage, stage) for stage in STAGE_COLUMNS],
                ("updated", "Last updated"),
                ("description", "Description"),
                ("tags", "Tags"),
            ],
            id="registry-table",
        )
        yield Static(id="registry-detail")
        yield WriteNotice()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#registry-empty").display = False
        self.query_one("#registry-detail").display = False
        self.query_one(DataTable).loading = True
        self.load()

    def on_screen_resume(self) -> None:
        # Whether writes are refused can change while another screen is shown (or on opening).
        self.check_writes()
        # A model's versions screen may have written (stages, aliases): read again.
        if self._loaded:
            self.load()

    # -- live updates (the app forwards the follower's changes) -------------------------------
    def live_data(self) -> Shown:
        return Shown(registry=True)

    def store_changed(self, changes: StoreChanges) -> None:
        """Read the models again when the registry changed (another process, or our writes),
        also while a reading is under way: it may have been taken before the change."""
        self.recheck_writes()
        if changes.registry:
            self.load()

    # -- reading ---------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="registry", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(self.store.registered_models()))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "registry" and event.state == WorkerState.ERROR:
            self.query_one(DataTable).loading = False
            self.notify(one_line(event.worker.error), title="Registry", severity="error")

    def on_registered_models_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        self._loaded = True
        table = self.query_one(KeyedTable)
        table.loading = False
        by_workspace = workspace_column(table, (m.workspace for m in message.models))

        def key(model: RegisteredModel) -> str:
            return f"{model.workspace}/{model.name}" if by_workspace else model.name

        self.models = {key(m): m for m in message.models}
        table.set_rows(
            (
                key(model),
                [
                    literal(one_line(model.name, 60), style="bold"),
                    aliases_text(model.aliases),
                    *[latest_in(model, stage) for stage in STAGE_COLUMNS],
                    Text(format_time(model.last_updated_timestamp)),
                    Text(one_line(INCOMPLETE_NOTE, 40), style="red")
                    if model.incomplete
                    else literal(one_line(model.description or "", 40)),
                    tags_text(model.tags, 40),
                    *([literal(model.workspace)] if by_workspace else []),
                ],
            )
            for model in message.models
        )
        empty = not message.models
        self.query_one("#registry-empty").display = empty
        table.display = not empty
        count = len(message.models)
        self.query_one(Breadcrumbs).status = f"{count} model{'s' if count != 1 else ''}"
        self._show_detail()

    def current_name(self) -> str | None:
        return self.query_one(KeyedTable).current_key()

    def current_model(self) -> RegisteredModel | None:
        name = self.current_name()
        return self.models.get(name) if name is not None else None

    @on(DataTable.RowHighlighted, "#registry-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one("#registry-detail", Static)
        model = self.current_model()
        detail.display = model is not None
        if model is not None:
            detail.update(model_detail(model))

    # -- actions ---------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.write_gate(action, self._allowed(action))

    def _allowed(self, action: str) -> bool:
        model = self.current_model()
        if action in ("open", "edit_description", "set_tag"):
            return model is not None and not model.incomplete
        if action == "delete_tag":
            return model is not None and bool(model.tags)
        if action == "remove_incomplete":
            return model is not None and model.incomplete
        return True

    def action_reload(self) -> None:
        self.check_writes()
        self.load()

    @in_key_order
    def action_open(self) -> None:
        model = self.current_model()
        if model is None or model.incomplete:
            return
        self.app.open_model_versions(model.name)

    def action_edit_description(self) -> None:
        self.edit_model_description(self.current_model())

    def action_set_tag(self) -> None:
        model = self.current_model()
        if model is None or self.refused_up_front():
            return
        name = model.name

        def chosen(tag: tuple[str, str] | None) -> None:
            if tag is not None:
                key, value = tag
                self.start_write(lambda w: w.plan_set_model_tag(name, key, value))

        self.app.push_screen(TagInputScreen(f"Set a tag of {name}", model.tags), chosen)

    def action_delete_tag(self) -> None:
        model = self.current_model()
        if model is None or not model.tags or self.refused_up_front():
            return
        name = model.name
        from mltui.tui.screens.dialogs.picker import PickerScreen

        def chosen(key: str | None) -> None:
            if key is not None:
                self.start_write(lambda w: w.plan_delete_model_tag(name, key))

        self.app.push_screen(PickerScreen(f"Delete a tag of {name}", sorted(model.tags)), chosen)

    def action_remove_incomplete(self) -> None:
        model = self.current_model()
        if model is None or not model.incomplete or self.refused_up_front():
            return
        name = model.name
        self.start_write(lambda w: w.plan_remove_incomplete_model(name))

    @on(DataTable.RowSelected, "#registry-table")
    def _selected(self) -> None:
        self.action_open()

    def after_write(self, result: WriteResult) -> None:
        self.load()
