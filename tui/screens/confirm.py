"""Registry writes from the UI: small input dialogs, the confirmation that lists every change, and
the plan → confirm → apply flow that screens mix in.

Every write goes the same way: a dialog gathers what to write; `RegistryWriter.plan_*` checks it
in a worker and describes it; `ConfirmWriteScreen` shows that description line by line; only on
"Write" does `RegistryWriter.apply` run (again in a worker, checking again). Whatever the writer
refuses (read-only, unwritable files, an unknown schema, a name MLflow would reject) is shown as
its one sentence and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    OptionList,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker

from mltui.store.entities import STAGES, ModelVersion, RegisteredModel
from mltui.store.errors import StoreError, as_sentence
from mltui.store.registry import RegistryWriter, RunModel, WritePlan, WriteResult
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.breadcrumbs import store_label

if TYPE_CHECKING:
    from mltui.tui.app import MltuiApp

#: Stages whose other versions MLflow can archive on a transition (`archive_existing_versions`).
ARCHIVING_STAGES = ("Staging", "Production")

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > .dialog {{
    width: 76;
    max-width: 95%;
    height: auto;
    max-height: 90%;
    border: round $accent;
    background: $surface;
    padding: 0 1;
}}
{name} .dialog-title {{
    text-style: bold;
    margin-bottom: 1;
}}
{name} .dialog-hint {{
    color: $text-muted;
    margin-top: 1;
}}
{name} .dialog-buttons {{
    height: auto;
    align-horizontal: right;
    margin-top: 1;
}}
{name} .dialog-buttons Button {{
    margin-left: 2;
}}
{name} OptionList {{
    height: auto;
    max-height: 8;
}}
"""


def writer_for(app: MltuiApp) -> RegistryWriter:
    """A writer on the app's store that refuses everything when the app is read-only."""
    assert app.store is not None  # the registry's pages open only on a store
    return app.store.registry_writer(read_only=app.read_only)


#: The actions of the registry screens that write; while writes are refused they are dimmed.
WRITE_ACTIONS = frozenset(
    {
        "transition",
        "set_alias",
        "delete_alias",
        "edit_description",
        "edit_model_description",
        "set_tag",
        "delete_tag",
        "remove_incomplete",
    }
)


def with_refusal_binding(bindings: list[Binding]) -> list[Binding]:
    """`bindings` and, after them, one hidden binding on their write keys that says why writes
    are refused.

    While writes are refused `check_action` dims the write bindings (None), and Textual runs
    nothing for a dimmed binding: the key goes on to the next binding for it, this one.
    It has no description, so the footer, `?` help and the palette leave it out.
    """
    keys = ",".join(b.key for b in bindings if b.action in WRITE_ACTIONS)
    return [*bindings, Binding(keys, "writes_refused", show=False, id="registry.writes_refused")]


def refusal_clause(reason: str) -> str:
    """A writer's reason without its "nothing was written" (said before anything is tried)."""
    clause = reason.strip().removesuffix(".")
    return clause.removesuffix("; nothing was written").removesuffix(", so nothing was written")


class WriteNotice(Static):
    """Under a registry screen's table, before any key is pressed: why writes are refused."""

    DEFAULT_CSS = """
    WriteNotice {
        height: auto;
        padding: 0 1;
        background: $warning-muted;
        color: $text-warning;
    }
    """

    def on_mount(self) -> None:
        self.display = False

    def show_refusal(self, reason: str | None) -> None:
        self.display = reason is not None
        if reason is not None:
            self.update(literal(f"Read-only: {refusal_clause(reason)}"))


# -- the confirmation --------------------------------------------------------------------------
class ConfirmWriteScreen(ModalScreen[bool]):
    """The plan's summary and every change it makes; `y`/Write to write, Escape to cancel."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="ConfirmWriteScreen")
        + """
    ConfirmWriteScreen #confirm-changes {
        height: auto;
        max-height: 16;
        border-left: wide $warning;
        padding: 0 1;
    }
    """
    )
    BINDINGS = [
        Binding("y", "write", "Write", id="confirm.write"),
        Binding("escape,n", "cancel", "Cancel", id="confirm.cancel"),
    ]
    AUTO_FOCUS = "#confirm-write"

    def __init__(self, plan: WritePlan, where: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.where = where

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.plan.summary), classes="dialog-title", id="confirm-summary")
            yield Static(Text("This will change:", style="dim"))
            with VerticalScroll(id="confirm-changes"):
                lines = Text()
                for i, change in enumerate(self.plan.changes):
                    if i:
                        lines.append("\n")
                    lines.append("• ", style="bold yellow")
                    lines.append_text(literal(change))
                yield Static(lines, id="confirm-lines")
            hint = "Nothing else is written."
            if self.where:
                hint = f"Written to {self.where}. " + hint
            yield Static(literal(hint), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Write (y)", variant="warning", id="confirm-write")
                yield Button("Cancel (Esc)", id="confirm-cancel")

    @on(Button.Pressed, "#confirm-write")
    def action_write(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


# -- the flow ------------------------------------------------------------------------------------
class WritePlanned(Message):
    """A write was checked and described; it waits for confirmation."""

    def __init__(self, plan: WritePlan) -> None:
        super().__init__()
        self.plan = plan


class WriteRefused(Message):
    """The writer refused (at planning or applying); nothing was written."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class WritesChecked(Message):
    """Whether the store takes registry writes now: the writer's reason, or None."""

    def __init__(self, reason: str | None) -> None:
        super().__init__()
        self.reason = reason


class WriteDone(Message):
    def __init__(self, result: WriteResult) -> None:
        super().__init__()
        self.result = result


PlanMaker = Callable[[RegistryWriter], WritePlan]


class RegistryWriteFlow:
    """Mixed into a Screen: `start_write(make_plan)` plans in a worker, asks, then applies.

    `after_write(result)` is called once a write succeeded (re-read the store there).
    """

    WRITE_GROUP = "registry-write"
    CHECK_GROUP = "registry-writable"
    #: Seconds between checks prompted by store changes. On SQLite a check reads the schema
    #: (about 6-8 ms measured on the 3.17.2 fixture), and a job logging metrics changes the
    #: store up to 4 times a second.
    RECHECK_SECONDS = 2.0
    #: Why the store takes no registry writes, as last checked (None: it takes them).
    write_refusal: str | None = None
    _recheck: Timer | None = None

    @work(thread=True, exclusive=True, group=CHECK_GROUP, exit_on_error=False)
    def check_writes(self) -> None:
        """Ask the writer, off the UI thread (it looks at files and the database), whether
        writes would be refused; the answer comes back as `WritesChecked`."""
        reason = writer_for(self.app).refusal()  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:  # a newer check is under way
            self.post_message(WritesChecked(reason))  # type: ignore[attr-defined]

    def recheck_writes(self) -> None:
        """The store changed (MLflow upgrading the database, say): check again soon, once for
        all the changes until then. A screen not shown checks when it is shown again."""
        if self._recheck is None and self.is_current:  # type: ignore[attr-defined]
            self._recheck = self.set_timer(self.RECHECK_SECONDS, self._recheck_now)  # type: ignore[attr-defined]

    def _recheck_now(self) -> None:
        self._recheck = None
        self.check_writes()

    def on_writes_checked(self, message: WritesChecked) -> None:
        self.write_refusal = message.reason
        self.show_write_refusal(message.reason)

    def show_write_refusal(self, reason: str | None) -> None:
        """The notice under the table, and the write keys dimmed in the footer."""
        for notice in self.query(WriteNotice):  # type: ignore[attr-defined]
            notice.show_refusal(reason)
        self.refresh_bindings()  # type: ignore[attr-defined]

    def write_gate(self, action: str, allowed: bool | None) -> bool | None:
        """`check_action` for writes: a write key the screen allows is dimmed (None) while
        writes are refused, and the hidden `writes_refused` binding is live only then."""
        if action == "writes_refused":
            return self.write_refusal is not None
        if allowed and action in WRITE_ACTIONS and self.write_refusal is not None:
            return None
        return allowed

    def action_writes_refused(self) -> None:
        self.refused_up_front()

    def refused_up_front(self) -> bool:
        """When writes are refused (read-only app, or as last checked), say so at once, before
        any dialog, and return True."""
        app = self.app  # type: ignore[attr-defined]
        reason = self.write_refusal
        if reason is None and app.read_only:
            reason = app.store.registry_writer(read_only=True).refusal()
        if reason:
            self.notify(as_sentence(reason), title="Not written", severity="error")  # type: ignore[attr-defined]
            return True
        return False

    def start_write(self, make_plan: PlanMaker) -> None:
        self._plan_write(make_plan)

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def _plan_write(self, make_plan: PlanMaker) -> None:
        try:
            plan = make_plan(writer_for(self.app))  # type: ignore[attr-defined]
        except StoreError as exc:
            self.post_message(WriteRefused(str(exc)))  # type: ignore[attr-defined]
            return
        self.post_message(WritePlanned(plan))  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def _apply_write(self, plan: WritePlan) -> None:
        try:
            result = writer_for(self.app).apply(plan)  # type: ignore[attr-defined]
        except StoreError as exc:
            self.post_message(WriteRefused(str(exc)))  # type: ignore[attr-defined]
            return
        self.post_message(WriteDone(result))  # type: ignore[attr-defined]

    def on_write_planned(self, message: WritePlanned) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._apply_write(message.plan)

        store = self.app.store  # type: ignore[attr-defined]
        where = f"{store_label(store.location)} ({store.kind} store)"
        self.app.push_screen(ConfirmWriteScreen(message.plan, where), answered)  # type: ignore[attr-defined]

    def on_write_refused(self, message: WriteRefused) -> None:
        self.notify(  # type: ignore[attr-defined]
            as_sentence(one_line(message.reason, 400)),
            title="Not written",
            severity="error",
            timeout=8,
        )
        self.check_writes()  # the store may have changed under us: the notice follows

    def on_write_done(self, message: WriteDone) -> None:
        result = message.result
        self.notify(  # type: ignore[attr-defined]
            one_line(f"{result.plan.summary}: done", 300), title="Written", timeout=4
        )
        self.after_write(result)

    def edit_model_description(self, model: RegisteredModel | None) -> None:
        """Ask for a registered model's new description, then plan and confirm the write."""
        if model is None or self.refused_up_front():
            return
        name = model.name

        def edited(text: str | None) -> None:
            if text is not None:
                self.start_write(lambda w: w.plan_update_model_description(name, text))

        self.app.push_screen(DescriptionScreen(f"Description of {name}", model.description), edited)

    def after_write(self, result: WriteResult) -> None:
        """Re-read what the write changed."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A plain handler name: `@on` is not seen on a mixin that is not a MessagePump.
        if event.state != WorkerState.ERROR:
            return
        if event.worker.group == self.CHECK_GROUP:
            self.notify(  # type: ignore[attr-defined]
                one_line(f"Could not tell whether the registry takes writes: {event.worker.error}"),
                title="Registry",
                severity="warning",
            )
        elif event.worker.group == self.WRITE_GROUP:
            self.notify(  # type: ignore[attr-defined]
                one_line(f"The write failed: {event.worker.error}", 400),
                title="Registry",
                severity="error",
                timeout=8,
            )


# -- small input dialogs -----------------------------------------------------------------------
class TextInputScreen(ModalScreen[str | None]):
    """One line of text; Enter accepts, Escape cancels. Existing values can be picked below."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TextInputScreen")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("down", "pick_next", "Next suggestion", show=False),
        Binding("up", "pick_previous", "Previous suggestion", show=False),
    ]
    AUTO_FOCUS = "#dialog-input"

    def __init__(
        self,
        title: str,
        *,
        value: str = "",
        placeholder: str = "",
        hint: str = "",
        choices: Sequence[tuple[str, str]] = (),
    ) -> None:
        """`choices` are (value, label) pairs shown under the input, narrowed as one types."""
        super().__init__()
        self.dialog_title = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.dialog_title), classes="dialog-title")
            yield Input(
                value=self.value,
                placeholder=self.placeholder,
                id="dialog-input",
            )
            choices = OptionList(id="dialog-choices")
            choices.display = bool(self.choices)
            yield choices
            yield Static(
                literal(
                    self.hint
                    + ("\n" if self.hint else "")
                    + ("↓↑ pick from the list · " if self.choices else "")
                    + "Enter accepts · Esc cancels"
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self._fill("")

    def _fill(self, typed: str) -> None:
        options = self.query_one("#dialog-choices", OptionList)
        options.clear_options()
        needle = typed.lower()
        options.add_options(
            Option(literal(one_line(label)), id=str(i))
            for i, (value, label) in enumerate(self.choices)
            if needle in value.lower()
        )
        options.highlighted = None

    @on(Input.Changed, "#dialog-input")
    def _typed(self, event: Input.Changed) -> None:
        if self.choices:
            self._fill(event.value)

    @on(Input.Submitted, "#dialog-input")
    def _submitted(self, event: Input.Submitted) -> None:
        options = self.query_one("#dialog-choices", OptionList)
        if options.highlighted is not None and options.display:
            option = options.get_option_at_index(options.highlighted)
            self.dismiss(self.choices[int(option.id or 0)][0])
        elif event.value.strip():
            self.dismiss(event.value.strip())

    @on(OptionList.OptionSelected, "#dialog-choices")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[int(event.option.id or 0)][0])

    def action_pick_next(self) -> None:
        self.query_one("#dialog-choices", OptionList).action_cursor_down()

    def action_pick_previous(self) -> None:
        options = self.query_one("#dialog-choices", OptionList)
        if options.highlighted == 0:
            options.highlighted = None  # back to what was typed
        else:
            options.action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class TagInputScreen(ModalScreen[tuple[str, str] | None]):
    """A tag key and value; an existing key brings its value in to be edited."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TagInputScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]
    AUTO_FOCUS = "#tag-key"

    def __init__(self, title: str, tags: dict[str, str]) -> None:
        super().__init__()
        self.dialog_title = title
        self.tags = dict(tags)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.dialog_title), classes="dialog-title")
            yield Input(
                placeholder="key",
                id="tag-key",
            )
            yield Input(placeholder="value", id="tag-value")
            known = ", ".join(sorted(self.tags)) or "none"
            yield Static(
                literal(
                    f"Existing tags: {one_line(known, 300)}\nEnter on the value accepts · Esc "
                    "cancels"
                ),
                classes="dialog-hint",
            )

    @on(Input.Submitted, "#tag-key")
    def _key_done(self, event: Input.Submitted) -> None:
        value = self.query_one("#tag-value", Input)
        if event.value in self.tags and not value.value:
            value.value = self.tags[event.value]
        value.focus()

    @on(Input.Submitted, "#tag-value")
    def _value_done(self, event: Input.Submitted) -> None:
        key = self.query_one("#tag-key", Input).value.strip()
        if not key:
            self.query_one("#tag-key", Input).focus()
            return
        self.dismiss((key, event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class DescriptionScreen(ModalScreen[str | None]):
    """A description in a text area; ctrl+s saves, Escape cancels."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="DescriptionScreen")
        + """
    DescriptionScreen TextArea {
        height: 12;
    }
    """
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="dialog.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]
    AUTO_FOCUS = "#description-text"

    def __init__(self, title: str, text: str | None) -> None:
        super().__init__()
        self.dialog_title = title
        self.text = text or ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(literal(self.dialog_title), classes="dialog-title")
            yield TextArea(
                self.text, id="description-text", soft_wrap=True, show_line_numbers=False
            )
            yield Static(
                Text("Markdown, as MLflow shows it. ctrl+s saves · Esc cancels"),
                classes="dialog-hint",
            )

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class Transition:
    stage: str
    archive_existing: bool


class TransitionScreen(ModalScreen[Transition | None]):
    """Pick a stage for a version; optionally archive the other versions in that stage."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="TransitionScreen")
        + """
    TransitionScreen Checkbox {
        width: 100%;
        margin-top: 1;
    }
    """
    )
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("a", "toggle_archive", "Archive others", id="dialog.archive"),
    ]
    AUTO_FOCUS = "#transition-stage"

    def __init__(self, name: str, version: ModelVersion, versions: Sequence[ModelVersion]) -> None:
        super().__init__()
        self.model_name = name
        self.version = version
        self.versions = list(versions)

    def compose(self) -> ComposeResult:
        current = self.version.current_stage
        with Vertical(classes="dialog"):
            yield Static(
                literal(
                    f"Move {self.model_name} version {self.version.version} (now {current}) to"
                ),
                classes="dialog-title",
            )
            options = []
            for stage in STAGES:
                label = Text(stage)
                if stage == current:
                    label.append("  (current)", style="dim")
                options.append(Option(label, id=stage))
            yield OptionList(*options, id="transition-stage")
            box = Checkbox(Text(""), id="transition-archive")
            box.can_focus = False
            yield box
            yield Static(
                Text("↑↓ stage · a archives the others · Enter moves · Esc cancels"),
                classes="dialog-hint",
            )

    def _first_choice(self) -> str:
        # The usual next step: None → Staging → Production → Archived.
        current = self.version.current_stage
        return {"None": "Staging", "Staging": "Production", "Production": "Archived"}.get(
            current, "None"
        )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = list(STAGES).index(self._first_choice())
        self._update_archive(self.selected_stage())

    def selected_stage(self) -> str:
        options = self.query_one(OptionList)
        index = options.highlighted
        return STAGES[index] if index is not None else "None"

    def _others_in(self, stage: str) -> list[str]:
        return [
            v.version
            for v in self.versions
            if v.current_stage == stage and v.version != self.version.version
        ]

    def _update_archive(self, stage: str) -> None:
        box = self.query_one(Checkbox)
        if stage in ARCHIVING_STAGES:
            others = self._others_in(stage)
            which = ", ".join(f"v{v}" for v in others) if others else "none now"
            box.label = Text(f"Archive the other versions in {stage} ({which})")
            box.disabled = False
        else:
            box.label = Text("Archive the other versions (only for Staging and Production)")
            box.value = False
            box.disabled = True

    @on(OptionList.OptionHighlighted, "#transition-stage")
    def _stage_changed(self) -> None:
        self._update_archive(self.selected_stage())

    def action_toggle_archive(self) -> None:
        box = self.query_one(Checkbox)
        if not box.disabled:
            box.toggle()

    @on(OptionList.OptionSelected, "#transition-stage")
    def _accept(self) -> None:
        box = self.query_one(Checkbox)
        stage = self.selected_stage()
        self.dismiss(Transition(stage, bool(box.value) and stage in ARCHIVING_STAGES))

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- registering a run's model -------------------------------------------------------------------
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
            yield OptionList(id="register-names")
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
        names = [m.name for m in self.app.store.registered_models()]
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
        self._fill_names("")
        (name if len(self.models) == 1 else options).focus()

    def _fill_names(self, typed: str) -> None:
        names = self.query_one("#register-names", OptionList)
        names.clear_options()
        needle = typed.lower()
        names.add_options(
            Option(literal(one_line(n)), id=str(i))
            for i, n in enumerate(self.names)
            if needle in n.lower()
        )
        names.display = bool(names.option_count)

    @on(Input.Changed, "#register-name")
    def _typed(self, event: Input.Changed) -> None:
        self._fill_names(event.value)

    def action_pick_name(self, step: int) -> None:
        """From the name box, ↓/↑ walk the existing names and put the one reached in the box."""
        box = self.query_one("#register-name", Input)
        names = self.query_one("#register-names", OptionList)
        if not names.option_count:
            return
        current = names.highlighted
        index = (-1 if current is None else current) + step
        if index < 0:
            names.highlighted = None
            return
        names.highlighted = min(index, names.option_count - 1)
        option = names.get_option_at_index(names.highlighted)
        with box.prevent(Input.Changed):  # keep the list as it was narrowed
            box.value = self.names[int(option.id or 0)]
        box.cursor_position = len(box.value)

    @on(OptionList.OptionSelected, "#register-names")
    def _name_picked(self, event: OptionList.OptionSelected) -> None:
        box = self.query_one("#register-name", Input)
        box.value = self.names[int(event.option.id or 0)]
        box.focus()

    @on(OptionList.OptionSelected, "#register-models")
    def _model_picked(self) -> None:
        self.query_one("#register-name", Input).focus()

    @on(Input.Submitted, "#register-name")
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
