"""MLflow 3 traces: the list of an experiment's traces, and one trace as a span waterfall.

The list shows what MLflow's Traces tab shows (request time, name, state, duration, tokens,
assessments); Enter opens a trace: its spans as a tree with start offsets, durations and a bar
each, and the highlighted span's inputs, outputs, attributes and events below. Everything a
trace holds is user data: shown as literal text, JSON pretty-printed and long values folded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from mltui.store.errors import FilterError
from mltui.store.follow import Shown
from mltui.store.trace_search import parse_trace_filter
from mltui.store.traces import SPAN_INPUTS, SPAN_OUTPUTS, Span, Trace, TraceInfo
from mltui.tui.screens.base import Answer, MltuiScreen, in_key_order
from mltui.tui.screens.sortable import SortableFilterable
from mltui.tui.text import format_time, literal, one_line
from mltui.tui.widgets.breadcrumbs import Breadcrumbs, store_crumb
from mltui.tui.widgets.filter_bar import _COMPARATOR as COMPARATOR
from mltui.tui.widgets.keyed_table import KeyedTable

if TYPE_CHECKING:
    from mltui.store.follow import StoreChanges

STATE_STYLE = {"OK": "green", "ERROR": "bold red", "IN_PROGRESS": "yellow"}
#: Attributes shown in their own rows (or not at all), not repeated under Attributes.
_OWN_ROWS = {SPAN_INPUTS, SPAN_OUTPUTS, "mlflow.spanType", "mlflow.traceRequestId"}
#: A value longer than this many lines is folded, with a note of what was left out.
FOLD_LINES = 12
BAR_WIDTH = 24


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, "italic"))


def format_ms(ms: float | None) -> str:
    """A span or trace duration: `4.4 ms`, `1.25 s`; empty when unknown."""
    if ms is None or ms < 0:
        return ""
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms} ms" if isinstance(ms, int) else f"{ms:.1f} ms"  # traces: whole ms; spans: ns


def tokens_text(info: TraceInfo) -> Text:
    usage = info.token_usage or {}
    total = usage.get("total_tokens")
    return Text("" if total is None else str(total), justify="right")


def folded(value: Any, lines: int = FOLD_LINES) -> Text:
    """`value` as pretty JSON (text as itself), cut after `lines` lines with a note."""
    shown = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    parts = shown.splitlines() or [""]
    text = literal("\n".join(parts[:lines]))
    if len(parts) > lines:
        text.append(f"\n… {len(parts) - lines} more lines", style="dim italic")
    return text


class _ReadingScreen(MltuiScreen[None]):
    """A screen whose table fills from one store read in a worker (`load`); a failed read is
    one notice and the table stops loading. Read again when the store says its traces changed."""

    def on_mount(self) -> None:
        self.query_one(DataTable).loading = True
        self.load()

    def load(self) -> object:
        """Start the read (a @work method: returns its Worker)."""
        raise NotImplementedError

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == self.TITLE and event.state == WorkerState.ERROR:
            self.query_one(DataTable).loading = False
            self.notify(one_line(event.worker.error), title=self.TITLE, severity="error")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()

    def live_data(self) -> Shown:
        return Shown(traces_of=frozenset(self.shown_experiments()))

    def store_changed(self, changes: StoreChanges) -> None:
        if changes.traces & self.shown_experiments():
            self.load()

    def shown_experiments(self) -> set[str]:
        """The experiments whose traces this screen shows (read again when they change)."""
        raise NotImplementedError


# --------------------------------------------------------------------------- the list


#: The list's columns: (key, label); each sorts the list.
TRACE_COLUMNS = [
    ("time", "Request time"),
    ("name", "Name"),
    ("state", "State"),
    ("duration", "Duration"),
    ("tokens", "Tokens"),
    ("assessments", "Assessments"),
    ("request", "Request"),
    ("tags", "Tags"),
]
#: What each column sorts by: numbers for times, durations and counts; None when missing.
_SORT_VALUE: dict[str, Callable[[TraceInfo], Any]] = {
    "time": lambda t: t.request_time,
    "name": lambda t: t.name.lower() or None,
    "state": lambda t: t.state,
    "duration": lambda t: t.execution_duration,
    "tokens": lambda t: (t.token_usage or {}).get("total_tokens"),
    "assessments": lambda t: t.assessments_count,
    "request": lambda t: (t.request_preview or "").lower() or None,
    "tags": lambda t: user_tags_text(t).lower() or None,
}


def user_tags_text(info: TraceInfo) -> str:
    tags = {k: v for k, v in info.tags.items() if not k.startswith("mlflow.")}
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def sorted_traces(traces: list[TraceInfo], key: str, reverse: bool) -> list[TraceInfo]:
    """`traces` by column `key`; those without a value go last in either direction."""
    value = _SORT_VALUE[key]
    valued = [t for t in traces if value(t) is not None]
    valued.sort(key=value, reverse=reverse)  # stable: ties keep the newest-first order
    return valued + [t for t in traces if value(t) is None]


def trace_query(text: str) -> Callable[[TraceInfo], bool] | None:
    """A predicate for what was typed in the filter box; None for empty text. MLflow's trace
    search syntax (`attributes.status = 'ERROR'`), or, for text with no comparator in it, words
    looked for in names and request previews. Raises FilterError for a filter MLflow rejects."""
    text = text.strip()
    if not text:
        return None
    try:
        return parse_trace_filter(text)
    except FilterError:
        if COMPARATOR.search(text):
            raise
    needle = text.lower()
    return lambda t: needle in t.name.lower() or needle in (t.request_preview or "").lower()


class TracesScreen(SortableFilterable, _ReadingScreen):
    """The traces of the chosen experiments, newest first; Enter opens one."""

    TITLE = "Traces"
    FILTER_BOX = "traces-filter"
    SORT_TITLE = "Sort traces by"
    AUTO_FOCUS = "#traces-table"
    DEFAULT_CSS = """
    TracesScreen #traces-empty {
        padding: 1 2;
        color: $text-muted;
    }
    TracesScreen #traces-filter-error {
        color: $text-error;
        padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="traces.back"),
        Binding("enter", "open", "Open trace", id="traces.open", priority=True),
        Binding("slash", "filter", "Filter", id="traces.filter"),
        Binding("s", "sort", "Sort", id="traces.sort"),
        Binding("S", "reverse", "Reverse sort", id="traces.reverse", show=False),
        Binding("r", "reload", "Reload", id="traces.reload"),
    ]

    class Loaded(Answer):
        def __init__(self, traces: list[TraceInfo], names: list[str]) -> None:
            super().__init__()
            self.traces = traces
            self.names = names

    def __init__(self, experiment_ids: list[str]) -> None:
        super().__init__()
        self.experiment_ids = [str(i) for i in experiment_ids]
        self.traces: list[TraceInfo] = []
        self.cells: dict[str, list[Text]] = {}
        # Newest first, as MLflow's Traces tab, until the user sorts by something else.
        self.sort_key = "time"
        self.sort_reverse = True
        self.quick_filter = ""
        #: The filter box's text parsed; None (every trace) while it is not a filter MLflow takes.
        self.predicate: Callable[[TraceInfo], bool] | None = None

    def compose(self) -> ComposeResult:
        yield Breadcrumbs(store_crumb(self.app.opened_store.location, self.app.demo), "Traces")
        box = Input(
            placeholder="attributes.status = 'ERROR' and execution_time_ms > 50   or words to find",
            id="traces-filter",
        )
        box.display = False
        yield box
        yield Static(id="traces-filter-error")
        yield Static(
            "No traces in this experiment. MLflow 3 records them with @mlflow.trace, "
            "mlflow.start_span or autologging.",
            id="traces-empty",
        )
        yield KeyedTable(TRACE_COLUMNS, id="traces-table")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#traces-empty").display = False
        self.query_one("#traces-filter-error").display = False
        # No super().on_mount(): Textual calls _ReadingScreen.on_mount itself (a handler runs for
        # each class that defines it), and calling it here read the store twice.

    def shown_experiments(self) -> set[str]:
        return set(self.experiment_ids)

    @work(thread=True, exclusive=True, group="Traces", exit_on_error=False)
    def load(self) -> None:
        store = self.app.opened_store
        names = store.experiment_names(self.experiment_ids)
        self.post_message(self.Loaded(store.traces(self.experiment_ids), names))

    def on_traces_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        store = self.app.opened_store
        crumbs = self.query_one(Breadcrumbs)
        crumbs.show(store_crumb(store.location, self.app.demo), ", ".join(message.names), "Traces")
        # The store lists oldest first: reversed, ties in every sort keep the newest first.
        self.traces = message.traces[::-1]
        # Made once per read, not per keystroke in the filter box (0.7 s for 10,000 traces).
        self.cells = {info.trace_id: self._cells(info) for info in self.traces}
        table = self.query_one(KeyedTable)
        table.loading = False
        # Read again (live or `r`): the cursor stays on its trace even when it was at the top.
        self.refresh_table(keep_cursor=table.row_count > 0)
        self.query_one("#traces-empty").display = not message.traces
        table.display = bool(message.traces)

    # -- sorting and filtering (SortableFilterable) ------------------------------------------
    def sort_columns(self) -> list[tuple[str, str]]:
        return TRACE_COLUMNS

    def descending_first(self, key: str) -> bool:
        # Newest, slowest, most first; text from A.
        return key in ("time", "duration", "tokens", "assessments")

    def sort_labels(self, table: DataTable[Any]) -> None:
        super().sort_labels(table)
        # DataTable sizes a column by its cells and its first label only: make room for the ▼.
        for column in table.columns.values():
            column.content_width = max(column.content_width, column.label.cell_len)
        table.refresh()

    def refresh_table(self, keep_cursor: bool = False) -> None:
        self._apply_filter_text()
        table = self.query_one(KeyedTable)
        self.sort_labels(table)
        shown = [t for t in self.traces if self.predicate is None or self.predicate(t)]
        rows = sorted_traces(shown, self.sort_key, self.sort_reverse)
        # At the top the cursor stays there, so after a sort the first trace is highlighted.
        at_top = table.cursor_row <= 0 and not keep_cursor
        table.set_rows((info.trace_id, self.cells[info.trace_id]) for info in rows)
        if at_top and rows:
            table.move_cursor(row=0)
        count, total = len(rows), len(self.traces)
        of = f" of {total}" if count != total else ""
        self.query_one(Breadcrumbs).status = f"{count}{of} trace{'s' if total != 1 else ''}"

    def _apply_filter_text(self) -> None:
        """Parse the filter box's text; a filter MLflow rejects is one line under the box."""
        error = self.query_one("#traces-filter-error", Static)
        try:
            self.predicate = trace_query(self.quick_filter)
        except FilterError as exc:
            # Every trace stays listed: a half-typed filter must not look like an empty answer.
            self.predicate = None
            error.update(literal(one_line(exc)))
            error.display = True
            return
        error.display = False

    def _close_filter(self) -> None:
        box = self.query_one("#traces-filter", Input)
        box.value = ""  # refilters (Input.Changed): every trace is back
        box.display = False
        self.query_one(KeyedTable).focus()

    @staticmethod
    def _cells(info: TraceInfo) -> list[Text]:
        return [
            Text(format_time(info.request_time)),
            literal(one_line(info.name, 40), style="bold"),
            state_text(info.state),
            Text(format_ms(info.execution_duration), justify="right"),
            tokens_text(info),
            Text(str(info.assessments_count or ""), justify="right"),
            literal(one_line(info.request_preview or "", 40)),
            literal(one_line(user_tags_text(info), 30)),
        ]

    def action_back(self) -> None:
        if self.query_one("#traces-filter").display:
            self._close_filter()
        else:
            super().action_back()

    @in_key_order
    def action_open(self) -> None:
        table = self.query_one(KeyedTable)
        if self.focused is self.query_one("#traces-filter"):
            table.focus()
            return
        trace_id = table.current_key()
        if trace_id is not None:
            self.app.open_trace(trace_id)


# --------------------------------------------------------------------------- one trace


def span_order(spans: list[Span]) -> list[tuple[Span, int]]:
    """(span, depth) in tree order: each span after its parent, siblings by start time. A span
    whose parent is missing (not yet written) is shown as a root."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in sorted(spans, key=lambda s: s.start_time_ns):
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[Span, int]] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        out.append((span, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    return out


def waterfall_bar(start: int, end: int | None, t0: int, total: int, width: int = BAR_WIDTH):
    """The span's place in the trace as a bar of `width` cells."""
    if total <= 0:
        return Text("")
    first = min(width - 1, (start - t0) * width // total)
    last = width if end is None else max(first + 1, -(-(end - t0) * width // total))
    return Text(" " * first + "█" * (min(last, width) - first), style="cyan", no_wrap=True)


def span_detail(span: Span, t0: int) -> Group:
    """The highlighted span in full: type, status, timing, inputs, outputs, attributes, events."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="dim", no_wrap=True, min_width=10)
    grid.add_column(ratio=1, overflow="fold")
    status = state_text(span.status)
    if span.status_message:
        status.append("  ").append_text(literal(span.status_message))
    grid.add_row("Span", literal(f"{span.name}  ({span.span_type or 'UNKNOWN'})", style="bold"))
    grid.add_row("Status", status)
    duration = None if span.end_time_ns is None else (span.end_time_ns - span.start_time_ns) / 1e6
    grid.add_row(
        "Timing",
        Text(
            f"starts at +{format_ms((span.start_time_ns - t0) / 1e6)}, "
            f"lasts {format_ms(duration) or 'unfinished'}"
        ),
    )
    grid.add_row("Inputs", folded(span.inputs))
    grid.add_row("Outputs", folded(span.outputs))
    others = {k: v for k, v in sorted(span.attributes.items()) if k not in _OWN_ROWS}
    if others:
        grid.add_row("Attributes", folded(others))
    for event in span.events:
        grid.add_row(f"Event {event.get('name')}", folded(event.get("attributes") or {}, 8))
    return Group(grid)


def assessments_text(trace: Trace) -> Text:
    text = Text()
    for a in trace.info.assessments:
        if text:
            text.append("\n")
        text.append_text(literal(a.name, style="bold"))
        text.append(f" ({a.kind}) = ")
        text.append_text(literal(one_line(json.dumps(a.value, ensure_ascii=False), 60)))
        text.append_text(literal(f"  by {a.source_type} {a.source_id or ''}", style="dim"))
        if a.rationale:
            text.append_text(literal(f"  “{one_line(a.rationale, 80)}”", style="italic"))
    return text or Text("none", style="dim")


class TraceScreen(_ReadingScreen):
    """One trace: the request and response, assessments, and the spans as a waterfall."""

    TITLE = "Trace"
    AUTO_FOCUS = "#spans-table"
    DEFAULT_CSS = """
    TraceScreen #trace-summary {
        height: auto;
        max-height: 8;
        padding: 0 1;
        background: $boost;
    }
    TraceScreen #spans-table {
        height: 1fr;
        min-height: 5;
    }
    TraceScreen #span-detail-scroll {
        height: 1fr;
        padding: 0 1;
        background: $boost;
    }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="trace.back"),
        Binding("r", "reload", "Reload", id="trace.reload"),
    ]

    class Loaded(Answer):
        def __init__(self, trace: Trace | None) -> None:
            super().__init__()
            self.trace = trace

    def __init__(self, trace_id: str) -> None:
        super().__init__()
        self.trace_id = trace_id
        self.trace: Trace | None = None
        self.spans: dict[str, Span] = {}

    def compose(self) -> ComposeResult:
        store = self.app.opened_store
        yield Breadcrumbs(store_crumb(store.location, self.app.demo), "Traces", self.trace_id)
        yield Static(id="trace-summary")
        yield KeyedTable(
            [
                ("name", "Span"),
                ("type", "Type"),
                ("status", "Status"),
                ("start", "Start"),
                ("duration", "Duration"),
                ("bar", "Waterfall"),
            ],
            id="spans-table",
        )
        with VerticalScroll(id="span-detail-scroll"):
            yield Static(id="span-detail")
        yield Footer()

    def shown_experiments(self) -> set[str]:
        return {self.trace.info.experiment_id} if self.trace is not None else set()

    @work(thread=True, exclusive=True, group="Trace", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Loaded(self.app.opened_store.trace(self.trace_id)))

    def on_trace_screen_loaded(self, message: Loaded) -> None:
        if message.stale:
            return
        table = self.query_one(KeyedTable)
        table.loading = False
        trace = self.trace = message.trace
        self.app.shown_changed()  # its experiment is known now
        if trace is None:
            self.query_one("#trace-summary", Static).update(
                Text("This trace is no longer in the store.", style="red")
            )
            return
        info = trace.info
        self.query_one(Breadcrumbs).status = f"{info.state} · {format_ms(info.execution_duration)}"
        self.query_one("#trace-summary", Static).update(self._summary(trace))
        self.spans = {s.span_id: s for s in trace.spans}
        t0 = min((s.start_time_ns for s in trace.spans), default=0)
        t1 = max((s.end_time_ns or s.start_time_ns for s in trace.spans), default=t0)
        table.set_rows(
            (span.span_id, self._cells(span, depth, t0, t1 - t0))
            for span, depth in span_order(trace.spans)
        )
        self._show_detail()

    @staticmethod
    def _summary(trace: Trace) -> Group:
        info = trace.info
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim", no_wrap=True, min_width=11)
        grid.add_column(ratio=1, overflow="ellipsis", no_wrap=True)
        head = literal(info.name or info.trace_id, style="bold")
        head.append("  ").append_text(state_text(info.state))
        head.append(f"  {format_ms(info.execution_duration)}  at {format_time(info.request_time)}")
        usage = info.token_usage
        if usage:
            head.append(f"  tokens {usage.get('total_tokens', '?')}", style="dim")
        grid.add_row("Trace", head)
        grid.add_row("Request", literal(one_line(info.request_preview or "", 200)))
        grid.add_row("Response", literal(one_line(info.response_preview or "", 200)))
        grid.add_row("Assessments", assessments_text(trace))
        return Group(grid)

    @staticmethod
    def _cells(span: Span, depth: int, t0: int, total: int) -> list[Text]:
        name = Text("  " * depth, no_wrap=True)
        name.append_text(literal(one_line(span.name, 40)))
        duration = None if span.end_time_ns is None else (span.end_time_ns - span.start_time_ns)
        return [
            name,
            literal(span.span_type or ""),
            state_text(span.status),
            Text(f"+{format_ms((span.start_time_ns - t0) / 1e6)}", justify="right"),
            Text(format_ms(None if duration is None else duration / 1e6), justify="right"),
            waterfall_bar(span.start_time_ns, span.end_time_ns, t0, total),
        ]

    @on(DataTable.RowHighlighted, "#spans-table")
    def _highlighted(self) -> None:
        self._show_detail()

    def current_span(self) -> Span | None:
        key = self.query_one(KeyedTable).current_key()
        return self.spans.get(key) if key is not None else None

    def _show_detail(self) -> None:
        span = self.current_span()
        if span is not None and self.trace is not None:
            t0 = min(s.start_time_ns for s in self.trace.spans)
            self.query_one("#span-detail", Static).update(span_detail(span, t0))
