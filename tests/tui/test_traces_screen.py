"""The traces list and a trace's span waterfall, on the MLflow 3.18.0 trace fixtures."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mltui.tui.screens.runs import RunsScreen
from mltui.tui.screens.traces import TraceScreen, TracesScreen, span_detail, span_order
from tests.conftest import FIXTURES_DIR, store_path
from tests.tui.helpers import eventually, fixture_store_path, make_app, settle

pytestmark = pytest.mark.anyio

TRACE_STORES = [FIXTURES_DIR / "traces" / f"mlflow-3.18.0-{b}" for b in ("file", "sqlite")]


async def open_traces(pilot) -> TracesScreen:
    """From the experiment's runs screen, T: the traces list."""
    await settle(pilot)
    exp = pilot.app.store.experiment_by_name_or_id("genai-traces")
    await pilot.app.push_screen(RunsScreen([exp.experiment_id]))
    await settle(pilot)
    await pilot.press("T")
    await settle(pilot)
    assert isinstance(pilot.app.screen, TracesScreen)
    return pilot.app.screen


async def open_failing_tool_span(pilot) -> None:
    """The third newest trace (its TOOL span raised), opened, the cursor on that span."""
    await open_traces(pilot)
    await pilot.press("down", "down", "enter")
    await settle(pilot)
    await pilot.press("down", "down", "down")
    await settle(pilot)


def test_trace_waterfall_snapshot(snap_compare):
    app = make_app(store_path(TRACE_STORES[0]))
    assert snap_compare(app, terminal_size=(120, 36), run_before=open_failing_tool_span)


@pytest.mark.parametrize("fixture", TRACE_STORES, ids=lambda p: p.name)
async def test_find_the_span_that_raised(fixture):
    app = make_app(store_path(fixture))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_traces(pilot)
        table = screen.query_one("#traces-table")
        assert await eventually(pilot, lambda: table.row_count == 5)
        states = [table.get_row_at(i)[2].plain for i in range(5)]
        assert states == ["OK", "ERROR", "OK", "OK", "OK"]  # newest first
        await pilot.press("down", "enter")
        await settle(pilot)
        trace_screen = app.screen
        assert isinstance(trace_screen, TraceScreen)
        assert await eventually(pilot, lambda: trace_screen.trace is not None)
        spans = trace_screen.query_one("#spans-table")
        names = [spans.get_row_at(i)[0].plain.strip() for i in range(spans.row_count)]
        assert names == ["failing-pipeline", "retrieve", "lookup_price"]
        await pilot.press("down", "down")
        await settle(pilot)
        span = trace_screen.current_span()
        assert (span.name, span.span_type, span.status) == ("lookup_price", "TOOL", "ERROR")
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(span_detail(span, trace_screen.trace.spans[0].start_time_ns))
        detail = console.export_text()
        assert "ValueError: no price for 'unobtainium'" in detail
        assert "Event exception" in detail and '"item": "unobtainium"' in detail
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, RunsScreen)


async def test_markup_in_a_trace_is_shown_literally():
    app = make_app(store_path(TRACE_STORES[1]))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_traces(pilot)
        table = screen.query_one("#traces-table")
        assert await eventually(pilot, lambda: table.row_count == 5)
        request = table.get_row_at(1)[6]
        assert "[bold]markup[/bold]" in request.plain and not request.spans


def test_span_order_puts_children_under_parents_and_orphans_at_the_root():
    from mltui.store.traces import Span

    def span(sid, parent, start):
        return Span(sid, parent, sid, "OK", "", start, start + 1)

    spans = [span("b", "a", 2), span("a", None, 1), span("c", "a", 3), span("x", "gone", 0)]
    assert [(s.span_id, d) for s, d in span_order(spans)] == [
        ("x", 0),
        ("a", 0),
        ("b", 1),
        ("c", 1),
    ]


async def test_an_experiment_without_traces_says_so():
    app = make_app(fixture_store_path("mlflow-2.22.5-file"))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        exp = app.store.experiment_by_name_or_id("elasticnet-sweep")
        await app.push_screen(TracesScreen([exp.experiment_id]))
        await settle(pilot)
        assert app.screen.query_one("#traces-empty").display
        assert not app.screen.query_one("#traces-table").display
