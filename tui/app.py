"""The App: global keys, theme, and the store every screen reads through workers."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import get_current_worker

from mltui.store import Store, parallel, process
from mltui.tui.text import clean


class StoreChanged(Message):
    """The store changed while the app was open (from `store.watch.StoreFollower`)."""

    def __init__(self, changes) -> None:
        super().__init__()
        self.changes = changes


def own_the_process() -> None:
    """The app's decisions on process-wide state (see `mltui.store.process`), made when an app
    is built, never at import."""
    # Readers may pause the garbage collector while they build runs (10-30% faster reads):
    # a pause lasts one batch at most, and the screen's code never runs inside one.
    process.allow_gc_pauses()
    # watchdog 7 warns when a folder made and filled at once (a new run) gets its watch twice;
    # it keeps one and loses nothing, and a warning printed on the terminal would tear the
    # screen.
    warnings.filterwarnings(
        "ignore", category=RuntimeWarning, module=r"watchdog\.observers\.inotify"
    )


class MltuiApp(App[int]):
    """Browse a local MLflow store."""

    CSS_PATH = "mltui.tcss"
    TITLE = "mltui"
    #: Following starts after the first screen has had its read: it competes for the same cores.
    FOLLOW_AFTER_SECONDS = 1.5
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        store: Store,
        *,
        read_only: bool = False,
        watch: bool = True,
        poll_seconds: float | None = None,
        demo: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.read_only = read_only
        self.watch_store = watch
        self.poll_seconds = poll_seconds
        self.demo = demo
        self.sub_title = ("demo store: " if demo else "") + str(store.location)
        self.follower = None
        own_the_process()

    def on_mount(self) -> None:
        from mltui.tui.screens.experiments import ExperimentsScreen

        self.push_screen(ExperimentsScreen())
        for note in self.store.notes:
            self.notify(note, title="Store", timeout=8)
        if self.watch_store:
            self.set_timer(self.FOLLOW_AFTER_SECONDS, self.start_following)

    # -- following the store live ------------------------------------------------------------
    def start_following(self) -> None:
        from mltui.store.watch import StoreFollower

        try:
            # From when the store was opened: a change made while the first screens were read
            # (before following starts) still reaches them.
            self.follower = StoreFollower(
                self.store, poll_seconds=self.poll_seconds, since_ns=self.store.opened_ns
            )
        except ValueError as error:
            self.notify(str(error), title="Not following changes", severity="warning")
            return
        # post_message is thread-safe and never waits for the UI, so the follower never blocks.
        self.follower.start(lambda changes: self.post_message(StoreChanged(changes)))
        self._report_follow_mode()

    @work(thread=True, group="follow")
    def _report_follow_mode(self) -> None:
        worker = get_current_worker()
        follower = self.follower
        while follower is not None and not worker.is_cancelled:
            if follower.wait_ready(0.25):
                if follower.notice:
                    self.call_from_thread(
                        self.notify, follower.notice, title="Live updates", timeout=8
                    )
                return

    def on_store_changed(self, message: StoreChanged) -> None:
        changes = message.changes
        for notice in changes.notices:
            self.notify(notice, title="Live updates", timeout=8)
        if changes.store_gone:
            self.notify(
                f"{self.store.location} disappeared; what was read stays on screen.",
                title="Store gone",
                severity="warning",
                timeout=12,
            )
        for screen in self.screen_stack:
            handler = getattr(screen, "store_changed", None)
            if handler is not None:
                handler(changes)

    def on_unmount(self) -> None:
        if self.follower is not None:
            self.follower.stop(timeout=1.0)
        parallel.shutdown()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications often carry user data (names, paths): always shown as literal text."""
        super().notify(
            clean(message), title=clean(title), severity=severity, timeout=timeout, markup=False
        )

    def action_help(self) -> None:
        from mltui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key binding of the current screen is also a command in the palette."""
        yield from super().get_system_commands(screen)
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            yield SystemCommand(
                binding.description,
                binding.tooltip
                or f"{binding.description} (key: {binding.key_display or binding.key})",
                lambda node=active.node, action=binding.action: self.call_later(
                    node.run_action, action
                ),
            )
