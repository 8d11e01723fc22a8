"""A model version's new stage, and whether the versions already in it are archived."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, OptionList, Static
from textual.widgets.option_list import Option

from mltui.store.entities import STAGES, ModelVersion
from mltui.tui.screens.dialogs.style import DIALOG_CSS
from mltui.tui.text import literal

#: Stages whose other versions MLflow can archive on a transition (`archive_existing_versions`).
ARCHIVING_STAGES = ("Staging", "Production")


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
