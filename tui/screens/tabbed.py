"""A screen built around one TabbedContent: number keys show a pane, tab and shift+tab step
through the panes (wrapping round). The run and MLmodel screens are such screens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.binding import Binding
from textual.widgets import TabbedContent

from mltui.tui.screens.base import MltuiScreen


def number_key_bindings(screen: str, tabs: Sequence[tuple[str, str]]) -> list[Binding]:
    """Keys `1`…`n` showing the panes of `tabs` ((pane id, "1 Label")), not in the footer."""
    return [
        Binding(str(i), f"show_tab('{pane}')", label[2:], id=f"{screen}.tab_{pane}", show=False)
        for i, (pane, label) in enumerate(tabs, 1)
    ]


class TabbedScreen(MltuiScreen[None]):
    """Subclasses set TABS, (pane id, tab label) in the order of the number keys."""

    TABS: ClassVar[Sequence[tuple[str, str]]] = ()

    def action_show_tab(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def action_next_tab(self) -> None:
        self._step_tab(1)

    def action_previous_tab(self) -> None:
        self._step_tab(-1)

    def _step_tab(self, delta: int) -> None:
        tabs = self.query_one(TabbedContent)
        # Panes whose tab is hidden (the run's Evaluation tab without evaluations) are skipped.
        order = [pane for pane, _ in self.TABS if not tabs.get_tab(pane).has_class("-hidden")]
        index = order.index(tabs.active) if tabs.active in order else 0
        tabs.active = order[(index + delta) % len(order)]
