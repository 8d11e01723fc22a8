"""How the registry's values look wherever models and versions are listed: stages, aliases, tags."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.text import Text

from mltui.tui.text import literal, one_line

if TYPE_CHECKING:
    from textual.widgets import DataTable

#: How stages look wherever versions are listed.
STAGE_STYLE = {
    "Production": "bold green",
    "Staging": "yellow",
    "Archived": "dim",
    "None": "",
}
ALIAS_STYLE = "bold magenta"


def workspace_column(table: DataTable, workspaces: Iterable[str]) -> bool:
    """Whether `table` shows a Workspace column (key "workspace"), adding it at the end when
    `workspaces` holds more than one: MLflow 3.12+ keeps registered models and prompts of one
    name apart per workspace. Once added it stays, as the cells of rows already shown do."""
    if "workspace" not in table.columns and len(set(workspaces)) > 1:
        table.add_column("Workspace", key="workspace")
    return "workspace" in table.columns


def aliases_text(aliases: dict[str, str] | list[str], *, with_versions: bool = True) -> Text:
    """`@champion v2  @challenger v4`: aliases first and bold, each with its version."""
    text = Text(no_wrap=True, overflow="ellipsis")
    items = aliases.items() if isinstance(aliases, dict) else ((a, None) for a in aliases)
    for i, (alias, version) in enumerate(sorted(items, key=lambda item: item[0])):
        if i:
            text.append("  ")
        text.append_text(literal("@" + one_line(alias, 60), style=ALIAS_STYLE))
        if with_versions and version is not None:
            text.append(f" v{one_line(version, 12)}", style="magenta")
    return text


def stage_text(stage: str) -> Text:
    return Text(stage, style=STAGE_STYLE.get(stage, "italic"))


def tags_text(tags: dict[str, str], limit: int = 60) -> Text:
    return literal(one_line(", ".join(f"{k}={v}" for k, v in sorted(tags.items())), limit))
