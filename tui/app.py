"""The App: global keys, theme, and the store every screen reads through workers."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen

from store import Store
from tui.text import clean


class MltuiApp(App[int]):
    """Browse a local MLflow store."""

    CSS_PATH = "mltui.tcss"
    TITLE = "mltui"
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

    def on_mount(self) -> None:
        from tui.screens.experiments import ExperimentsScreen

        self.push_screen(ExperimentsScreen())
        for note in self.store.notes:
            self.notify(note, title="Store", timeout=8)

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
        from tui.screens.help import HelpScreen

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
