"""The base of every page of mltui: a typed app and store, one back rule, live store changes.

Pages never import one another: they ask the app to open a page (`self.app.open_run(...)`),
and the app imports the pages. The app is imported here for the type checker only, so no
import cycle runs through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.screen import Screen

if TYPE_CHECKING:
    from textual import getters

    from mltui.store import Store
    from mltui.store.follow import StoreChanges
    from mltui.tui.app import MltuiApp

ResultType = TypeVar("ResultType")

if TYPE_CHECKING:

    class MixinHost(Screen[Any]):
        """A screen of mltui as the type checker sees the mixins of screens (write_flow.py's,
        sortable.py's) that derive from it; at run time they derive from object."""

        app = getters.app(MltuiApp)

else:
    MixinHost = object


class MltuiScreen(Screen[ResultType]):
    """A page of mltui: reads the app's store, follows its live changes, goes back on escape."""

    if TYPE_CHECKING:
        # Textual's way to type `app` as our App (for the type checker only: at run time the
        # screens may not import the app, which imports them).
        app = getters.app(MltuiApp)

    @property
    def store(self) -> Store:
        """The store the app was opened on (every page but a loose model folder's has one)."""
        store = self.app.store
        if store is None:
            raise RuntimeError(f"{type(self).__name__} needs a store; the app has none")
        return store

    def _on_mount(self, event: events.Mount) -> None:
        # Immediate: the page hears of a change in the same turn the app does, as it always has.
        self.app.store_changed_signal.subscribe(self, self.store_changed, immediate=True)

    def store_changed(self, changes: StoreChanges) -> None:
        """Another process (or our own write) changed the store; pages showing live data
        override this to read again or extend what they show."""

    def action_back(self) -> None:
        self.app.back()
