"""The base of every page of mltui: a typed app and store, one back rule, live store changes.

Pages never import one another: they ask the app to open a page (`self.app.open_run(...)`),
and the app imports the pages. The app is imported here for the type checker only, so no
import cycle runs through it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.message import Message
from textual.message_pump import MessagePump
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import NoActiveWorker, Worker, get_current_worker

from mltui.store.follow import Shown, StoreChanges

if TYPE_CHECKING:
    from textual import getters

    from mltui.store import Store
    from mltui.tui.app import MltuiApp

ResultType = TypeVar("ResultType")

if TYPE_CHECKING:

    class MixinHost(Screen[Any]):
        """A screen of mltui as the type checker sees the mixins of screens (write_flow.py's,
        sortable.py's) that derive from it; at run time they derive from object."""

        app = getters.app(MltuiApp)

else:
    MixinHost = object


def after_typed_keys(screen: Screen[Any], callback: Callable[[], object], *also: Widget) -> None:
    """Run `callback` after the keys typed before now have been handled.

    Textual runs a priority binding as its key reaches the app. A key typed before it travels
    further: to the focused widget's queue, then, unless that widget takes it, up through each
    ancestor's queue back to the app, which runs its binding (a table's Down). Typed fast or
    pasted ("Down Down Enter", text then ctrl+s), Enter opened the row the cursor was leaving
    and ctrl+s saved the text without its last letters. `callback` takes the same road, queue
    by queue, so it runs behind those keys and sees what they did; first through the queues of
    `also` (widgets that had the focus a moment ago, where typed keys may still wait).
    """
    road: list[MessagePump] = [*also, *(screen.focused or screen).ancestors_with_self]

    def hop() -> None:
        if road:
            road.pop(0).call_later(hop)
        else:
            callback()

    hop()


def in_key_order(action: Callable[..., None]) -> Callable[..., None]:
    """For the action of a `priority=True` binding: run it after the keys typed before it
    (`after_typed_keys`)."""

    @functools.wraps(action)
    def queued(self: Screen[Any], *args: Any) -> None:
        after_typed_keys(self, functools.partial(action, self, *args))

    return queued


class Answer(Message):
    """What a page's reading found, posted from its thread worker. A thread worker cannot be
    stopped: when a newer reading of its group starts (a followed change, `r`), the older one
    is cancelled yet still posts its answer, which may come after the newer one's. A handler
    drops an answer that is `stale`, so an older reading never replaces a newer one."""

    def __init__(self) -> None:
        super().__init__()
        try:
            self.answered_by: Worker | None = get_current_worker()
        except NoActiveWorker:
            self.answered_by = None

    @property
    def stale(self) -> bool:
        """A newer reading of the same group began after this one."""
        return self.answered_by is not None and self.answered_by.is_cancelled


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

    #: What a follower that looks only at the pages on show (a tracking server's) missed
    #: while this page was not on show: heard once, when it is shown again.
    _missed: StoreChanges | None = None

    def _on_mount(self, event: events.Mount) -> None:
        # Immediate: the page hears of a change in the same turn the app does, as it always has.
        self.app.store_changed_signal.subscribe(self, self._hear, immediate=True)

    def _hear(self, changes: StoreChanges) -> None:
        if self.app.on_show(self):
            self.store_changed(changes)
            return
        # Not on show, and the follower looks only at what is: read nothing now (each reading
        # costs requests), and catch up when shown again.
        if self._missed is None:
            self._missed = StoreChanges()
        self._missed.merge(changes)

    def on_screen_resume(self) -> None:
        self.app.shown_changed()
        missed, self._missed = self._missed, None
        if missed:
            self.store_changed(missed)

    def live_data(self) -> Shown:
        """What this page shows that changes live: a tracking server's follower polls only
        what the pages on show name (store/follow/changes.py)."""
        return Shown()

    def store_changed(self, changes: StoreChanges) -> None:
        """Another process (or our own write) changed the store; pages showing live data
        override this to read again or extend what they show."""

    def action_back(self) -> None:
        self.app.back()
