"""The traces list and a trace's span waterfall, on the MLflow 3.18.0 trace fixtures."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console

from mltui.store import open_store
from mltui.tui.app import MltuiApp
from mltui.tui.screens.runs import RunsScreen
from mltui.tui.screens.traces import TraceScreen, TracesScreen, span_detail, span_order
from tests.conftest import FIXTURES_DIR, store_path
from tests.test_live_traces import trace_store, write_traces
from tests.test_watch import run_python
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


async def sorted_and_filtered(pilot) -> None:
    """The list by duration, slowest first, filtered to the traces tagged with an env."""
    await listed(pilot)
    await pilot.press("s", *"duration", "enter", "slash", *"tags.env IS NOT NULL")
    await settle(pilot)


def test_traces_list_snapshot(snap_compare):
    app = make_app(store_path(TRACE_STORES[0]))
    assert snap_compare(app, terminal_size=(120, 24), run_before=sorted_and_filtered)


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


async def listed(pilot):
    """The traces list of the fixture's five traces, and its table, once they are listed."""
    screen = await open_traces(pilot)
    table = screen.query_one("#traces-table")
    assert await eventually(pilot, lambda: table.row_count == 5)
    return screen, table


def durations(table) -> list[str]:
    return [table.get_row_at(i)[3].plain for i in range(table.row_count)]


async def test_sort_by_duration_finds_the_slowest_trace():
    app = make_app(store_path(TRACE_STORES[0]))
    async with app.run_test(size=(120, 36)) as pilot:
        _, table = await listed(pilot)
        await pilot.press("s", *"duration", "enter")  # the picker, narrowed by typing
        await settle(pilot)
        assert durations(table) == ["70 ms", "2 ms", "2 ms", "1 ms", "0 ms"]
        assert table.columns["duration"].label.plain == "Duration ▼"
        await pilot.press("S")
        await settle(pilot)
        assert durations(table) == ["0 ms", "1 ms", "2 ms", "2 ms", "70 ms"]
        await pilot.press("S", "enter")
        await settle(pilot)
        trace_screen = app.screen
        assert isinstance(trace_screen, TraceScreen)
        assert await eventually(pilot, lambda: trace_screen.trace is not None)
        assert trace_screen.trace.info.execution_duration == 70


async def click_header(pilot, table, key: str) -> None:
    """A click on the header of column `key`."""
    x = 0
    for column in table.ordered_columns:
        if column.key.value == key:
            break
        x += column.get_render_width(table)
    await pilot.click(table, offset=(x + 2, 0))
    await settle(pilot)


async def test_header_click_sorts_and_missing_values_go_last():
    app = make_app(store_path(TRACE_STORES[0]))
    async with app.run_test(size=(120, 36)) as pilot:
        _, table = await listed(pilot)

        def tokens() -> list[str]:
            return [table.get_row_at(i)[4].plain for i in range(5)]

        await click_header(pilot, table, "tokens")
        assert table.columns["tokens"].label.plain == "Tokens ▼"
        assert tokens() == ["36", "32", "29", "", ""]  # two traces logged none: last
        await click_header(pilot, table, "tokens")  # again: reversed, still last
        assert tokens() == ["29", "32", "36", "", ""]


@pytest.mark.parametrize("fixture", TRACE_STORES, ids=lambda p: p.name)
async def test_filter_with_mlflows_trace_syntax(fixture):
    app = make_app(store_path(fixture))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await listed(pilot)
        error = screen.query_one("#traces-filter-error")
        await pilot.press("slash", *"attributes.status = 'ERROR'")
        await settle(pilot)
        assert [table.get_row_at(i)[1].plain for i in range(table.row_count)] == [
            "failing-pipeline"
        ]
        assert not error.display
        await pilot.press("enter")  # back to the table; Enter again opens the failing trace
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, TraceScreen)
        assert await eventually(pilot, lambda: app.screen.trace is not None)
        assert app.screen.trace.info.state == "ERROR"


async def test_a_filter_mlflow_rejects_is_one_line_and_plain_words_search():
    app = make_app(store_path(TRACE_STORES[0]))
    async with app.run_test(size=(120, 36)) as pilot:
        screen, table = await listed(pilot)
        error = screen.query_one("#traces-filter-error")
        await pilot.press("slash", *"state = 'OK'")
        await settle(pilot)
        assert error.display and "state" in str(error.render())
        assert table.row_count == 5  # nothing hidden by a filter that did not parse
        box = screen.query_one("#traces-filter")
        box.value = "grapes"  # no comparator: words in names and request previews
        await settle(pilot)
        assert not error.display and table.row_count == 1
        assert "grapes" in table.get_row_at(0)[6].plain
        box.value = "manual"
        await settle(pilot)
        assert [table.get_row_at(0)[1].plain] == ["manual-root"] and table.row_count == 1
        await pilot.press("escape")  # closes the filter: every trace is back
        await settle(pilot)
        assert table.row_count == 5 and not box.display
        assert isinstance(app.screen, TracesScreen)


async def followed_list(pilot):
    """The traces list of an app following its store (`followed_app`), once it follows."""
    screen, table = await listed(pilot)
    app = pilot.app
    assert await eventually(pilot, lambda: app.follower is not None)
    await asyncio.to_thread(app.follower.wait_ready, 60)
    return screen, table


def followed_app(tmp_path) -> tuple[MltuiApp, str, str]:
    """(app following it, tracking URI, experiment id) on a copy of the SQLite trace store."""
    path, uri, exp_id = trace_store("sqlite", tmp_path)
    return MltuiApp(open_store(path), watch=True), uri, exp_id


async def test_a_new_trace_appears_live_and_the_cursor_stays(tmp_path):
    """MLflow logs a trace while the list is open: it appears at the top (newest first is kept)
    and the cursor stays on the trace it was on."""
    app, uri, exp_id = followed_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        _, table = await followed_list(pilot)
        was_on = table.current_key()
        (trace_id,) = await asyncio.to_thread(write_traces, [(uri, exp_id)])
        assert await eventually(pilot, lambda: trace_id in table.rows)
        assert table.row_count == 6
        assert table.get_row_at(0)[1].plain == "live-trace"
        assert table.current_key() == was_on


async def test_the_open_trace_reloads_when_it_is_assessed(tmp_path):
    """MLflow adds an assessment to the trace on screen: its summary shows it, the cursor
    stays on its span."""
    app, uri, _ = followed_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await followed_list(pilot)
        await pilot.press("enter", "down")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, TraceScreen) and screen.trace is not None
        span = screen.current_span()
        code = f"""
import mlflow
mlflow.set_tracking_uri({uri!r})
mlflow.log_feedback(trace_id={screen.trace_id!r}, name="live-check", value=True)
"""
        await asyncio.to_thread(run_python, code)
        names = lambda: [a.name for a in screen.trace.info.assessments]  # noqa: E731
        assert await eventually(pilot, lambda: "live-check" in names())
        assert screen.current_span().span_id == span.span_id
