"""CSV files of runs (the runs table) and of a comparison (the compare table).

Values are written exactly as logged: params and tags verbatim (the csv module quotes commas,
quotes and newlines), metrics at full precision (`repr`, which round-trips a float) with NaN and
infinities spelled as MLflow's REST API and pandas write them: `NaN`, `Infinity`, `-Infinity`.
Files are written to a temporary file beside the target and renamed over it, so a reader never
sees half a file.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from mltui.store.entities import Run
from mltui.store.errors import StoreError
from mltui.store.export import write_atomically
from mltui.store.values import datetime_of, invalid_time
from mltui.tui import clock

#: Where exports go instead of the current directory.
EXPORT_DIR_VARIABLE = "MLTUI_EXPORT_DIR"

#: Header of each attribute column the runs table can show (its column key -> CSV header).
ATTRIBUTE_HEADERS = {
    "run_id": "run_id",
    "name": "run_name",
    "status": "status",
    "start": "start_time",
    "end": "end_time",
    "duration": "duration_s",
    "user": "user",
    "source": "source",
    "experiment_id": "experiment_id",
}

#: The sections of a compare table, in order, as `write_compare_csv` names them.
COMPARE_SECTIONS = ("params", "metrics", "tags")


def csv_number(value: float) -> str:
    """A float at full precision; NaN and infinities as `NaN`, `Infinity`, `-Infinity`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def _iso_time(ms: int | None) -> str:
    if ms is None:
        return ""
    when = datetime_of(ms)
    return (
        invalid_time(ms) if when is None else when.astimezone().isoformat(timespec="milliseconds")
    )


def run_value(run: Run, column: str) -> str:
    """The CSV text of one column (`name`, `params.alpha`, `metrics.rmse`, ...) of one run."""
    kind, _, key = column.partition(".")
    if kind == "metrics" and key:
        metric = run.metrics.get(key)
        return "" if metric is None else csv_number(metric.value)
    if kind == "params" and key:
        return run.params.get(key, "")
    if kind == "tags" and key:
        return run.tags.get(key, "")
    if column == "run_id":
        return run.run_id
    if column == "experiment_id":
        return run.experiment_id
    if column == "name":
        return run.run_name
    if column == "status":
        return run.status
    if column == "start":
        return _iso_time(run.start_time)
    if column == "end":
        return _iso_time(run.end_time)
    if column == "duration":
        from mltui.tui.widgets.runs_table import run_duration

        duration = run_duration(run, clock.now_ms())
        return "" if duration is None else csv_number(duration / 1000)
    if column == "user":
        from mltui.tui.widgets.runs_table import run_user

        return run_user(run)
    if column == "source":
        from mltui.tui.widgets.runs_table import source_name

        return source_name(run)
    return ""


def column_header(column: str) -> str:
    """The CSV header of a column key: attributes get MLflow's names, the rest stay as keys."""
    return ATTRIBUTE_HEADERS.get(column, column)


def _slug(label: str) -> str:
    """A piece of a file name: letters, digits, `.`, `_` and `-` kept, runs of others as `-`."""
    slug = re.sub(r"[^\w.-]+", "-", label).strip("-._")
    return slug[:60].rstrip("-._") or "export"


def default_export_path(label: str) -> Path:
    """`./mltui-<label>-<YYYYmmdd-HHMMSS>.csv` (or in `$MLTUI_EXPORT_DIR`), not yet taken."""
    folder = Path(os.environ.get(EXPORT_DIR_VARIABLE) or Path.cwd())
    stamp = datetime.fromtimestamp(clock.now_ms() / 1000).strftime("%Y%m%d-%H%M%S")
    stem = f"mltui-{_slug(label)}-{stamp}"
    path = folder / f"{stem}.csv"
    number = 1
    while path.exists():  # two exports within a second keep both files
        number += 1
        path = folder / f"{stem}-{number}.csv"
    return path


def write_rows_atomically(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """Write CSV rows to `path` through a temporary file renamed over it; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, lambda out: csv.writer(out).writerows(rows)).resolve()


def write_runs_csv(
    runs: Sequence[Run], columns: Sequence[str], path: Path | None = None, *, label: str = "runs"
) -> Path:
    """One row per run, `run_id` first then `columns` (runs-table column keys); returns the path.

    `label` names the default file (`mltui-<label>-<timestamp>.csv`), e.g. the experiment name.
    """
    keys = ["run_id", *(c for c in columns if c not in ("run_id", "mark"))]
    rows = [[column_header(key) for key in keys]]
    rows.extend([run_value(run, key) for key in keys] for run in runs)
    return write_rows_atomically(path or default_export_path(label), rows)


def write_compare_csv(
    runs: Sequence[Run],
    rows: Sequence[tuple[str, str]],
    path: Path | None = None,
    *,
    label: str = "compare",
) -> Path:
    """A compare table: a `section,key` column pair then one column per run (named by its name).

    `rows` are (section, key) pairs with section `params`, `metrics` or `tags`. The first data
    row is `run,run_id` with each run's id, since run names need not be unique.
    """
    out = [["section", "key", *(run.run_name for run in runs)]]
    out.append(["run", "run_id", *(run.run_id for run in runs)])
    for section, key in rows:
        column = f"{section}.{key}"
        out.append([section, key, *(run_value(run, column) for run in runs)])
    return write_rows_atomically(path or default_export_path(label), out)


def export_in_background(node, write: Callable[[], Path], what: str = "CSV") -> None:
    """Run `write` in a thread worker of `node`; the app then shows the path or the error.

    For the runs screen: `export_in_background(self, lambda: write_runs_csv(runs, columns,
    label=name), f"{len(runs)} runs")`.
    """
    app = node.app

    def work() -> None:
        try:
            written = write()
        except Exception as error:
            app.call_from_thread(
                app.notify,
                str(error) if isinstance(error, StoreError) else f"{type(error).__name__}: {error}",
                title="Export failed",
                severity="error",
                timeout=10,
            )
        else:
            app.call_from_thread(app.notify, str(written), title=f"Exported {what}", timeout=10)

    node.run_worker(work, thread=True, group="csv-export", exit_on_error=False)
