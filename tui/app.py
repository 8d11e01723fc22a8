"""The App: global keys, theme, the store every page reads through workers, and navigation.

Pages ask the app to open another page (`open_run`, `open_registry`, ...): the app is the one
module that imports the pages, so pages never import one another. Each page's module is
imported when first opened, so the first page does not wait for the others' imports.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import get_current_worker

from mltui.store import Store, process
from mltui.store.follow import Shown
from mltui.tui.messages import StoreChanged
from mltui.tui.text import clean

if TYPE_CHECKING:
    from mltui.store.entities import ArtifactRoot, LoggedModel, Run
    from mltui.store.follow import Follower, StoreChanges
    from mltui.tui.widgets.artifact_browser import ArtifactBrowser

__all__ = ["MltuiApp", "StoreChanged"]


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
    """Browse a local MLflow store, or (given `model_dir`) one MLflow model folder."""

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
        store: Store | None,
        *,
        model_dir: Path | None = None,
        read_only: bool = False,
        watch: bool = True,
        poll_seconds: float | None = None,
        demo: bool = False,
    ) -> None:
        """`model_dir` opens that model folder's page alone (`mltui path/to/model`), in the
        store around it if any (`store` is then None for a loose folder), without following."""
        super().__init__()
        if store is None and model_dir is None:
            raise ValueError("MltuiApp needs a store or a model folder")
        self.store = store
        self.model_dir = model_dir
        self.read_only = read_only
        self.watch_store = watch and model_dir is None
        self.poll_seconds = poll_seconds
        self.demo = demo
        if model_dir is not None:
            self.sub_title = str(model_dir)
        elif store is not None:
            self.sub_title = ("demo store: " if demo else "") + str(store.location)
        self.follower: Follower | None = None
        #: Metric key -> lower is better, as chosen with `b` this session (compare and plots).
        self.metric_directions: dict[str, bool] = {}
        #: Every page hears of live store changes here (subscribed by `MltuiScreen`).
        self.store_changed_signal: Signal[StoreChanges] = Signal(self, "store-changed")
        own_the_process()

    @property
    def opened_store(self) -> Store:
        """`store`, for the pages that read one: all but a loose model folder's (it has none)."""
        if self.store is None:
            raise RuntimeError("this page needs a store; the app has none (a loose model folder)")
        return self.store

    def on_mount(self) -> None:
        if self.model_dir is not None:
            from mltui.tui.screens.mlmodel import MLmodelScreen

            self.push_screen(MLmodelScreen(self.model_dir, self.store))
            return
        from mltui.tui.screens.experiments import ExperimentsScreen

        self.push_screen(ExperimentsScreen())
        if self.store is not None:
            for note in self.store.notes:
                self.notify(note, title="Store", timeout=8)
        if self.watch_store:
            self.set_timer(self.FOLLOW_AFTER_SECONDS, self.start_following)

    # -- navigation: pages ask for another page here ----------------------------------------------
    def back(self) -> None:
        """Close the current page; on the first page (over Textual's default screen), leave."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
        else:
            self.exit()

    def open_runs(self, experiment_ids: list[str]) -> None:
        from mltui.tui.screens.runs import RunsScreen

        self.push_screen(RunsScreen(experiment_ids))

    def open_run(self, run_id: str) -> None:
        from mltui.tui.screens.run import RunScreen

        self.push_screen(RunScreen(run_id))

    def open_chart(
        self,
        run_ids: Sequence[str],
        metric_keys: Sequence[str] | None = None,
        *,
        runs: Sequence[Run] | None = None,
    ) -> None:
        from mltui.tui.screens.chart import ChartScreen

        self.push_screen(ChartScreen(run_ids, metric_keys, runs=runs))

    def open_compare(self, run_ids: Sequence[str]) -> None:
        from mltui.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(run_ids))

    def open_scatter(self, runs: Sequence[Run], *, where: str) -> None:
        from mltui.tui.screens.scatter import ScatterScreen

        self.push_screen(ScatterScreen(runs, where=where))

    def open_parallel(self, runs: Sequence[Run], *, where: str) -> None:
        from mltui.tui.screens.parallel import ParallelScreen

        self.push_screen(ParallelScreen(runs, where=where))

    def open_registry(self) -> None:
        from mltui.tui.screens.registry import RegisteredModelsScreen

        self.push_screen(RegisteredModelsScreen())

    def open_prompts(self) -> None:
        from mltui.tui.screens.prompts import PromptsScreen

        self.push_screen(PromptsScreen())

    def open_model_versions(self, name: str) -> None:
        from mltui.tui.screens.model_versions import ModelVersionsScreen

        self.push_screen(ModelVersionsScreen(name))

    def open_mlmodel(self, folder: Path, run_id: str | None = None, *, label: str) -> None:
        """The page of the model in `folder`, logged by `run_id` of this app's store."""
        from mltui.tui.screens.mlmodel import MLmodelScreen

        self.push_screen(MLmodelScreen(folder, self.store, run_id, label=label))

    def open_stored_mlmodel(
        self, root: ArtifactRoot, rel: str, run_id: str | None = None, *, label: str
    ) -> None:
        """The page of the model in folder `rel` under `root`, read through the store (a
        tracking server's artifact proxy: its MLmodel alone)."""
        from mltui.tui.screens.mlmodel import MLmodelScreen

        self.push_screen(MLmodelScreen(None, self.store, run_id, label=label, root=root, rel=rel))

    def on_artifact_browser_open_stored_model(
        self, message: ArtifactBrowser.OpenStoredModel
    ) -> None:
        """Enter on an MLmodel in artifacts listed through the store, on any page."""
        self.open_stored_mlmodel(message.root, message.rel, label=message.rel or "model")

    def open_logged_models(self, experiment_ids: list[str]) -> None:
        from mltui.tui.screens.logged_models import LoggedModelsScreen

        self.push_screen(LoggedModelsScreen(experiment_ids))

    def open_logged_model(self, model: LoggedModel) -> None:
        from mltui.tui.screens.logged_models import LoggedModelScreen

        self.push_screen(LoggedModelScreen(model))

    def open_traces(self, experiment_ids: Sequence[str]) -> None:
        from mltui.tui.screens.traces import TracesScreen

        self.push_screen(TracesScreen(list(experiment_ids)))

    def open_trace(self, trace_id: str) -> None:
        from mltui.tui.screens.traces import TraceScreen

        self.push_screen(TraceScreen(trace_id))

    # -- following the store live ------------------------------------------------------------
    def start_following(self) -> None:
        assert self.store is not None  # only a model folder's app has none, and it never follows
        try:
            # From when the store was opened: a change made while the first screens were read
            # (before following starts) still reaches them.
            self.follower = self.store.follower(
                poll_seconds=self.poll_seconds, since_ns=self.store.opened_ns
            )
        except ValueError as error:
            self.notify(str(error), title="Not following changes", severity="warning")
            return
        self.shown_changed()
        # post_message is thread-safe and never waits for the UI, so the follower never blocks.
        self.follower.start(lambda changes: self.post_message(StoreChanged(changes)))
        self._report_follow_mode()

    def pages_on_show(self) -> list[Screen[Any]]:
        """The page on top and, under dialogs (modal screens), the page they sit on."""
        shown: list[Screen[Any]] = []
        for screen in reversed(self.screen_stack):
            shown.append(screen)
            if not screen.is_modal:
                break
        return shown

    def on_show(self, screen: Screen[Any]) -> bool:
        """Whether `screen` hears of changes as they come (else: when it is shown again)."""
        follower = self.follower
        return follower is None or not follower.shown_only or screen in self.pages_on_show()

    def shown_changed(self) -> None:
        """Tell the follower what the pages on show need followed (a server's polls only it)."""
        if self.follower is None:
            return
        shown = Shown()
        for screen in self.pages_on_show():
            live_data = getattr(screen, "live_data", None)  # mltui's pages; not Textual's own
            if live_data is not None:
                shown |= live_data()
        self.follower.show(shown)

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
        if changes.store_gone and self.store is not None:
            self.notify(
                f"{self.store.location} disappeared; what was read stays on screen.",
                title="Store gone",
                severity="warning",
                timeout=12,
            )
        self.store_changed_signal.publish(changes)

    def on_unmount(self) -> None:
        if self.follower is not None:
            self.follower.stop(timeout=1.0)
        if self.store is not None:
            self.store.close()  # and its worker processes

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
