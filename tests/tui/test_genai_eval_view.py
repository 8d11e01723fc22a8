"""The run page's GenAI evaluation tab (tui/widgets/genai_eval.py) on the `genai-evaluation` run
MLflow 3.18.0's `mlflow.genai.evaluate` wrote into tests/fixtures/genai (make_genai_fixtures.py)."""

from __future__ import annotations

import pytest

from mltui.tui.screens.traces import TraceScreen
from mltui.tui.widgets.genai_eval import GenaiEvalView
from tests.conftest import store_path
from tests.tui.helpers import make_app, settle
from tests.tui.test_genai_screens import SQLITE, STORES, expected_of, on_run, screen_text

pytestmark = pytest.mark.anyio


def test_genai_evaluation_snapshot(snap_compare):
    app = make_app(store_path(SQLITE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=on_run("genai-evaluation", "8"))


async def wait_for_rows(pilot, view: GenaiEvalView) -> None:
    for _ in range(200):
        if view.rows:
            return
        await pilot.pause(0.05)
    raise AssertionError("the evaluation was not read")


@pytest.mark.parametrize("fixture", STORES, ids=lambda p: p.name)
async def test_one_row_per_evaluated_trace_and_enter_opens_it(fixture):
    expected = expected_of(fixture)["genai_evaluation"]
    app = make_app(store_path(fixture))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_run(expected["run_id"])
        await settle(pilot)
        view = app.screen.query_one(GenaiEvalView)
        await wait_for_rows(pilot, view)
        await pilot.press("8")
        await settle(pilot)
        assert app.screen.query_one("#run-tabs").active == "genai"
        assert sorted(view.rows) == sorted(t["trace_id"] for t in expected["traces"])
        text = screen_text(app)
        assert "4 evaluated traces" in text and "exact_match mean 0.5" in text
        assert "answer_length max 128 mean 45.5" in text
        assert '"[RED]MARKUP[/RED] STAYS' in text  # literal, not red
        assert "✔ yes" in text and "✘ False" in text and "! error" in text
        first = view.query_one("#genai-eval-table").current_key()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen) and app.screen.trace_id == first


async def test_the_tab_is_only_there_for_a_genai_evaluation_run():
    app = make_app(store_path(SQLITE))
    async with app.run_test(size=(120, 36)) as pilot:
        for name in ("evaluation", "train-with-system-metrics"):
            await on_run(name, "8")(pilot)
            assert "8 GenAI eval" not in screen_text(app)
            assert app.screen.query_one("#run-tabs").active != "genai"
            await pilot.press("escape")
        await on_run("genai-evaluation")(pilot)
        await wait_for_rows(pilot, app.screen.query_one(GenaiEvalView))
        await settle(pilot)
        assert "8 GenAI eval" in screen_text(app)
