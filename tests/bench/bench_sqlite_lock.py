"""How long a writer's commits wait while mltui reads the same SQLite database.

    python tests/bench/bench_sqlite_lock.py DB [--seconds 20] [--workdir DIR] [--repeat 3]

DB is an MLflow database (bench_read.py makes one of 10,000 runs: /tmp/mltui-bench/sweep-10000/
mlflow.db). It is copied into the work folder and switched to the rollback journal, MLflow's
default mode for a database it creates (`mlflow migrate-filestore` leaves WAL on: there readers
never block a writer), so the original is never written.

A writer process logs a metric in a loop, as MLflow's SqlAlchemyStore.log_metric does on SQLite
(its session's busy_timeout of 20 s, store/db/utils.py; a metrics row and its latest_metrics row
per commit, then a pause of --pause-ms as a training step between two logs would), and times
each commit from its first statement to the end of COMMIT; with --mlflow it calls
MlflowClient.log_metric instead and times each call (MLflow's own few ms included). It runs once alone and once while this process
reads every active run again and again (a new store each time, as `mltui export` does). Printed:
commits, p50, p99 and max commit latency in each phase, full reads done and failed, and the
best full-read time with no writer.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

WRITER_KEY = "bench_writer"


def writer(db: str, seconds: float, pause: float) -> None:
    """Commit metrics for `seconds`; print one JSON line of commit latencies (s) and errors."""
    conn = sqlite3.connect(db, timeout=20.0)  # MLflow sets PRAGMA busy_timeout = 20000
    run_id = conn.execute("SELECT run_uuid FROM runs ORDER BY rowid LIMIT 1").fetchone()[0]
    conn.commit()
    latencies: list[float] = []
    errors: list[str] = []
    print("ready", flush=True)
    sys.stdin.readline()  # the reader says when to start
    end = time.monotonic() + seconds
    step = 0
    while time.monotonic() < end:
        step += 1
        ts = int(time.time() * 1000)
        started = time.perf_counter()
        try:
            conn.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,))
            conn.execute(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                (WRITER_KEY, step * 0.5, ts, run_id, step),
            )
            conn.execute(
                "INSERT OR REPLACE INTO latest_metrics "
                "(key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
                (WRITER_KEY, step * 0.5, ts, step, run_id),
            )
            conn.commit()
            latencies.append(time.perf_counter() - started)
        except sqlite3.Error as exc:
            conn.rollback()
            errors.append(str(exc))
        time.sleep(pause)
    conn.close()
    print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)


def mlflow_writer(db: str, seconds: float, pause: float) -> None:
    """As `writer`, through MlflowClient.log_metric: each call's time, MLflow's own work included."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    conn = sqlite3.connect(db)
    run_id = conn.execute("SELECT run_uuid FROM runs ORDER BY rowid LIMIT 1").fetchone()[0]
    conn.close()
    client.log_metric(run_id, WRITER_KEY, 0.0, step=0)  # engine and schema check, not timed
    latencies: list[float] = []
    errors: list[str] = []
    print("ready", flush=True)
    sys.stdin.readline()
    end = time.monotonic() + seconds
    step = 0
    while time.monotonic() < end:
        step += 1
        started = time.perf_counter()
        try:
            client.log_metric(run_id, WRITER_KEY, step * 0.5, step=step)
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # MlflowException wrapping "database is locked" and the like
            errors.append(str(exc).splitlines()[0])
        time.sleep(pause)
    print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)


def full_read(db: Path) -> int:
    from mltui.store.sqlite.reader import SqliteStore

    store = SqliteStore(db)
    try:
        return len(store.runs())
    finally:
        store.close()


def phase(
    db: Path, seconds: float, pause: float, read: bool, mlflow: bool = False
) -> tuple[dict, int, list[str]]:
    """Run the writer for `seconds`, reading in this process meanwhile if `read`."""
    proc = subprocess.Popen(
        [sys.executable, __file__, str(db), "--writer", "--seconds", str(seconds),
         "--pause-ms", str(pause * 1000), *(["--mlflow"] if mlflow else [])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    proc.stdin.write("go\n")
    proc.stdin.flush()
    reads, failures = 0, []
    if read:
        from mltui.store.errors import StoreError

        while proc.poll() is None:
            try:
                full_read(db)
                reads += 1
            except StoreError as exc:
                failures.append(str(exc))
    result = json.loads(proc.stdout.readline())
    proc.wait()
    return result, reads, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def summary(label: str, result: dict) -> str:
    lat = result["latencies"]
    if not lat:
        return f"{label:<28} no commits; errors: {result['errors'][:1]}"
    ms = [v * 1000 for v in lat]
    return (
        f"{label:<28} {len(ms):>6} commits  p50 {percentile(ms, 50):7.2f} ms  "
        f"p99 {percentile(ms, 99):7.2f} ms  max {max(ms):7.2f} ms  errors {len(result['errors'])}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase's length")
    parser.add_argument("--pause-ms", type=float, default=5.0, help="writer pause between logs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mltui-bench/lock"))
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the full read")
    parser.add_argument("--chunk", type=int, help="runs per read transaction (mltui's default)")
    parser.add_argument("--mlflow", action="store_true", help="write with MlflowClient.log_metric")
    parser.add_argument("--writer", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    pause = args.pause_ms / 1000
    if args.writer:
        (mlflow_writer if args.mlflow else writer)(str(args.db), args.seconds, pause)
        return 0

    if args.chunk:
        from mltui.store.sqlite import runs as sqlite_runs

        sqlite_runs.RUNS_PER_TRANSACTION = args.chunk
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / "mlflow.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    target = sqlite3.connect(db)
    source.backup(target)  # a consistent copy, whatever -wal the original has
    source.close()
    assert target.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    target.close()

    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        runs = full_read(db)
        times.append(time.perf_counter() - started)
    print(f"{runs} runs; full read with no writer: best {min(times):.3f} s of {args.repeat}")

    alone, _, _ = phase(db, args.seconds, pause, read=False, mlflow=args.mlflow)
    print(summary("writer alone", alone))
    during, reads, failures = phase(db, args.seconds, pause, read=True, mlflow=args.mlflow)
    print(summary("writer while we read", during))
    print(f"full reads during the writer: {reads} done, {len(failures)} failed")
    for text in sorted(set(failures))[:3]:
        print(f"  failed: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
