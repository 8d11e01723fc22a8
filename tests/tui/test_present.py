"""tui/present/ used as a plain library, with no app: axis ticks and the runs view's tree."""

from __future__ import annotations

import math

import pytest

from mltui.store.entities import TAG_PARENT_RUN_ID, Run
from mltui.tui.present import axes
from mltui.tui.present.runs_view import tree_rows


def test_log_axis_ticks_are_decades_with_2_and_5_between_when_they_fit():
    assert axes.y_ticks(0, 3, 4, log=True) == ([0.0, 1.0, 2.0, 3.0], ["1", "10", "100", "1000"])
    ticks, labels = axes.y_ticks(0, 1.2, 3, log=True)
    assert labels == ["1", "2", "5", "10"]
    assert ticks == pytest.approx([0, math.log10(2), math.log10(5), 1])
    assert axes.decade(-7) == "1e-7" and axes.decade(2, 5) == "500"


def test_linear_and_x_axis_ticks_and_labels():
    assert axes.y_ticks(0, 1, 5, log=False)[1] == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
    assert axes.x_ticks(0, 1000, 5, "step")[1] == ["0", "200", "400", "600", "800", "1000"]
    assert axes.x_ticks(0, 5400, 4, "relative")[1] == ["0", "30m", "1h", "1h30m"]
    assert axes.axis_label(90, 10, "relative") == "1m30s"
    assert axes.axis_label(12345.0, 10, "step") == "12.3k"


def test_tree_rows_nest_children_and_survive_a_parent_cycle():
    def run(run_id: str, parent: str | None = None) -> Run:
        tags = {TAG_PARENT_RUN_ID: parent} if parent else {}
        return Run(run_id, "0", run_id, "FINISHED", 1, 2, "active", "", "", tags=tags)

    rows = tree_rows([run("a"), run("b", "a"), run("c"), run("x", "y"), run("y", "x")], set())
    assert [(r.run.run_id, r.depth, r.expanded) for r in rows] == [
        ("a", 0, True),
        ("b", 1, None),
        ("c", 0, None),
        ("x", 0, True),
        ("y", 1, True),  # its child x is placed already, above it
    ]
    collapsed = tree_rows([run("a"), run("b", "a")], {"a"})
    assert [(r.run.run_id, r.expanded) for r in collapsed] == [("a", False)]
