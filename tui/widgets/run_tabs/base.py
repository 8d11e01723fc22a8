"""What every tab of the run page is: a pane of the page's TabbedContent that reads what it needs
beside the run (in the page's reading worker) and shows it.

The page reads a run as one `RunDetails`: the run, its experiment, parent and artifact root, the
logged models of its experiment, and what each tab's `read` returned. Every reading (on opening,
on `r`, after a registration, and each time a running run is read again while the app follows
the store) reaches every tab the same way, through `RunTab.show_run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar, cast

from textual.message import Message
from textual.widgets import TabPane

from mltui.store import ArtifactRoot, Store
from mltui.store.entities import Experiment, LoggedModel, Run

T = TypeVar("T")


@dataclass(slots=True)
class RunDetails:
    """One reading of a run for the run page (metric histories are read by the Metrics tab)."""

    run: Run
    experiment: Experiment | None
    parent: Run | None
    artifact_root: ArtifactRoot
    #: The logged models of the run's experiment (MLflow 3), read once for every tab.
    logged_models: list[LoggedModel] = field(default_factory=list)
    #: The first reading, or one after `r`: tabs go back to how they start (the artifact tree
    #: to the run's root); False when a running run is read again, or after a registration.
    reset: bool = False
    #: What each tab's `read` returned, by pane id.
    tab_data: dict[str, Any] = field(default_factory=dict)


class RunTab(TabPane, Generic[T]):
    """One tab of the run page. A subclass sets PANE, LABEL and FOCUS, composes its widgets and
    implements `show`; it implements `read` when it needs more than RunDetails holds, and
    `has_content` when it is OPTIONAL."""

    DEFAULT_CSS = """
    RunTab .empty {
        padding: 1 2;
        color: $text-muted;
    }
    RunTab .hint {
        padding: 0 1;
        color: $text-muted;
    }
    """

    #: The pane's id (the number keys' action names it: `show_tab('metrics')`).
    PANE: ClassVar[str]
    #: The tab's label after its number.
    LABEL: ClassVar[str]
    #: Shown only for a run that `has_content` says it has something for; hidden otherwise, and
    #: its number key does nothing.
    OPTIONAL: ClassVar[bool] = False
    #: The widget focused when the tab becomes the active one (a selector).
    FOCUS: ClassVar[str]

    class Status(Message):
        """A tab is busy (`text`) or done (empty text); the page shows it in its crumbs."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, store: Store, number: int) -> None:
        super().__init__(f"{number} {self.LABEL}", id=self.PANE)
        self.store = store

    @classmethod
    def read(cls, store: Store, details: RunDetails) -> T:
        """What the tab shows beside `details`; called in the page's reading worker (a thread),
        so it only reads the store."""
        return cast(T, None)

    def show_run(self, details: RunDetails) -> None:
        """Show one reading of the run (the one way a reading reaches a tab)."""
        self.show(details, cast(T, details.tab_data.get(self.PANE)))

    def show(self, details: RunDetails, data: T) -> None:
        raise NotImplementedError

    def has_content(self, details: RunDetails) -> bool:
        """Whether an OPTIONAL tab is shown for this reading."""
        return True

    def focus_content(self) -> None:
        """Focus the widget a person uses on this tab (when the tab becomes the active one)."""
        self.query_one(self.FOCUS).focus()

    def show_empty(self, empty: bool, body: str) -> None:
        """Show the tab's `.empty` note instead of `body` (a selector) when there is nothing."""
        self.query_one(".empty").display = empty
        self.query_one(body).display = not empty
