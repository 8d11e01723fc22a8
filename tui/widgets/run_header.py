"""The run page's header: the run's name and status, ids, times, source and parent."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from mltui.store.entities import DELETED, TAG_SOURCE_NAME, Experiment, Run
from mltui.tui import clock
from mltui.tui.text import format_duration, format_time, literal, one_line
from mltui.tui.widgets.runs_table import STATUS_LOOK

#: Width of the header's label column ("Experiment" and a space).
LABEL_WIDTH = 11
TAG_GIT_COMMIT = "mlflow.source.git.commit"


def status_text(status: str, lifecycle_stage: str = "") -> Text:
    """A run status as a coloured symbol and word (`✔ FINISHED`), `deleted` added when it is."""
    symbol, style = STATUS_LOOK.get(status, ("?", "dim"))
    text = Text(f"{symbol} {status}", style=style)
    if lifecycle_stage == DELETED:
        text.append("  deleted", style="bold red")
    return text


class RunHeader(Static):
    """Who, when and where of one run; a running run's duration grows as `show` is called again."""

    DEFAULT_CSS = """
    RunHeader {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Text("Loading run…", style="dim"), id=id)

    def show(self, run: Run, experiment: Experiment | None, parent: Run | None) -> None:
        title = literal(one_line(run.run_name or "(no name)"), style="bold")
        title.no_wrap, title.overflow = True, "ellipsis"
        title.append("   ")
        title.append_text(status_text(run.status, run.lifecycle_stage))
        source = run.tags.get(TAG_SOURCE_NAME, "")
        commit = run.tags.get(TAG_GIT_COMMIT, "")
        if commit:
            source = f"{source} @ {commit[:8]}" if source else commit[:8]
        lines: list[RenderableType] = [
            title,
            _grid(run, experiment),
            _TailLine("Source", source),
        ]
        if run.parent_run_id:
            name = parent.run_name if parent else "(not found)"
            lines.append(_TailLine("Parent", f"{name} ({run.parent_run_id})", keep_head=True))
        self.update(Group(*lines))


def _duration(run: Run) -> str:
    end = run.end_time
    if run.is_running and run.start_time is not None:
        return format_duration(clock.now_ms() - run.start_time) + " (running)"
    if run.start_time is not None and end is not None:
        return format_duration(end - run.start_time)
    return ""


def _grid(run: Run, exp: Experiment | None) -> Table:
    exp_text = f"{exp.name} ({run.experiment_id})" if exp else run.experiment_id
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style="dim", no_wrap=True, min_width=LABEL_WIDTH - 1)
    grid.add_column(no_wrap=True)  # as wide as a whole run id
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(ratio=1)
    rows = [
        ("Run id", run.run_id, "Experiment", exp_text),
        ("Start", format_time(run.start_time), "End", format_time(run.end_time)),
        ("Duration", _duration(run), "User", run.user_id),
    ]
    for a, b, c, d in rows:
        grid.add_row(a, _cell(b), c, _cell(d))
    return grid


def _cell(value: str) -> Text:
    return Text(one_line(value), no_wrap=True, overflow="ellipsis")


class _TailLine:
    """`Label     value` on one line; a value too long loses its start (paths end in the file name)."""

    def __init__(self, label: str, value: str, *, keep_head: bool = False) -> None:
        self.label = label
        self.value = one_line(value, 1000)
        self.keep_head = keep_head

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = max(options.max_width - LABEL_WIDTH, 1)
        value = Text(self.value)
        if value.cell_len > room:
            if self.keep_head:
                value.truncate(room, overflow="ellipsis")
            else:
                # Drop characters from the start until the rest fits beside an ellipsis.
                chars = self.value
                while chars and cell_len(chars) > room - 1:
                    chars = chars[1:]
                value = Text("…" + chars)
        line = Text(self.label.ljust(LABEL_WIDTH), style="dim", no_wrap=True, overflow="crop")
        line.append_text(value)
        yield line
