"""Benchmark following a store live: a writer streams metric points while a follower watches.

    python tests/bench/bench_live.py                  # 60 s of streaming, file events
    python tests/bench/bench_live.py --mode polling   # the same, polling every --poll seconds
    python tests/bench/bench_live.py --minutes 10     # the long soak (RSS must stay flat)

The store: `make_large_store.py`'s sweep of --finished-runs runs (10,000 by default, written
once under --workdir and kept), plus an experiment of --runs RUNNING runs made afresh for each
bench. A writer subprocess appends --rate points a second spread over those runs, each point
as MLflow's FileStore does it (open, append `<ts> <value> <step>\\n`, close), stamping each with
the wall-clock time it is written. This process runs a `StoreFollower` and measures:

- baseline: from `start()` to `wait_ready()` (the offsets of every metric file of the store);
- latency: callback time minus the point's timestamp, p50/p95/max (goal p95 < 1 s);
- CPU% of this process (all threads) idle before streaming (goal < 2%), while streaming, and
  idle after; RSS every --sample seconds (flat over a long soak);
- that every point written came out exactly once, and how many callbacks carried them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_large_store import make_store

from mltui.store import open_store
from mltui.store.follow import StoreChanges, StoreFollower
from mltui.store.synth import (
    ExperimentSpec,
    RunSpec,
    experiment_artifact_location,
    write_experiment,
    write_run,
)

LIVE_EXPERIMENT = "424242"
HISTOGRAM_MS = 60_000

WRITER = r"""
import json, sys, time
paths, rate, seconds = json.loads(sys.argv[1])
tick = 0.02                       # 50 ticks a second, rate/50 points each
per_tick = max(1, round(rate * tick))
written = 0
start = time.monotonic()
step = 0
while True:
    due = start + step * tick
    now = time.monotonic()
    if due > start + seconds:
        break
    if due > now:
        time.sleep(due - now)
    for i in range(per_tick):
        path = paths[(step * per_tick + i) % len(paths)]
        with open(path, "a") as fh:   # MLflow's append_to: open, write, close
            fh.write(f"{time.time_ns() // 1_000_000} {written * 0.001!r} {written}\n")
        written += 1
    step += 1
print(json.dumps({"written": written, "seconds": time.monotonic() - start}))
"""


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_percent(seconds: float) -> float:
    """This process's CPU use (all threads) over `seconds` of waiting."""
    c0, t0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return 100 * (time.process_time() - c0) / (time.monotonic() - t0)


class Recorder:
    """The callback. Keeps counts and a latency histogram, not the points: RSS must stay flat."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.histogram = [0] * (HISTOGRAM_MS + 1)  # latency in whole ms; the last bin is "more"
        self.latency_max = 0.0
        self.points = 0
        self.callbacks = 0
        self.point_callbacks = 0
        self.notices: list[str] = []
        self.last_step: dict[tuple[str, str], int] = {}
        self.out_of_order = 0

    def __call__(self, changes: StoreChanges) -> None:
        now_ms = time.time_ns() / 1_000_000
        with self.lock:
            self.callbacks += 1
            self.notices += changes.notices
            if changes.metric_points:
                self.point_callbacks += 1
            for key, points in changes.metric_points.items():
                self.points += len(points)
                last = self.last_step.get(key, -1)
                for p in points:
                    latency = max(0.0, now_ms - p.timestamp)
                    self.latency_max = max(self.latency_max, latency)
                    self.histogram[min(int(latency), HISTOGRAM_MS)] += 1
                    # Steps only grow within a file: a repeat or a lost order shows here.
                    if p.step <= last:
                        self.out_of_order += 1
                    last = p.step
                self.last_step[key] = last

    def percentile(self, q: float) -> float:
        total = sum(self.histogram)
        seen = 0
        for ms, n in enumerate(self.histogram):
            seen += n
            if total and seen >= q * total:
                return float(ms)
        return float("nan")


def prepare(workdir: Path, finished_runs: int, live_runs: int) -> tuple[Path, list[Path]]:
    big = workdir / f"sweep-{finished_runs}"
    root = big / "mlruns"
    if not (big / ".complete").exists():
        shutil.rmtree(big, ignore_errors=True)
        t0 = time.monotonic()
        make_store(big, runs=finished_runs)
        (big / ".complete").touch()
        print(f"wrote a {finished_runs}-run store in {time.monotonic() - t0:.1f} s: {root}")
    shutil.rmtree(root / LIVE_EXPERIMENT, ignore_errors=True)
    now = int(time.time() * 1000)
    exp = ExperimentSpec(LIVE_EXPERIMENT, f"live-bench-{now}", now)
    folder = write_experiment(root, exp)
    paths = []
    for i in range(live_runs):
        run = RunSpec(
            run_id=f"{i:08x}" + "0" * 24,
            run_name=f"live-{i}",
            start_time=now,
            status="RUNNING",
            params={"lr": "0.001"},
            metrics={"loss": [(now, 1.0, 0)]},
        )
        write_run(folder, LIVE_EXPERIMENT, experiment_artifact_location(root, LIVE_EXPERIMENT), run)
        paths.append(folder / run.run_id / "metrics" / "loss")
    return root, paths


def bench(args: argparse.Namespace, mode: str) -> dict:
    root, paths = prepare(args.workdir, args.finished_runs, args.runs)
    store = open_store(root)
    recorder = Recorder()
    follower = StoreFollower(store, poll_seconds=args.poll if mode == "polling" else None)
    rss_start = rss_mb()
    t0 = time.monotonic()
    follower.start(recorder)
    follower.wait_ready(600)
    baseline_s = time.monotonic() - t0
    result: dict = {"mode": mode, "baseline_s": round(baseline_s, 2)}
    result["cpu_idle_before_%"] = round(cpu_percent(args.idle), 2)

    seconds = args.minutes * 60
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(WRITER),
            json.dumps([list(map(str, paths)), args.rate, seconds]),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    samples = []
    stream_cpu = []
    while writer.poll() is None:
        cpu = cpu_percent(args.sample)
        if writer.poll() is None:
            stream_cpu.append(cpu)
        samples.append(round(rss_mb(), 1))
        with recorder.lock:
            got = recorder.points
        print(f"  [{mode}] t={len(samples) * args.sample:5.0f}s cpu={cpu:5.1f}% "
              f"rss={samples[-1]:.1f} MB points={got}", flush=True)  # fmt: skip
    written = json.loads(writer.stdout.read())["written"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with recorder.lock:
            if recorder.points >= written:
                break
        time.sleep(0.05)
    time.sleep(1.0)
    result["cpu_idle_after_%"] = round(cpu_percent(args.idle), 2)
    follower.stop()

    with recorder.lock:
        result.update(
            {
                "final_mode": follower.mode,
                "notice": follower.notice,
                "written": written,
                "received": recorder.points,
                "repeated_or_out_of_order": recorder.out_of_order,
                "callbacks": recorder.callbacks,
                "callbacks_per_s": round(recorder.point_callbacks / seconds, 2),
                "latency_ms_p50": recorder.percentile(0.50),
                "latency_ms_p95": recorder.percentile(0.95),
                "latency_ms_max": round(recorder.latency_max, 1),
                "cpu_streaming_%": round(statistics.mean(stream_cpu), 2) if stream_cpu else None,
                "rss_mb_start": round(rss_start, 1),
                "rss_mb_samples": samples,
                "notices": recorder.notices,
            }
        )
    store.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark following a store live.")
    parser.add_argument("--minutes", type=float, default=1.0, help="streaming time (default 1)")
    parser.add_argument("--mode", choices=("events", "polling", "both"), default="events")
    parser.add_argument("--poll", type=float, default=1.0, help="poll interval for --mode polling")
    parser.add_argument("--rate", type=int, default=1000, help="points a second (default 1000)")
    parser.add_argument("--runs", type=int, default=20, help="RUNNING runs written to")
    parser.add_argument("--finished-runs", type=int, default=10_000, help="store size")
    parser.add_argument("--idle", type=float, default=10.0, help="idle CPU window, seconds")
    parser.add_argument("--sample", type=float, default=5.0, help="RSS/CPU sample period")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mltui-bench-live"))
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    modes = ("events", "polling") if args.mode == "both" else (args.mode,)
    results = [bench(args, mode) for mode in modes]
    for result in results:
        samples = result.pop("rss_mb_samples")
        print(json.dumps(result, indent=1))
        print(f"  RSS MB over time: {samples}")
    # p95 latency: under 1 s with events; polling adds up to one poll interval.
    ok = all(
        r["received"] == r["written"]
        and r["repeated_or_out_of_order"] == 0
        and r["latency_ms_p95"] < 1000 + (args.poll * 1000 if r["mode"] == "polling" else 0)
        and r["cpu_idle_before_%"] < 2
        for r in results
    )
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
