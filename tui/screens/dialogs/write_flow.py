"""Registry writes from the UI: the plan → confirm → apply flow that screens mix in, and the
notice that says why writes are refused.

Every write goes the same way: a dialog gathers what to write; `RegistryWriter.plan_*` checks it
in a worker and describes it; `ConfirmWriteScreen` shows that description line by line; only on
"Write" does `RegistryWriter.apply` run (again in a worker, checking again). Whatever the writer
refuses (read-only, unwritable files, an unknown schema, a name MLflow would reject) is shown as
its one sentence and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from mltui.store.entities import RegisteredModel
from mltui.store.errors import StoreError, as_sentence
from mltui.store.registry import RegistryWriter, WritePlan, WriteResult
from mltui.tui.screens.base import MixinHost
from mltui.tui.screens.dialogs.confirm_write import ConfirmWriteScreen
from mltui.tui.screens.dialogs.inputs import DescriptionScreen
from mltui.tui.text import literal, one_line
from mltui.tui.widgets.breadcrumbs import store_label

if TYPE_CHECKING:
    from mltui.tui.app import MltuiApp


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


def with_refusal_binding(bindings: list[Binding]) -> list[BindingType]:
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


class RegistryWriteFlow(MixinHost):
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
        reason = writer_for(self.app).refusal()
        if not get_current_worker().is_cancelled:  # a newer check is under way
            self.post_message(WritesChecked(reason))

    def recheck_writes(self) -> None:
        """The store changed (MLflow upgrading the database, say): check again soon, once for
        all the changes until then. A screen not shown checks when it is shown again."""
        if self._recheck is None and self.is_current:
            self._recheck = self.set_timer(self.RECHECK_SECONDS, self._recheck_now)

    def _recheck_now(self) -> None:
        self._recheck = None
        self.check_writes()

    def on_writes_checked(self, message: WritesChecked) -> None:
        self.write_refusal = message.reason
        self.show_write_refusal(message.reason)

    def show_write_refusal(self, reason: str | None) -> None:
        """The notice under the table, and the write keys dimmed in the footer."""
        for notice in self.query(WriteNotice):
            notice.show_refusal(reason)
        self.refresh_bindings()

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
        app = self.app
        reason = self.write_refusal
        if reason is None and app.read_only:
            reason = writer_for(app).refusal()
        if reason:
            self.notify(as_sentence(reason), title="Not written", severity="error")
            return True
        return False

    def start_write(self, make_plan: PlanMaker) -> None:
        self._plan_write(make_plan)

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def _plan_write(self, make_plan: PlanMaker) -> None:
        try:
            plan = make_plan(writer_for(self.app))
        except StoreError as exc:
            self.post_message(WriteRefused(str(exc)))
            return
        self.post_message(WritePlanned(plan))

    @work(thread=True, exclusive=True, group=WRITE_GROUP, exit_on_error=False)
    def _apply_write(self, plan: WritePlan) -> None:
        try:
            result = writer_for(self.app).apply(plan)
        except StoreError as exc:
            self.post_message(WriteRefused(str(exc)))
            return
        self.post_message(WriteDone(result))

    def on_write_planned(self, message: WritePlanned) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._apply_write(message.plan)

        store = self.app.store
        assert store is not None  # the plan was made on it
        where = f"{store_label(store.location)} ({store.kind} store)"
        self.app.push_screen(ConfirmWriteScreen(message.plan, where), answered)

    def on_write_refused(self, message: WriteRefused) -> None:
        self.notify(
            as_sentence(one_line(message.reason, 400)),
            title="Not written",
            severity="error",
            timeout=8,
        )
        self.check_writes()  # the store may have changed under us: the notice follows

    def on_write_done(self, message: WriteDone) -> None:
        result = message.result
        self.notify(one_line(f"{result.plan.summary}: done", 300), title="Written", timeout=4)
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
            self.notify(
                one_line(f"Could not tell whether the registry takes writes: {event.worker.error}"),
                title="Registry",
                severity="warning",
            )
        elif event.worker.group == self.WRITE_GROUP:
            self.notify(
                one_line(f"The write failed: {event.worker.error}", 400),
                title="Registry",
                severity="error",
                timeout=8,
            )
