"""Register one of a run's models (a new version of a new or existing registered model)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mltui.store.registry import RunModel, WriteResult
from mltui.tui.screens.base import in_key_order
from mltui.tui.screens.dialogs.style import DIALOG_CSS
from mltui.tui.screens.dialogs.write_flow import RegistryWriteFlow, writer_for
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.type_ahead import TypeAheadList


class RegisterModelScreen(RegistryWriteFlow, ModalScreen[bool]):
    """Register one of a run's models as a new version of a new or existing registered model."""

    DEFAULT_CSS = DIALOG_CSS.format(name="RegisterModelScreen")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("ctrl+s", "register", "Register", id="dialog.register", priority=True),
        Binding("down", "pick_name(1)", "Next name", id="dialog.next_name", show=False),
        Binding("up", "pick_name(-1)", "Previous name", id="dialog.previous_name", show=False),
    ]

    class Loaded(Message):
        def __init__(self, models: list[RunModel], names: list[str]) -> None:
            super().__init__()
            self.models = models
            self.names = names

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.models: list[RunModel] = []
        self.names: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Register a model of this run"), classes="dialog-title")
            yield Static(Text("Model", style="dim"))
            yield OptionList(id="register-models")
            yield Static(Text("Registered model (new or existing)", style="dim"))
            yield Input(placeholder="name", id="register-name")
            yield TypeAheadList(box="register-name", id="register-names")
            yield Static(
                Text(
                    "tab moves between fields · Enter on the name (or ctrl+s) registers · "
                    "Esc cancels"
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        if self.refused_up_front():
            self.call_later(self._leave)
            return
        self.query_one("#register-models", OptionList).loading = True
        self.check_writes()
        self.load()

    def show_write_refusal(self, reason: str | None) -> None:
        # Files or database not writable, or an untested schema: say so before a name is typed.
        if self.is_current and self.refused_up_front():
            self._leave()

    @work(thread=True, exclusive=True, group="register-load", exit_on_error=False)
    def load(self) -> None:
        writer = writer_for(self.app)
        models = writer.models_of_run(self.run_id)
        names = [m.name for m in writer.store.registered_models()]
        self.post_message(self.Loaded(models, names))

    def on_register_model_screen_loaded(self, message: Loaded) -> None:
        self.models, self.names = message.models, message.names
        options = self.query_one("#register-models", OptionList)
        options.loading = False
        if not self.models:
            self.notify("This run has no model to register.", title="Register", severity="warning")
            self.dismiss(False)
            return
        options.add_options(
            Option(literal(one_line(m.label)), id=str(i)) for i, m in enumerate(self.models)
        )
        options.highlighted = 0
        name = self.query_one("#register-name", Input)
        self._names.items = [(n, n) for n in self.names]
        self._fill_names("")
        (name if len(self.models) == 1 else options).focus()

    @property
    def _names(self) -> TypeAheadList:
        return self.query_one("#register-names", TypeAheadList)

    def _fill_names(self, typed: str) -> None:
        names = self._names
        names.narrow(typed)
        names.display = bool(names.option_count)

    @on(Input.Changed, "#register-name")
    def _typed(self, event: Input.Changed) -> None:
        self._fill_names(event.value)

    def action_pick_name(self, step: int) -> None:
        """From the name box, ↓/↑ walk the existing names and put the one reached in the box."""
        box = self.query_one("#register-name", Input)
        names = self._names
        if not names.option_count:
            return
        current = names.highlighted
        index = (-1 if current is None else current) + step
        if index < 0:
            names.highlighted = None
            return
        names.highlighted = min(index, names.option_count - 1)
        with box.prevent(Input.Changed):  # keep the list as it was narrowed
            box.value = names.highlighted_value or ""
        box.cursor_position = len(box.value)

    @on(OptionList.OptionSelected, "#register-names")
    def _name_picked(self, event: OptionList.OptionSelected) -> None:
        box = self.query_one("#register-name", Input)
        box.value = self._names.value_of(event.option)
        box.focus()

    @on(OptionList.OptionSelected, "#register-models")
    def _model_picked(self) -> None:
        self.query_one("#register-name", Input).focus()

    @on(Input.Submitted, "#register-name")
    @in_key_order
    def action_register(self) -> None:
        name = self.query_one("#register-name", Input).value.strip()
        index = self.query_one("#register-models", OptionList).highlighted
        if not self.models or index is None:
            return
        if not name:
            self.notify("Type the registered model's name.", title="Register", severity="warning")
            self.query_one("#register-name", Input).focus()
            return
        if self.refused_up_front():
            return
        model = self.models[index]
        if model.model_id:
            self.start_write(lambda w: w.plan_register_model(name, model_id=model.model_id))
        else:
            self.start_write(
                lambda w: w.plan_register_model(
                    name, run_id=model.run_id, artifact_path=model.artifact_path
                )
            )

    def after_write(self, result: WriteResult) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    def _leave(self) -> None:
        self.dismiss(False)  # not awaited: called from this screen's own message loop
