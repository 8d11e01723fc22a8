"""CSV files of runs (the runs table) and of a comparison (the compare table).

Both are written by the store's CSV writer (`mltui.store.export`), the one `mltui export --format
csv` uses: a runs CSV is exactly that command's output for the same runs (its columns, times in
UTC ISO 8601), and a compare CSV spells each value the same way. Values are written exactly as
logged: params and tags verbatim (the csv module quotes commas, quotes and newlines), metrics at
full precision with NaN and infinities as `NaN`, `Infinity`, `-Infinity`. Files are written to
a temporary file beside the target and renamed over it, so a reader never sees half a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO

from mltui.store.entities import Run
from mltui.store.errors import StoreError
from mltui.store.export import csv_cell, csv_writer, run_record, write_atomically, write_csv
from mltui.tui import clock

#: Where exports go instead of the current directory.
EXPORT_DIR_VARIABLE = "MLTUI_EXPORT_DIR"

#: The sections of a compare table, in order, as `write_compare_csv` names them.
COMPARE_SECTIONS = ("params", "metrics", "tags")


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


def _write(path: Path | None, label: str, write: Callable[[IO[str]], object]) -> Path:
    """`write` to `path` (or a new default file named by `label`) atomically; the full path."""
    path = Path(path or default_export_path(label))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomically(path, write).resolve()


def write_runs_csv(
    runs: Sequence[Run],
    experiment_names: Mapping[str, str],
    path: Path | None = None,
    *,
    label: str = "runs",
) -> Path:
    """The runs as `mltui export --format csv` writes them; returns the path.

    `experiment_names` maps experiment ids to names (the `experiment_name` column); `label`
    names the default file (`mltui-<label>-<timestamp>.csv`), e.g. the experiment name.
    """
    records = [run_record(run, experiment_names.get(run.experiment_id, "")) for run in runs]
    return _write(path, label, lambda out: write_csv(records, out))


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
    records = [run_record(run, "") for run in runs]
    out = [["section", "key", *(run.run_name for run in runs)]]
    out.append(["run", "run_id", *(run.run_id for run in runs)])
    for section, key in rows:
        column = f"{section}.{key}"
        out.append([section, key, *(csv_cell(record, column) for record in records)])
    return _write(path, label, lambda handle: csv_writer(handle).writerows(out))


def export_in_background(node, write: Callable[[], Path], what: str = "CSV") -> None:
    """Run `write` in a thread worker of `node`; the app then shows the path or the error.

    For the runs screen: `export_in_background(self, lambda: write_runs_csv(runs, names,
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
