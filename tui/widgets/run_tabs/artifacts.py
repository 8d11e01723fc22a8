"""The run page's Artifacts tab: the run's artifact tree, or a logged model's own folder."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult

from mltui.store import Store
from mltui.store.run_models import RunModel
from mltui.tui.text import one_line
from mltui.tui.widgets.artifact_browser import ArtifactBrowser
from mltui.tui.widgets.run_tabs.base import RunDetails, RunTab


class ArtifactsTab(RunTab[None]):
    PANE = "artifacts"
    LABEL = "Artifacts"
    FOCUS = "#artifact-tree"

    def __init__(self, store: Store, number: int) -> None:
        super().__init__(store, number)
        self.details: RunDetails | None = None
        #: False while a logged model's folder is shown (Backspace goes back to the run's).
        self.browsing_run_root = True

    def compose(self) -> ComposeResult:
        yield ArtifactBrowser(id="artifact-browser")

    def focus_content(self) -> None:
        self.query_one(ArtifactBrowser).focus_tree()

    def show(self, details: RunDetails, data: None) -> None:
        # A running run read again keeps the tree as it is (`r` reads it again).
        self.details = details
        if details.reset:
            self.browse_run()

    def browse_run(self, reveal: str | None = None) -> None:
        """Show the run's artifact root (and the file or folder at `reveal` under it)."""
        if self.details is None:
            return
        self.browsing_run_root = True
        self.query_one(ArtifactBrowser).set_root(
            self.details.artifact_root,
            "Run artifacts",
            reveal=reveal,
            store_dir=self._store_dir(),
            store=self.store,
        )

    def show_model(self, model: RunModel) -> bool:
        """Show where `model` is: a logged model's own folder, or a history entry's path among
        the run's artifacts; False (and a notice) when that cannot be browsed here."""
        if self.details is None:
            return False
        run_root = self.details.artifact_root
        if model.root is not None:
            if not self.store.can_browse_artifacts(model.root):
                self.notify(one_line(model.root.note or "cannot be browsed locally"), markup=False)
                return False
            self.browsing_run_root = False
            self.query_one(ArtifactBrowser).set_root(
                model.root,
                f"Logged model {one_line(model.name)} ({model.model_id})",
                store_dir=self._store_dir(),
                store=self.store,
            )
        elif model.artifact_path is not None:
            if not self.store.can_browse_artifacts(run_root):
                self.notify(one_line(run_root.note or "cannot be browsed locally"), markup=False)
                return False
            if self.browsing_run_root:
                self.query_one(ArtifactBrowser).reveal(model.artifact_path)
            else:
                self.browse_run(reveal=model.artifact_path)
        else:
            self.notify("This model has no artifact folder to open.", timeout=3)
            return False
        return True

    def _store_dir(self) -> Path | None:
        """The folder paths are shown relative to (None: artifact URIs are shown as they are)."""
        return self.store.folder
