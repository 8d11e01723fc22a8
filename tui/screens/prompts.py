"""Prompts (MLflow's prompt registry), read-only and kept apart from registered models as MLflow
keeps them: the list (P on the experiments screen), and one prompt's versions with their commit
messages, aliases and template text (user text: always literal, never markup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from mltui.store.prompts import Prompt, PromptVersion, prompt_versions, prompts, template_lines
from mltui.tui.screens.base import Answer, MltuiScreen, in_key_order
from mltui.tui.text import format_time, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.keyed_table import KeyedTable
from mltui.tui.widgets.registry_cells import aliases_text, tags_text, workspace_column

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags without MLflow's own (`_mlflow_experiment_ids`, `mlflow.*`), which its UI hides."""
    return {k: v for k, v in tags.items() if not k.startswith(("_mlflow", "mlflow."))}


def template_text(pv: PromptVersion) -> Text:
    """The template as it was written, line by line; a chat message's role in bold."""
    text = Text()
    for i, line in enumerate(template_lines(pv)):
        if i:
            text.append("\n")
        role, sep, rest = line.partition(": ")
        if not pv.is_text_prompt and sep and not line.startswith(" "):
            text.append_text(literal(role, style="bold cyan"))
            text.append(sep)
            line = rest
        text.append_text(literal(line))
    return text


def version_detail(pv: PromptVersion) -> Table:
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="dim", no_wrap=True, min_width=9)
    grid.add_column(ratio=1, overflow="fold")
    kind = "text" if pv.is_text_prompt else "chat"
    variables = ", ".join(pv.variables) or "none"
    grid.add_row("Version", Text(f"v{pv.version}  ({kind}; variables: ") + literal(variables) + ")")
    grid.add_row("Commit", literal(pv.commit_message or "") or Text("none", style="dim"))
    grid.add_row("Template", template_text(pv))
    return grid


def _read_failed(screen: MltuiScreen, event: Worker.StateChanged, group: str, title: str) -> None:
    """A failed read of `group`: the table stops loading and the error is said in one line."""
    if event.worker.group == group and event.state == WorkerState.ERROR:
        screen.query_one(DataTable).loading = False
        screen.notify(one_line(event.worker.error), title=title, severity="error")


class PromptsScreen(MltuiScreen[None]):
    """Every prompt of the store's registry; Enter opens one."""

    TITLE = "Prompts"
    AUTO_FOCUS = "#prompts-table"
    DEFAULT_CSS = """
    PromptsScreen #prompts-empty {
        padding: 1 2;
        color: $text-muted;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="prompts.back"),
        Binding("enter", "open", "Versions", id="prompts.open", priority=True),
        Binding("r", "reload", "Reload", id="prompts.reload"),
    ]

    class Loaded(Answer):
        def __init__(self, found: list[Prompt]) -> None:
            super().__init__()
            self.prompts = found

    def __init__(self) -> None:
        super().__init__()
        self.prompts: dict[str, Prompt] = {}
        self._loaded = False

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(store_crumb(self.store.location, self.app.demo), "Prompts")
        yield Static(
            "No prompts in this store (MLflow registers them with mlflow.genai.register_prompt).",
            id="prompts-empty",
        )
        yield KeyedTable(
            [
                ("name", "Name"),
                ("latest", "Latest"),
                ("aliases", "Aliases"),
                ("tags", "Tags"),
                ("updated", "Last updated"),
            ],
            id="prompts-table",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#prompts-empty").display = False
        self.query_one(DataTable).loading = True
        self.load()

    def store_changed(self, changes: StoreChanges) -> None:
        if changes.registry and self._loaded:
            self.load()

    @work(thread=True, exclusive=True, group="prompts", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(prompts(self.store)))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        _read_failed(self, event, "prompts", "Prompts")

    def on_prompts_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        self._loaded = True
        table = self.query_one(KeyedTable)
        table.loading = False
        by_workspace = workspace_column(table, (p.workspace for p in message.prompts))
        self.prompts = {f"{p.workspace}/{p.name}": p for p in message.prompts}
        table.set_rows(
            (
                key,
                [
                    literal(one_line(p.name, 60), style="bold"),
                    Text("" if p.latest_version is None else f"v{p.latest_version}"),
                    aliases_text({a: str(v) for a, v in p.aliases.items()}),
                    tags_text(user_tags(p.tags), 36),
                    Text(format_time(p.last_updated_timestamp)),
                    *([literal(p.workspace)] if by_workspace else []),
                ],
            )
            for key, p in self.prompts.items()
        )
        empty = not message.prompts
        self.query_one("#prompts-empty").display = empty
        table.display = not empty
        count = len(message.prompts)
        self.query_one(Breadcrumbs).status = f"{count} prompt{'s' if count != 1 else ''}"

    def current_prompt(self) -> Prompt | None:
        key = self.query_one(KeyedTable).current_key()
        return self.prompts.get(key) if key is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open":
            return self.current_prompt() is not None
        return True

    def action_reload(self) -> None:
        self.load()

    @in_key_order
    def action_open(self) -> None:
        prompt = self.current_prompt()
        if prompt is not None:
            self.app.push_screen(PromptScreen(prompt))

    @on(DataTable.RowSelected, "#prompts-table")
    def _selected(self) -> None:
        self.action_open()


class PromptScreen(MltuiScreen[None]):
    """One prompt: its versions (newest first), and the highlighted one's template in full."""

    TITLE = "Prompt"
    AUTO_FOCUS = "#prompt-versions"
    DEFAULT_CSS = """
    PromptScreen #prompt-versions {
        height: auto;
        max-height: 40%;
    }
    PromptScreen #prompt-detail-scroll {
        padding: 0 1;
        background: $boost;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="prompt.back"),
        Binding("r", "reload", "Reload", id="prompt.reload"),
    ]

    class Loaded(Answer):
        def __init__(self, versions: list[PromptVersion]) -> None:
            super().__init__()
            self.versions = versions

    def __init__(self, prompt: Prompt) -> None:
        super().__init__()
        self.prompt = prompt
        self.versions: dict[str, PromptVersion] = {}

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(
            store_crumb(self.store.location, self.app.demo), "Prompts", self.prompt.name
        )
        yield KeyedTable(
            [
                ("version", "Version"),
                ("aliases", "Aliases"),
                ("commit", "Commit message"),
                ("created", "Created"),
                ("tags", "Tags"),
            ],
            id="prompt-versions",
        )
        with VerticalScroll(id="prompt-detail-scroll"):
            yield Static(id="prompt-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).loading = True
        self.load()

    def store_changed(self, changes: StoreChanges) -> None:
        if changes.registry:
            self.load()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="prompt", exit_on_error=False)
    def load(self) -> None:
        found = prompt_versions(self.store, self.prompt.name, self.prompt.workspace)
        self.post_message(self.Loaded(found))

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        _read_failed(self, event, "prompt", "Prompt")

    def on_prompt_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        table = self.query_one(KeyedTable)
        table.loading = False
        self.versions = {str(pv.version): pv for pv in message.versions}
        table.set_rows(
            (
                key,
                [
                    Text(f"v{key}", style="bold"),
                    aliases_text(pv.aliases, with_versions=False),
                    literal(one_line(pv.commit_message or "", 60)),
                    Text(format_time(pv.creation_timestamp)),
                    tags_text(user_tags(pv.tags), 40),
                ],
            )
            for key, pv in self.versions.items()
        )
        count = len(message.versions)
        self.query_one(Breadcrumbs).status = f"{count} version{'s' if count != 1 else ''}"
        self._show_detail()

    def current_version(self) -> PromptVersion | None:
        key = self.query_one(KeyedTable).current_key()
        return self.versions.get(key) if key is not None else None

    @on(DataTable.RowHighlighted, "#prompt-versions")
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        pv = self.current_version()
        detail = self.query_one("#prompt-detail", Static)
        detail.update(version_detail(pv) if pv is not None else Text("no versions", style="dim"))
