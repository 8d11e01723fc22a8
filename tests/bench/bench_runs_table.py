"""The runs table with 10,000 runs: `RunsTable.show` (all rows at once), and until drawn.

    python tests/bench/bench_runs_table.py [--runs N] [--repeat N]

Runs are made in memory (15 params, 6 metrics, 8 tags each, 1% running, a few nested), shown in
a headless app at 160x48 as the runs screen shows them: the first show (new columns, every row
made), then re-sorts (rows reused, as a sort or a live update rebuilds), each timed alone and
until the screen has drawn them, then 20 presses of Down. The figures are CPU seconds of this
process (`time.process_time`), best of --repeat: on two shared cores wall-clock time measures
the neighbours.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time

from textual.app import App, ComposeResult

from mltui.store.entities import Metric, Run
from mltui.tui.present.runs_view import ATTRIBUTE_COLUMNS, default_columns, sort_runs, tree_rows
from mltui.tui.widgets.runs_table import RunsTable

STATUSES = ["FINISHED"] * 95 + ["FAILED", "FAILED", "KILLED", "RUNNING", "SCHEDULED"]
NOW = 1_750_000_000_000


def make_runs(count: int) -> list[Run]:
    rng = random.Random(7)
    runs = []
    for i in range(count):
        start = NOW - rng.randrange(10**9)
        status = rng.choice(STATUSES)
        params = {
            f"p{k:02d}": str(rng.choice([0.1, 0.01, 0.5, 3, "adam", "sgd"])) for k in range(15)
        }
        metrics = {
            key: Metric(key, rng.random(), start + 1000, rng.randrange(100))
            for key in ("loss", "acc", "f1", "rmse", "mae", "r2")
        }
        tags = {f"t{k}": f"tag value {rng.randrange(50)}" for k in range(8)}
        if i % 50 and i > 50 and i % 7 == 0:
            tags["mlflow.parentRunId"] = f"{i - i % 50:032x}"
        runs.append(
            Run(
                run_id=f"{i:032x}",
                experiment_id=str(i % 4),
                run_name=f"run-{i}",
                status=status,
                start_time=start,
                end_time=None if status == "RUNNING" else start + rng.randrange(10**7),
                lifecycle_stage="active",
                artifact_uri="",
                user_id="bench",
                params=params,
                metrics=metrics,
                tags=tags,
            )
        )
    return runs


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RunsTable(id="runs-table")


async def measure(count: int, repeat: int) -> dict[str, float]:
    runs = make_runs(count)
    _, shown = default_columns(runs)
    columns = [key for key, _ in ATTRIBUTE_COLUMNS] + shown
    orders = [("start", True), ("metrics.loss", False), ("name", False), ("start", True)]
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, seconds), seconds)

    for _ in range(repeat):
        app = TableApp()
        async with app.run_test(size=(160, 48)) as pilot:
            table = app.query_one(RunsTable)
            await pilot.pause()
            for n, (column, descending) in enumerate(orders):
                rows = tree_rows(sort_runs(runs, column, descending), set(), set())
                keep_id = table.current_run_id()
                started = time.process_time()
                table.show(rows, columns, sort_column=column, descending=descending, keep=keep_id)
                shown_at = time.process_time()
                await pilot.pause()
                drawn_at = time.process_time()
                label = "first show" if n == 0 else "re-sort"
                keep(f"{label}: show()", shown_at - started)
                keep(f"{label}: show() until drawn", drawn_at - started)
            assert table.row_count == len(rows)
            started = time.process_time()
            for _ in range(20):
                await pilot.press("down")
            keep("20 x down, drawn", time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, seconds in asyncio.run(measure(args.runs, args.repeat)).items():
        print(f"{name:32} {seconds * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
