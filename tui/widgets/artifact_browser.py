"""A run's (or logged model's) artifact folder as a lazily loaded tree, with a text preview."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker, WorkerState, get_current_worker

from mltui.store import ArtifactEntry, ArtifactRoot, Store, StoreError
from mltui.store.artifacts import PREVIEW_LIMIT, list_artifacts, read_text_preview
from mltui.tui.text import clean, literal, one_line


def format_size(size: int | None) -> str:
    """A byte count as `512 B`, `1.5 KiB`, `3.2 MiB`."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


@dataclass(slots=True)
class ArtifactNode:
    """What a tree node stands for; `loaded` once a folder's entries have been listed."""

    entry: ArtifactEntry
    loaded: bool = False


class ArtifactBrowser(Vertical):
    """Folders load when expanded; highlighting a file previews it (text only, never binaries)."""

    DEFAULT_CSS = """
    ArtifactBrowser {
        height: 1fr;
    }
    ArtifactBrowser > #artifact-title {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    ArtifactBrowser > #artifact-note {
        height: auto;
        max-height: 3;
        padding: 0 1;
        color: $warning;
    }
    ArtifactBrowser #artifact-panes {
        height: 1fr;
    }
    ArtifactBrowser #artifact-tree {
        width: 2fr;
        min-width: 24;
        height: 1fr;
        border-right: vkey $panel;
    }
    ArtifactBrowser #artifact-preview {
        width: 3fr;
        height: 1fr;
        padding: 0 1;
    }
    ArtifactBrowser #artifact-preview:focus {
        background: $boost;
    }
    ArtifactBrowser #artifact-preview-info {
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("v", "toggle_focus", "Tree/preview", id="artifacts.preview"),
    ]

    class Listed(Message):
        """The entries of one folder (`rel`, "" for the root), read in a worker."""

        def __init__(self, generation: int, rel: str, entries: list[ArtifactEntry]) -> None:
            super().__init__()
            self.generation = generation
            self.rel = rel
            self.entries = entries

    class Previewed(Message):
        """A file's text (None for a binary), or why it could not be read."""

        def __init__(
            self, generation: int, entry: ArtifactEntry, text: str | None, error: str | None
        ) -> None:
            super().__init__()
            self.generation = generation
            self.entry = entry
            self.text = text
            self.error = error

    def __init__(self, *, preview_limit: int = PREVIEW_LIMIT, id: str | None = None) -> None:
        super().__init__(id=id)
        self.preview_limit = preview_limit
        self.root: ArtifactRoot | None = None
        self.store: Store | None = None
        self.title = ""
        # Bumped whenever the root changes, so answers about an earlier root are dropped.
        self.generation = 0
        self._by_path: dict[str, TreeNode[ArtifactNode]] = {}
        self._reveal: str | None = None
        self._previewing: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="artifact-title")
        yield Static(id="artifact-note")
        with Horizontal(id="artifact-panes"):
            tree: Tree[ArtifactNode] = Tree(Text("artifacts"), id="artifact-tree")
            tree.show_root = False
            tree.guide_depth = 3
            tree.auto_expand = True
            yield tree
            with VerticalScroll(id="artifact-preview"):
                yield Static(id="artifact-preview-info")
                yield Static(id="artifact-preview-text")

    def on_mount(self) -> None:
        self.query_one("#artifact-note").display = False
        self._show_preview(Text("Loading…", style="dim"))

    @property
    def file_tree(self) -> Tree[ArtifactNode]:
        """The artifact tree (not `tree`: DOMNode's own property, the DOM as a Rich tree)."""
        return self.query_one("#artifact-tree", Tree)

    # -- the root --------------------------------------------------------------------------------
    def set_root(
        self,
        root: ArtifactRoot,
        title: str,
        *,
        reveal: str | None = None,
        store_dir: Path | None = None,
        store: Store | None = None,
    ) -> None:
        """Browse `root` from the top (`title` says whose artifacts they are).

        Paths under `store_dir` (the folder holding the store) are shown from its name on.
        `store` lists and reads the root (a tracking server through its artifact proxy);
        None: a local folder, read here.
        """
        self.root = root
        self.store = store
        self.title = title
        self.generation += 1
        self._by_path = {}
        self._reveal = reveal.strip("/") if reveal else None
        self._previewing = None
        where = str(root.path) if root.path is not None else root.recorded
        note_text = root.note or ""
        if store_dir is not None:
            inside, shown = str(store_dir).rstrip(os.sep) + os.sep, store_dir.name + os.sep
            where = where.replace(inside, shown)
            note_text = note_text.replace(inside, shown)
        heading = Text(clean(title), style="bold", no_wrap=True, overflow="ellipsis")
        if not (note_text and where in note_text):  # the note already says where
            heading.append("  " + clean(where), style="dim")
        self.query_one("#artifact-title", Static).update(heading)
        note = self.query_one("#artifact-note", Static)
        note.display = bool(note_text)
        note.update(literal(note_text))
        tree = self.file_tree
        tree.clear()
        tree.root.data = ArtifactNode(ArtifactEntry("", True, None))
        browsable = store.can_browse_artifacts(root) if store else root.path is not None
        if not browsable:
            self._show_preview(
                Text("These artifacts cannot be browsed locally.", style="dim"), info=None
            )
            return
        self._show_preview(Text("Loading…", style="dim"))
        self._by_path[""] = tree.root
        self.list_folder(self.generation, root, "")

    def reveal(self, rel: str) -> None:
        """Open the folders down to `rel` and put the cursor on it."""
        self._reveal = rel.strip("/")
        self._continue_reveal()

    # -- workers ---------------------------------------------------------------------------------
    @work(thread=True, group="artifact-list", exit_on_error=False)
    def list_folder(self, generation: int, root: ArtifactRoot, rel: str) -> None:
        store = self.store
        entries = store.list_artifacts(root, rel) if store else list_artifacts(root, rel)
        self.post_message(self.Listed(generation, rel, entries))

    @work(thread=True, exclusive=True, group="artifact-preview", exit_on_error=False)
    def read_preview(self, generation: int, root: ArtifactRoot, entry: ArtifactEntry) -> None:
        try:
            store = self.store
            if store is not None:
                text = store.read_text_preview(root, entry.path, self.preview_limit)
            else:
                text = read_text_preview(root, entry.path, self.preview_limit)
            error = None
        except StoreError as exc:
            text, error = None, str(exc)
        if not get_current_worker().is_cancelled:
            self.post_message(self.Previewed(generation, entry, text, error))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            event.stop()
            self.notify(
                one_line(event.worker.error), title="Artifacts", severity="error", markup=False
            )

    # -- answers ---------------------------------------------------------------------------------
    def on_artifact_browser_listed(self, message: Listed) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        parent = self._by_path.get(message.rel)
        if parent is None:
            return
        parent.remove_children()
        if parent.data is not None:
            parent.data.loaded = True
        for entry in message.entries:
            name = entry.path.rsplit("/", 1)[-1]
            label = literal(one_line(name))
            if entry.is_dir:
                label.append("/", style="dim")
                node = parent.add(label, ArtifactNode(entry), allow_expand=True)
            else:
                label.append(f"  {format_size(entry.size)}", style="dim")
                node = parent.add_leaf(label, ArtifactNode(entry))
            self._by_path[entry.path] = node
        if message.rel == "":
            if not message.entries:
                self._show_preview(Text("No artifacts.", style="dim"), info=None)
            elif self._reveal is None:
                self._show_preview(Text("Highlight a file to preview it.", style="dim"), info=None)
                self.call_after_refresh(self._highlight_first)
        elif not message.entries:
            parent.add_leaf(Text("(empty)", style="dim italic"))
        self._continue_reveal()

    def _continue_reveal(self) -> None:
        """Walk towards the path being revealed as far as the loaded folders allow."""
        target = self._reveal
        if target is None or self.root is None:
            return
        parts = target.split("/")
        tree = self.file_tree
        for depth in range(1, len(parts) + 1):
            rel = "/".join(parts[:depth])
            node = self._by_path.get(rel)
            if node is None:
                parent_rel = "/".join(parts[: depth - 1])
                parent = self._by_path.get(parent_rel)
                if parent is not None and parent.data is not None and parent.data.loaded:
                    # Loaded but not there: reveal as much of the path as exists.
                    self._reveal = None
                    if parent is not tree.root:
                        self._move_to(parent)
                    self.notify(
                        f"{clean(target)} is not among the artifacts", timeout=4, markup=False
                    )
                return
            data = node.data
            if depth == len(parts) or data is None or not data.entry.is_dir:
                self._reveal = None
                if data is not None and data.entry.is_dir and not node.is_expanded:
                    node.expand()
                self._move_to(node)
                return
            if not node.is_expanded:
                node.expand()
            if not data.loaded:
                return  # resumed when this folder's listing arrives

    def _highlight_first(self) -> None:
        tree = self.file_tree
        if tree.cursor_node is None and tree.last_line >= 0:
            tree.cursor_line = 0

    def _move_to(self, node: TreeNode[ArtifactNode]) -> None:
        tree = self.file_tree
        self.call_after_refresh(tree.move_cursor, node)
        self.call_after_refresh(tree.scroll_to_node, node)

    @on(Tree.NodeExpanded, "#artifact-tree")
    def _expanded(self, event: Tree.NodeExpanded[ArtifactNode]) -> None:
        event.stop()
        data = event.node.data
        if self.root is None or data is None or data.loaded or not data.entry.is_dir:
            return
        event.node.add_leaf(Text("loading…", style="dim italic"))
        self.list_folder(self.generation, self.root, data.entry.path)

    class OpenModel(Message):
        """Enter on an `MLmodel` file: its folder (inside the artifact root) holds a model."""

        def __init__(self, folder: Path, rel: str) -> None:
            super().__init__()
            self.folder = folder
            self.rel = rel

    class OpenStoredModel(Message):
        """Enter on an `MLmodel` file listed through the store (a tracking server's proxy): the
        model is the folder `rel` under `root` (the app opens it, on any page)."""

        def __init__(self, root: ArtifactRoot, rel: str) -> None:
            super().__init__()
            self.root = root
            self.rel = rel

    @on(Tree.NodeSelected, "#artifact-tree")
    def _selected(self, event: Tree.NodeSelected[ArtifactNode]) -> None:
        data = event.node.data
        if self.root is None or data is None or data.entry.is_dir:
            return
        folder_rel, _, name = data.entry.path.rpartition("/")
        if name != "MLmodel":
            return
        if self.root.path is not None:
            event.stop()
            folder = self.root.path / folder_rel if folder_rel else self.root.path
            self.post_message(self.OpenModel(folder, folder_rel))
        elif self.store is not None and self.store.can_browse_artifacts(self.root):
            event.stop()
            self.post_message(self.OpenStoredModel(self.root, folder_rel))

    @on(Tree.NodeHighlighted, "#artifact-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[ArtifactNode]) -> None:
        event.stop()
        data = event.node.data
        if self.root is None or data is None:
            return
        entry = data.entry
        if entry.is_dir:
            self._previewing = None
            self._show_preview(Text("Folder.", style="dim"), info=entry)
            return
        if entry.path == self._previewing:
            return
        self._previewing = entry.path
        self._show_preview(Text("Reading…", style="dim"), info=entry)
        self.read_preview(self.generation, self.root, entry)

    def on_artifact_browser_previewed(self, message: Previewed) -> None:
        message.stop()
        if message.generation != self.generation or message.entry.path != self._previewing:
            return
        entry = message.entry
        if message.error is not None:
            self._show_preview(literal(message.error, style="red"), info=entry)
        elif message.text is None:
            size = entry.size if entry.size is not None else 0
            self._show_preview(
                Text(f"binary file, {size:,} bytes: not shown", style="italic"), info=entry
            )
        else:
            body = literal(message.text.replace("\r\n", "\n"))
            truncated = entry.size is not None and entry.size > self.preview_limit
            if truncated:
                body.append(
                    f"\n… the first {format_size(self.preview_limit)} of {entry.size:,} bytes",
                    style="dim italic",
                )
            self._show_preview(body, info=entry)

    def _show_preview(self, body: Text, info: ArtifactEntry | None = None) -> None:
        header = Text()
        if info is not None:
            header.append(clean(info.path), style="bold")
            if not info.is_dir:
                header.append(f"  {format_size(info.size)}", style="dim")
        header_widget = self.query_one("#artifact-preview-info", Static)
        header_widget.display = info is not None
        header_widget.update(header)
        self.query_one("#artifact-preview-text", Static).update(body)
        self.query_one("#artifact-preview", VerticalScroll).scroll_home(animate=False)

    # -- actions ---------------------------------------------------------------------------------
    def action_toggle_focus(self) -> None:
        preview = self.query_one("#artifact-preview", VerticalScroll)
        if self.screen.focused is preview:
            self.file_tree.focus()
        else:
            preview.focus()

    def focus_tree(self) -> None:
        self.file_tree.focus()
