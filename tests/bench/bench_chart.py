"""How fast a chart of 10 runs x 100,000 points reads, reduces and draws, and its peak memory.

    python tests/bench/bench_chart.py [--workdir /tmp/mltui-bench] [--repeat 3] [--make-sqlite]

Uses the `long-histories` experiment of make_large_store.py --long (10 runs x 3 metrics x
100,000 steps), kept under --workdir/long as bench_read.py keeps it (and its mlflow.db, when
bench_read.py or --make-sqlite made one). The chart is of metric `loss` of all 10 runs, drawn at
120x36. The series cache (store/series_cache.py) is pointed at a fresh temporary folder
($MLTUI_CACHE_DIR), never the user's. Lines:

- read: `Store.metric_series` (columns straight from the file or the query's rows) of one
  history and of the 10 with the cache off (`use_cache = False`: every read parses or
  queries), and the old path for comparison: `Store.metric_history` (a Metric object per
  point), then `series_from_history`
- first open / reopened: the 10 with the cache on, its folder emptied before each try (parse or
  query, then write the cache), and again once it is filled (what a second look costs)
- first open with workers: the 10 through `Store.metric_series_many`, as the chart screen
  reads them, long histories parsed or queried in worker processes (store/parallel.py): with
  the workers started beforehand (as marking runs or opening one starts them), and with the
  pool shut down before each try (the fork server and workers start within the timing). Their
  CPU time is this process's alone; the workers' is not in it
- grown history: a copy of one metric file, cached, then 1,000 points appended: re-read (the
  cached prefix is checked, only the new lines parsed), as a live run's chart re-reads
- reduce: `reduce_series` of each to the plot's width (216 buckets), first time (with the
  sortedness check) and again (presorted)
- draw: `MetricChart` render of the 10 curves: first (columns sorted, then reduce + plotext)
  and again after a change (zoom), and with smoothing (EMA of 1,000,000 points, then drawn)
- in the app: `ChartScreen` pushed until all 10 curves are drawn (first curve, all curves),
  with the cache empty and then filled, the workers started beforehand
- peak RSS: a fresh Python that opens the chart in the app (headless) and draws it, next to
  one that only imports the app and opens the store
- the 10 runs listed: `Store.runs` of the experiment in a newly opened store, with the scan
  cache emptied (a file store reads every metric file whole for its latest value) and then
  filled, next to `MlflowClient.search_runs` of the same runs (their latest `loss` compared)

Goal (issue #5): read + reduce + draw <= 0.5 s. Two shared cores make single numbers noisy by
10-50%, and other jobs on them stretch wall times: the read and total lines give CPU time too
(`time.process_time`, best of --repeat like the wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_read import ensure_sqlite_copy, ensure_store  # noqa: E402

EXPERIMENT = "long-histories"
KEY = "loss"
SIZE = (120, 36)
#: What MetricChart reduces to at 120 columns: (120 - 12) cells x 2 braille dots.
BUCKETS = (SIZE[0] - 12) * 2


def best_of(repeat: int, work: Callable[[], object]) -> float:
    return timed(repeat, work)[0]


def timed(repeat: int, work: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of `work`, each the best of `repeat` calls."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        work()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - cpu_started)
    return wall, cpu


def long_runs(store):
    exp = next(e for e in store.experiments() if e.name == EXPERIMENT)
    return sorted(store.runs([exp.experiment_id]), key=lambda r: r.run_name)


# -- children for peak memory ---------------------------------------------------------------------
def child(mode: str, target: str) -> None:
    """Run in a fresh interpreter: print peak RSS (ru_maxrss and VmHWM, kB) as JSON."""
    from mltui.store import open_store
    from mltui.tui.app import MltuiApp  # noqa: F401 - the baseline pays for importing the app too

    store = open_store(target)
    runs = long_runs(store)
    seconds = None
    if mode == "chart":
        seconds = asyncio.run(chart_in_app(store, runs))[1]
    hwm = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"maxrss_kb": maxrss, "vmhwm_kb": hwm, "seconds": seconds}))


def peak(mode: str, target: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- in the app -----------------------------------------------------------------------------------
async def chart_in_app(store, runs) -> tuple[float, float]:
    """(seconds to the first curve drawn, seconds to all curves drawn) after pushing the screen."""
    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.chart import ChartScreen

    app = MltuiApp(store, watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = ChartScreen([r.run_id for r in runs], [KEY], runs=runs)
        started = time.perf_counter()
        await app.push_screen(screen)
        first = None
        while True:
            await asyncio.sleep(0.005)
            chart = screen.chart
            drawn = chart._render_key is not None and chart._render_key[2] == chart._version
            if first is None and chart.series and drawn and chart.drawn_points:
                first = time.perf_counter() - started
            if len(chart.series) == len(runs) and drawn and chart.drawn_points:
                return first or 0.0, time.perf_counter() - started


async def draw_timings(series, repeat: int) -> dict[str, float | tuple[float, float]]:
    from textual.app import App, ComposeResult

    from mltui.tui.widgets.metric_chart import ChartSeries, MetricChart

    class ChartApp(App[None]):
        def compose(self) -> ComposeResult:
            yield MetricChart()

    times: dict[str, float | tuple[float, float]] = {}
    app = ChartApp()
    async with app.run_test(size=SIZE) as pilot:
        chart = app.query_one(MetricChart)
        await pilot.pause()
        width, height = chart.size
        entries = [ChartSeries(f"run-{i}", s, i, key=KEY) for i, s in enumerate(series)]

        def first() -> None:
            chart._columns.clear()  # nothing sorted, reduced or drawn yet
            chart._reduced.clear()
            chart.set_series(entries)
            chart._draw(width, height)

        times["draw first"] = timed(repeat, first)
        times["points drawn"] = chart.drawn_points
        chart._draw(width, height)
        full = chart.x_extent()
        assert full is not None
        zooms = iter([(full[0], full[1] * f) for f in (0.9, 0.8, 0.7, 0.6, 0.5, 0.4)] * repeat)

        def again() -> None:
            chart.zoom = next(zooms)
            chart._draw(width, height)

        times["draw again (zoom)"] = best_of(repeat, again)
        chart.zoom = None
        chart.smoothing = True

        def smooth_first() -> None:
            chart._smoothed.clear()
            chart._reduced.clear()
            chart._draw(width, height)

        times["draw smoothed first (EMA)"] = best_of(repeat, smooth_first)
        smoothed_zooms = iter([(full[0], full[1] * f) for f in (0.9, 0.8, 0.7, 0.6)] * repeat)

        def smooth_again() -> None:
            chart.zoom = next(smoothed_zooms)
            chart._draw(width, height)

        times["draw smoothed again (zoom)"] = best_of(repeat, smooth_again)
        chart.zoom = None
        chart._draw(width, height)
        times["redraw, curves already reduced (log)"] = best_of(
            repeat, lambda: (chart.action_toggle_log(), chart._draw(width, height))
        )
    return times


def wait_for_workers(pool, workers: int) -> None:
    """Start a store's worker pool and wait until its processes are up (at most 30 s)."""
    pool.warm()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        executor = pool.executor() if pool.started else None
        if executor is not None and len(getattr(executor, "_processes", {})) >= workers:
            time.sleep(0.2)  # let the started workers finish importing
            return
        time.sleep(0.02)


# -- main -----------------------------------------------------------------------------------------
def grown_history(store, run, repeat: int) -> float | None:
    """Seconds to re-read a cached 100k-point metric file after 1,000 points were appended."""
    from mltui.store.file.metrics import metric_columns
    from mltui.store.series_cache import SeriesCache

    if store.kind != "file":
        return None
    source = store._find_run_dir(run.run_id)
    folder = Path(tempfile.mkdtemp(prefix="mltui-bench-grown-"))
    try:
        copy = folder / KEY
        cache = SeriesCache(folder / "cache")
        best = float("inf")
        for _ in range(repeat):
            shutil.copyfile(Path(source) / "metrics" / KEY, copy)
            cache.metric_file(str(copy), metric_columns)
            last = copy.read_bytes().rsplit(b"\n", 2)[-2].split()
            ts, step = int(last[0]), int(last[2])
            with open(copy, "ab") as fh:
                fh.write(
                    b"".join(
                        f"{ts + 20 * i} {0.5 + i * 1e-6!r} {step + i}\n".encode()
                        for i in range(1, 1001)
                    )
                )
            started = time.perf_counter()
            got = cache.metric_file(str(copy), metric_columns)
            best = min(best, time.perf_counter() - started)
            assert got[:3] == metric_columns(copy.read_bytes())[:3]
        return best
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def runs_listing(target: Path, label: str, repeat: int) -> list[tuple[str, str]]:
    """The 10 runs listed (with their latest metric values, which a file store finds by reading
    every metric file whole), first and again, next to MlflowClient.search_runs."""
    from bench_read import mlflow_client

    from mltui.store import open_store

    cache = Path(os.environ["MLTUI_CACHE_DIR"])
    store = open_store(target)
    exp_id = next(e.experiment_id for e in store.experiments() if e.name == EXPERIMENT)
    store.close()
    latest: dict[str, list] = {}

    def listed() -> None:
        fresh = open_store(target)  # what a new mltui meets: no runs read in this process
        runs = fresh.runs([exp_id])
        latest["ours"] = sorted((r.run_id, r.metrics[KEY].value) for r in runs)
        fresh.close()

    def first() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        listed()

    t_first = best_of(repeat, first)
    t_again = best_of(repeat, listed)
    uri = target.as_uri() if target.is_dir() else f"sqlite:///{target}"
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    client = mlflow_client(uri)

    def theirs() -> None:
        runs = client.search_runs([exp_id], max_results=1000)
        latest["mlflow"] = sorted((r.info.run_id, r.data.metrics[KEY]) for r in runs)

    t_mlflow = best_of(1, theirs)
    agree = "yes" if latest["ours"] == latest["mlflow"] else "NO"
    again = "again (scan cache)" if store.kind == "file" else "again"
    return [
        (f"[{label}] the 10 runs listed, first open", f"{t_first * 1000:.1f} ms"),
        (f"[{label}] the 10 runs listed, {again}", f"{t_again * 1000:.1f} ms"),
        (
            f"[{label}] MlflowClient.search_runs, the same 10 runs",
            f"{t_mlflow * 1000:.1f} ms  mlflow/ours {t_mlflow / t_first:.1f}x first, "
            f"{t_mlflow / t_again:.0f}x again; latest {KEY} agree: {agree}",
        ),
    ]


def bench(target: Path, label: str, repeat: int) -> list[tuple[str, str]]:
    from mltui.store import open_store
    from mltui.store.series import reduce_series, series_from_history, sort_by_x

    rows: list[tuple[str, str]] = []
    store = open_store(target)
    store.use_cache = False  # the cold lines: every read parses or queries
    runs = long_runs(store)
    holder: dict[str, list] = {}

    # The old path: a Metric per point, then columns.
    def read_histories() -> None:
        holder["histories"] = [store.metric_history(r.run_id, KEY) for r in runs]

    def to_columns() -> None:
        holder["old"] = [series_from_history(h) for h in holder["histories"]]

    t_history = timed(repeat, read_histories)
    t_columns = timed(repeat, to_columns)
    del holder["histories"]

    # The chart's path: columns straight from the store.
    def read_series() -> None:
        holder["series"] = [store.metric_series(r.run_id, KEY) for r in runs]

    t_one = timed(repeat, lambda: store.metric_series(runs[0].run_id, KEY))
    t_series = timed(repeat, read_series)
    series = holder["series"]
    assert series == holder.pop("old"), "metric_series differs from metric_history"
    points = sum(len(s) for s in series)

    # With the series cache: emptied before each first open, then filled for the reopen.
    cache = Path(os.environ["MLTUI_CACHE_DIR"])
    store.use_cache = True

    def first_open() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        read_series()

    t_first = timed(repeat, first_open)

    # The same in worker processes (store/parallel.py), as the chart screen reads: with the
    # workers started beforehand (marking runs or opening one starts them), and from nothing.
    from mltui.store import parallel

    pairs = [(r.run_id, KEY) for r in runs]
    workers = parallel.worker_count()

    def read_many() -> None:
        got = dict(store.metric_series_many(pairs))
        holder["many"] = [got[pair] for pair in pairs]

    def first_open_many() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        read_many()

    def first_open_many_cold() -> None:
        store.workers.shutdown()
        first_open_many()

    parallel_reads = store.workers.reads
    wait_for_workers(store.workers, workers)
    t_many = timed(repeat, first_open_many)
    t_many_cold = timed(repeat, first_open_many_cold)
    parallel_reads = store.workers.reads - parallel_reads
    assert holder.pop("many") == series, "the workers read other points"
    read_series()
    t_reopen = timed(repeat, read_series)
    assert holder["series"] == series, "the cache gives other points"
    t_grown = grown_history(store, runs[0], repeat)

    def reduce_cold() -> None:
        for s in series:
            xs, ys = sort_by_x(s.steps, s.values)
            reduce_series(xs, ys, BUCKETS, presorted=True)

    def reduce_warm() -> None:
        for s in series:
            reduce_series(s.steps, s.values, BUCKETS, presorted=True)

    t_reduce_cold = best_of(repeat, reduce_cold)
    t_reduce_warm = best_of(repeat, reduce_warm)
    draws = asyncio.run(draw_timings(series, repeat))
    shutil.rmtree(cache, ignore_errors=True)
    wait_for_workers(parallel, workers)
    first_curve, all_curves = asyncio.run(chart_in_app(store, runs))
    cached_first, cached_all = asyncio.run(chart_in_app(store, runs))
    store.close()

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    def wall_cpu(timing: tuple[float, float]) -> str:
        return f"{ms(timing[0])}  (CPU {ms(timing[1])})"

    per_run = points // len(runs)
    rows += [
        (f"[{label}] points", f"{points:,} ({len(runs)} runs x {KEY})"),
        (f"[{label}] read: metric_series, one {per_run:,}-point history", wall_cpu(t_one)),
        (f"[{label}] read: metric_series x10, no cache", wall_cpu(t_series)),
        (f"[{label}] read: first open x10 (cache empty: read + write)", wall_cpu(t_first)),
        (f"[{label}] read: reopened x10 (from the cache)", wall_cpu(t_reopen)),
        (
            f"[{label}] read: first open x10, {workers} workers started before",
            f"{wall_cpu(t_many)}  ({parallel_reads} of {len(runs) * 2 * repeat} read by workers)",
        ),
        (f"[{label}] read: first open x10, workers started then", wall_cpu(t_many_cold)),
        (f"[{label}] old read: metric_history x10", wall_cpu(t_history)),
        (f"[{label}] old read: + series_from_history x10", wall_cpu(t_columns)),
        (f"[{label}] reduce x10, first (sort check)", ms(t_reduce_cold)),
        (f"[{label}] reduce x10, presorted", ms(t_reduce_warm)),
    ]
    for name, value in draws.items():
        if isinstance(value, tuple):
            shown = wall_cpu(value)
        else:
            shown = f"{value:,}" if name == "points drawn" else ms(value)
        rows.append((f"[{label}] {name}", shown))
    draw_first = draws["draw first"]
    assert isinstance(draw_first, tuple)
    total = (t_series[0] + draw_first[0], t_series[1] + draw_first[1])
    total_first = (t_first[0] + draw_first[0], t_first[1] + draw_first[1])
    total_reopen = (t_reopen[0] + draw_first[0], t_reopen[1] + draw_first[1])
    total_many = (t_many[0] + draw_first[0], t_many[1] + draw_first[1])
    total_many_cold = (t_many_cold[0] + draw_first[0], t_many_cold[1] + draw_first[1])
    old_total = t_history[0] + t_columns[0] + draw_first[0]
    if t_grown is not None:
        rows.append((f"[{label}] read: one grown history (100k cached + 1,000 new)", ms(t_grown)))
    rows += [
        (f"[{label}] read + reduce + draw, no cache", f"{wall_cpu(total)}  goal 500 ms"),
        (f"[{label}] read + reduce + draw, first open", f"{wall_cpu(total_first)}  goal 500 ms"),
        (f"[{label}] read + reduce + draw, reopened", f"{wall_cpu(total_reopen)}  goal 500 ms"),
        (
            f"[{label}] read + reduce + draw, first open, workers started before",
            f"{wall_cpu(total_many)}  goal 500 ms",
        ),
        (
            f"[{label}] read + reduce + draw, first open, workers started then",
            f"{wall_cpu(total_many_cold)}  goal 500 ms",
        ),
        (f"[{label}] old read + reduce + draw", ms(old_total)),
        (f"[{label}] in the app, first open: first curve drawn", ms(first_curve)),
        (f"[{label}] in the app, first open: all 10 curves drawn", ms(all_curves)),
        (f"[{label}] in the app, reopened: first curve drawn", ms(cached_first)),
        (f"[{label}] in the app, reopened: all 10 curves drawn", ms(cached_all)),
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mltui-bench"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--make-sqlite", action="store_true", help="migrate to mlflow.db if absent")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    folder = args.workdir / "long"
    mlruns = ensure_store(folder, runs=0, long=True)
    targets = [("file", mlruns)]
    if (folder / ".db-complete").exists() or args.make_sqlite:
        targets.append(("sqlite", ensure_sqlite_copy(folder)))
    else:
        print("  (no mlflow.db under the work dir: run with --make-sqlite for the SQLite lines)")

    # The series cache in a fresh folder (children inherit it), never the user's.
    cache_root = Path(tempfile.mkdtemp(prefix="mltui-bench-chart-"))
    os.environ["MLTUI_CACHE_DIR"] = str(cache_root / "cache")
    try:
        return report(targets, args.repeat)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)


def report(targets: list[tuple[str, Path]], repeat: int) -> int:
    rows: list[tuple[str, str]] = []
    # Peak memory first, from children, before this process grows (see bench/README.md).
    for label, target in targets:
        base = peak("baseline", target)
        full = peak("chart", target)
        rows.append(
            (
                f"[{label}] peak RSS: import app + open store",
                f"{base['maxrss_kb'] / 1024:.0f} MB (VmHWM {base['vmhwm_kb'] / 1024:.0f} MB)",
            )
        )
        rows.append(
            (
                f"[{label}] peak RSS: + chart of 10 x 100k drawn",
                f"{full['maxrss_kb'] / 1024:.0f} MB (VmHWM {full['vmhwm_kb'] / 1024:.0f} MB)",
            )
        )
    for label, target in targets:
        rows += bench(target, label, repeat)
    for label, target in targets:  # MLflow last: importing it grows this process
        rows += runs_listing(target, label, repeat)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
