"""How fast mltui's stores read, next to MLflow's own client and a bare file scan.

    python tests/bench/bench_read.py [--quick] [--runs N] [--workdir /tmp/mltui-bench]

Stores are generated once with make_large_store.py and kept under --workdir; the SQLite copies
are made once with `mlflow migrate-filestore`. See tests/bench/README.md for what each line
measures. Timings are wall-clock seconds with the OS page cache warm (the floor scan runs first,
untimed, to warm it): the comparison is CPU and syscalls, not disk.
"""

from __future__ import annotations

import argparse
import gc
import math
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

from make_large_store import LONG_METRICS, make_store  # noqa: E402

MLFLOW_PAGE = 50_000  # SEARCH_MAX_RESULTS_THRESHOLD in mlflow/store/tracking/__init__.py
MLFLOW_BIN = Path(sys.executable).with_name("mlflow")
FLOOR_CHUNK = 1 << 16


# -- stores --------------------------------------------------------------------------------------


def ensure_store(folder: Path, runs: int, long: bool) -> Path:
    """The mlruns under `folder`, generated unless a complete one is already there."""
    done = folder / ".complete"
    root = folder / "mlruns"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        started = time.perf_counter()
        make_store(folder, runs=runs, long=long)
        print(f"  generated {root} in {time.perf_counter() - started:.1f} s", flush=True)
        done.write_text("ok")
    return root


def ensure_sqlite_copy(folder: Path) -> Path:
    """`folder/mlflow.db`, made from `folder/mlruns` by `mlflow migrate-filestore` once."""
    db = folder / "mlflow.db"
    done = folder / ".db-complete"
    if not done.exists():
        db.unlink(missing_ok=True)
        started = time.perf_counter()
        subprocess.run(
            [
                str(MLFLOW_BIN),
                "migrate-filestore",
                "--source",
                str(folder),
                "--target",
                f"sqlite:///{db}",
                "--no-progress",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
        )
        print(f"  migrated to {db} in {time.perf_counter() - started:.1f} s", flush=True)
        done.write_text("ok")
    return db


# -- what is timed -------------------------------------------------------------------------------


def best_of(n: int, fn: Callable[[], object]) -> tuple[float, object]:
    """The fastest of `n` calls of `fn` and the last result."""
    best = math.inf
    result = None
    for _ in range(n):
        gc.collect()
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def floor_scan(root: Path) -> int:
    """Open and read every file of the store once: what any reader must at least do."""
    total = 0
    stack = [os.fspath(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                # Raw descriptors and 64 KiB reads: the cheapest way to read a whole file (a
                # short first read means end of file; bigger buffers cost more to allocate).
                fd = os.open(entry.path, os.O_RDONLY)
                try:
                    chunk = os.read(fd, FLOOR_CHUNK)
                    total += len(chunk)
                    while len(chunk) == FLOOR_CHUNK:
                        chunk = os.read(fd, FLOOR_CHUNK)
                        total += len(chunk)
                finally:
                    os.close(fd)
    return total


def open_ours(path: Path):
    """mltui's store for `path`: `open_store`, or the backend classes if it is not there yet."""
    try:
        from mltui.store import open_store

        return open_store(path)
    except ImportError:
        if path.suffix == ".db":
            from mltui.store.sqlite.reader import SqliteStore

            return SqliteStore(path)
        from mltui.store.file.reader import FileStore

        return FileStore(path, use_cache=True)


def ours_runs(path: Path) -> dict[str, dict[str, float]]:
    """Open the store and load every active run with its latest metrics."""
    store = open_ours(path)
    try:
        return {r.run_id: {k: m.value for k, m in r.metrics.items()} for r in store.runs()}
    finally:
        store.close()


def workers(count: str | None) -> None:
    """Stores opened from now on start `count` workers ($MLTUI_WORKERS; None: the default).
    Each store owns its worker pool and `close()` stops it, so none is left from before."""
    if count is None:
        os.environ.pop("MLTUI_WORKERS", None)
    else:
        os.environ["MLTUI_WORKERS"] = count


def worker_count() -> int:
    from mltui.store import parallel

    return parallel.worker_count()


def mlflow_client(uri: str):
    import mlflow  # noqa: F401 - imported here so that our own timings never pay for it
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def mlflow_runs(client) -> dict[str, dict[str, float]]:
    """Every active run of every experiment through MlflowClient.search_runs, largest pages."""
    from mlflow.entities import ViewType

    exp_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    out: dict[str, dict[str, float]] = {}
    token = None
    while True:
        page = client.search_runs(exp_ids, max_results=MLFLOW_PAGE, page_token=token)
        for r in page:
            out[r.info.run_id] = dict(r.data.metrics)
        token = page.token
        if not token:
            return out


def agree(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> str:
    """'yes' when both readings have the same runs and latest values, else what differs."""
    if a.keys() != b.keys():
        return f"NO: {len(a)} vs {len(b)} runs"
    for run_id, metrics in a.items():
        other = b[run_id]
        if metrics.keys() != other.keys():
            return f"NO: metric keys differ in {run_id}"
        for key, value in metrics.items():
            if not (value == other[key] or (math.isnan(value) and math.isnan(other[key]))):
                return f"NO: {run_id} {key} {value} vs {other[key]}"
    return "yes"


#: What mltui's app and `mltui export` decide for their process (mltui.store.process): readers
#: may pause the garbage collector. Older versions paused it always.
AS_THE_APP = """
try:
    from mltui.store.process import allow_gc_pauses
except ImportError:
    pass
else:
    allow_gc_pauses()
"""

RSS_SCRIPT = (
    """
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
"""
    + AS_THE_APP
    + """
path = Path(sys.argv[2])
try:
    from mltui.store import open_store
    store = open_store(path)
except ImportError:
    if path.suffix == ".db":
        from mltui.store.sqlite.reader import SqliteStore
        store = SqliteStore(path)
    else:
        from mltui.store.file.reader import FileStore
        store = FileStore(path, use_cache=True)
n = len(store.runs()) if sys.argv[3] == "load" else 0

def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []

# Worker processes (children of the fork server, a child of this process), if any started.
import os
workers = [w for c in children(os.getpid()) for w in children(c)]
worker_hwm = max([hwm_kb(w) for w in workers] or [0])
print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, hwm_kb(os.getpid()), len(workers), worker_hwm)
"""
)


FRESH_SCRIPT = (
    """
import sys, time
sys.path.insert(0, sys.argv[1])
"""
    + AS_THE_APP
    + """
from mltui.store import open_store
if __name__ == "__main__":
    started = time.perf_counter()
    store = open_store(sys.argv[2])
    n = len(store.runs())
    store.close()
    print(n, time.perf_counter() - started)
"""
)


def fresh_process_seconds(path: Path, cache_dir: str, repeat: int) -> float:
    """Best of `repeat` times to open the store and load its runs in a new Python (imports not
    counted), as a user's `mltui` does: not in this process, whose heap MLflow has grown."""
    best = math.inf
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", FRESH_SCRIPT, str(REPO), str(path)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "MLTUI_CACHE_DIR": cache_dir},
        )
        best = min(best, float(out.stdout.split()[-1]))
    return best


def peak_rss_mb(path: Path, cache_dir: str, load: bool) -> tuple[int, float, float, int, float]:
    """(runs loaded, ru_maxrss MB, VmHWM MB, worker processes, their largest VmHWM MB) of a
    fresh Python that opens the store (and loads its runs).

    Linux carries ru_maxrss across fork and exec, so a child of a big process reports at least
    the parent's peak: call this before the parent grows, and compare with VmHWM (the peak of
    the child's own address space), which does not carry over.
    """
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, str(REPO), str(path), "load" if load else "open"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "MLTUI_CACHE_DIR": cache_dir},
    )
    n, maxrss_kb, hwm_kb, workers, worker_kb = out.stdout.split()[-5:]
    return int(n), int(maxrss_kb) / 1024, int(hwm_kb) / 1024, int(workers), int(worker_kb) / 1024


# -- report --------------------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, label: str, value: str, ratio: str = "", goal: str = "", ok: str = "") -> None:
        self.rows.append((label, value, ratio, goal, ok))
        print(f"  {label:<44} {value:>9}  {ratio}", flush=True)

    def print(self) -> None:
        head = ("measure", "value", "ratio", "goal", "met")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(5)]
        line = "  ".join("-" * w for w in widths)
        print()
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        print(line)
        for row in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def sec(s: float) -> str:
    return f"{s:.3f} s"


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark mltui's store readers.")
    parser.add_argument("--quick", action="store_true", help="1,000 runs instead of 10,000")
    parser.add_argument("--runs", type=int, help="sweep size (default 10000, 1000 with --quick)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mltui-bench"))
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the fast timings")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite copies")
    args = parser.parse_args(argv)
    runs = args.runs or (1_000 if args.quick else 10_000)
    exec(AS_THE_APP, {})  # this process reads as the app's does
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    args.workdir.mkdir(parents=True, exist_ok=True)

    print(f"stores under {args.workdir}")
    sweep_dir = args.workdir / f"sweep-{runs}"
    sweep = ensure_store(sweep_dir, runs, long=False)
    long_dir = args.workdir / "long"
    long_root = ensure_store(long_dir, 0, long=True)
    if not args.no_sqlite:
        sweep_db = ensure_sqlite_copy(sweep_dir)
        long_db = ensure_sqlite_copy(long_dir)
    cache_root = Path(tempfile.mkdtemp(prefix="mltui-bench-cache-"))
    report = Report()
    print(f"\n{runs} runs, 15 params, 6 metrics (one a 100-step curve), 8 tags each")

    try:
        # Peak RSS first, while this process is small (see peak_rss_mb).
        _, base, base_hwm, _, _ = peak_rss_mb(sweep, str(cache_root / "rss-open"), load=False)
        report.add("peak RSS: python + import + open (MB)", f"{base:.0f}", f"VmHWM {base_hwm:.0f}")
        for label in ("cold", "warm"):
            n, rss, hwm, started, worker_hwm = peak_rss_mb(sweep, str(cache_root / "rss"), True)
            report.add(
                f"peak RSS: load {n} runs, {label} cache (MB)",
                f"{rss:.0f}",
                f"VmHWM {hwm:.0f}"
                + (f"; {started} workers, each <= {worker_hwm:.0f}" if started else ""),
                "< 300 MB",
                verdict(max(rss, hwm) < 300),
            )

        floor_scan(sweep)  # warm the page cache for everyone
        t_floor, nbytes = best_of(args.repeat, lambda: floor_scan(sweep))
        report.add("floor: read every file once (file store)", sec(t_floor), f"{nbytes >> 20} MB")

        client = mlflow_client(sweep.as_uri())
        t_mlflow, theirs = best_of(1, lambda: mlflow_runs(client))
        report.add(
            "MlflowClient.search_runs (file)",
            sec(t_mlflow),
            f"{len(theirs)} runs, mlflow/floor {t_mlflow / t_floor:.1f}x",
        )

        counter = iter(range(1_000_000))

        def cold() -> dict:
            # A fresh, empty cache directory each time: nothing cached from before; and no
            # worker processes yet: a first open pays for starting them.
            os.environ["MLTUI_CACHE_DIR"] = str(cache_root / f"cold-{next(counter)}")
            workers(os.environ.get("MLTUI_WORKERS"))
            return ours_runs(sweep)

        workers("0")
        t_serial, _ = best_of(args.repeat, cold)
        report.add(
            "ours: cold cache, in one process (file)",
            sec(t_serial),
            f"ours/floor {t_serial / t_floor:.2f}x, mlflow/ours {t_mlflow / t_serial:.1f}x",
        )
        workers(None)
        t_cold, ours = best_of(args.repeat, cold)
        report.add(
            f"ours: open + runs() cold cache (file), {worker_count()} workers",
            sec(t_cold),
            f"ours/floor {t_cold / t_floor:.2f}x",
            "<= 2x floor",
            verdict(t_cold <= 2 * t_floor),
        )
        report.add(
            "  mlflow/ours (file)",
            f"{t_mlflow / t_cold:.1f}x",
            f"agree with MLflow: {agree(ours, theirs)}",
            ">= 10x",
            verdict(t_mlflow / t_cold >= 10),
        )
        warm_dir = str(cache_root / "warm")
        os.environ["MLTUI_CACHE_DIR"] = warm_dir
        ours_runs(sweep)  # fills the cache
        t_warm, warm = best_of(args.repeat, lambda: ours_runs(sweep))
        report.add(
            "ours: reopen unchanged store, warm cache", sec(t_warm), f"agree: {agree(warm, theirs)}"
        )
        report.add("  mlflow/ours (file, warm cache)", f"{t_mlflow / t_warm:.1f}x")
        t_warm_fresh = fresh_process_seconds(sweep, warm_dir, args.repeat)
        report.add(
            "  the same in a fresh process",
            sec(t_warm_fresh),
            f"mlflow/ours {t_mlflow / t_warm_fresh:.1f}x",
            "< 1 s",
            verdict(t_warm_fresh < 1.0),
        )

        if not args.no_sqlite:
            sql_client = mlflow_client(f"sqlite:///{sweep_db}")
            sql_client.search_experiments()  # engine set-up and schema check, not timed
            t_msql, theirs_sql = best_of(1, lambda: mlflow_runs(sql_client))
            report.add("MlflowClient.search_runs (sqlite)", sec(t_msql), f"{len(theirs_sql)} runs")
            t_osql, ours_sql = best_of(args.repeat, lambda: ours_runs(sweep_db))
            report.add(
                "ours: open + runs() (sqlite)",
                sec(t_osql),
                f"agree: {agree(ours_sql, theirs_sql)}",
            )
            report.add("  mlflow/ours (sqlite)", f"{t_msql / t_osql:.1f}x")
            t_osql_fresh = fresh_process_seconds(sweep_db, str(cache_root / "sqlite"), args.repeat)
            report.add(
                "  the same in a fresh process",
                sec(t_osql_fresh),
                f"mlflow/ours {t_msql / t_osql_fresh:.1f}x",
                ">= 20x",
                verdict(t_msql / t_osql_fresh >= 20),
            )

        # Full history of one 100,000-point metric.
        long_client = mlflow_client(long_root.as_uri())
        long_run = long_client.search_runs(
            [e.experiment_id for e in long_client.search_experiments() if e.name != "Default"],
            max_results=1,
            order_by=["attributes.run_name ASC"],
        )[0].info.run_id
        key = LONG_METRICS[0]
        histories = [("file", long_root, long_client)]
        if not args.no_sqlite:
            histories.append(("sqlite", long_db, mlflow_client(f"sqlite:///{long_db}")))
        for kind, path, mclient in histories:
            os.environ["MLTUI_CACHE_DIR"] = str(cache_root / f"history-{kind}")
            store = open_ours(path)
            # The read itself (parse or query), not the series cache that later tries would hit.
            store.use_cache = False
            t_ours_h, pts = best_of(args.repeat, lambda s=store: s.metric_history(long_run, key))
            store.close()
            mclient.get_metric_history(long_run, key)  # warm-up: client and engine set-up
            t_ml_h, mpts = best_of(
                args.repeat, lambda c=mclient: c.get_metric_history(long_run, key)
            )
            same = len(pts) == len(mpts) and all(
                a.step == b.step and a.timestamp == b.timestamp
                for a, b in zip(pts, mpts, strict=True)
            )
            report.add(
                f"ours: 100k-point metric history ({kind})",
                sec(t_ours_h),
                f"{len(pts)} points, agree: {'yes' if same else 'NO'}",
                "< 0.3 s",
                verdict(t_ours_h < 0.3),
            )
            report.add(
                f"MlflowClient.get_metric_history ({kind})",
                sec(t_ml_h),
                f"mlflow/ours {t_ml_h / t_ours_h:.1f}x",
            )

    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    report.print()
    this = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n(this benchmark process peaked at {this:.0f} MB, MLflow included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
