"""Soak: MLflow writes flat out while mltui reads, follows and writes the registry, for minutes.

    python tests/bench/soak.py                      # 10 minutes per backend, file then SQLite
    python tests/bench/soak.py --minutes 2 --backend sqlite

On a fresh copy of a fixture store (mlflow-3.18.0-file, mlflow-3.18.0-sqlite), MLflow's client
in a subprocess loops as fast as it can: create a run, log `loss` at steps 0-2, set a tag, set a
tag on the registered model, end the run; every call timed. It first runs --alone-seconds with
nothing of ours touching the store, then --minutes while this process reads the store whole
again and again (`open_store` + `runs()`) and follows it (`StoreFollower`, as the app does,
from the moment it opened the store), for the second half of that also setting model tags
(`RegistryWriter`), each in a thread of its own.

Printed per backend, and exit 1 unless each is 0:
- lost writes: a run, tag, point or model tag MLflow wrote that our final reading misses; a
  model tag of ours that MlflowClient does not read back; a call of MLflow's that failed;
- crashes: exceptions in our threads, and failures the follower reported;
- unseen: writes of the followed phase the follower did not report within 1 s of the call's
  return (its runs, points, or a registry change). The time from the call's return to the
  report (0 when the report came first) is given as p50/p99/max;
and MLflow's call latency (p50/p99/max; on SQLite a commit is most of it) in each phase. A
registry change counts as seen at the first registry change reported after the call began: in
the last phase our own model tags raise them too, so there it is a bound, not a measure.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_sqlite_lock import percentile
from tests.conftest import copy_fixture, store_path
from tests.registry_race import MODEL

FIXTURES = {"file": "mlflow-3.18.0-file", "sqlite": "mlflow-3.18.0-sqlite"}
#: A change reported later than this after MLflow's call returned counts as unseen.
SEEN_WITHIN = 1.0
STEPS = 3
#: MLflow alone; while we read and follow; while we also write the registry.
PHASES = ("alone", "reading", "writing")

MLFLOW_SIDE = """
import json, os, sys, time, warnings
os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
warnings.simplefilter("ignore")
from mlflow import MlflowClient
uri, model, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
client = MlflowClient(uri, uri)
client.get_registered_model(model)  # engine, schema check and imports: not timed
writes, errors, i = [], [], 0

def call(kind, run_id, key, fn, *args, **kwargs):
    started = time.time()
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        errors.append(f"{kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
        return None
    writes.append((phase, kind, run_id, key, started, time.time()))
    return result

for phase in PHASES:
    print("ready", flush=True)
    end = time.monotonic() + float(sys.stdin.readline())
    while time.monotonic() < end:
        run = call("run", None, None, client.create_run, "0", run_name=f"soak-{i}")
        if run is None:
            continue
        rid = run.info.run_id
        writes[-1] = (phase, "run", rid, None, *writes[-1][4:])
        for step in range(STEPS):
            call("point", rid, step, client.log_metric, rid, "loss", i + step / 10, step=step)
        call("tag", rid, str(i), client.set_tag, rid, "i", str(i))
        call("registry", None, f"mlflow-{i}", client.set_registered_model_tag, model,
             f"mlflow-{i}", str(i))
        call("end", rid, None, client.set_terminated, rid)
        i += 1
with open(out_path, "w") as fh:
    json.dump({"writes": writes, "errors": errors}, fh)
print("done", flush=True)
""".replace("STEPS", str(STEPS)).replace("PHASES", repr(PHASES))


READ_BACK = """
import json, sys
from mlflow import MlflowClient
print(json.dumps(MlflowClient(sys.argv[1], sys.argv[1]).get_registered_model(sys.argv[2]).tags))
"""


class Ours:
    """This process's side: three threads on the store, each counting what it did and every
    exception (a crash) it met."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.stop = threading.Event()
        self.crashes: list[str] = []
        self.reports: list[tuple[float, object]] = []  # (wall time, StoreChanges)
        self.reads = 0
        self.tags: list[str] = []  # model tags we set, in order
        self.refused: list[str] = []
        self.lock = threading.Lock()

    def crash(self, where: str) -> None:
        with self.lock:
            self.crashes.append(f"{where}: {traceback.format_exc().strip().splitlines()[-1]}")

    def on_changes(self, changes) -> None:
        with self.lock:
            self.reports.append((time.time(), changes))
            self.crashes += [f"follower: {n}" for n in changes.notices if "failed" in n]

    def read_loop(self) -> None:
        from mltui.store import open_store

        while not self.stop.is_set():
            try:
                store = open_store(self.target)
                try:
                    store.runs()
                finally:
                    store.close()
                self.reads += 1
            except Exception:
                self.crash("reader")

    def write_loop(self, store) -> None:
        from mltui.store.errors import StoreError
        from mltui.store.registry import RegistryWriter

        writer = RegistryWriter(store)
        n = 0
        while not self.stop.is_set():
            key = f"mltui-{n}"
            n += 1
            try:
                writer.set_model_tag(MODEL, key, "ours")
                self.tags.append(key)
            except StoreError as exc:  # refused loudly (locked, kept changing): not lost
                self.refused.append(f"{key}: {exc}")
            except Exception:
                self.crash("registry writer")


def soak(backend: str, minutes: float, alone_seconds: float, work: Path) -> dict:
    from mltui.store import open_store
    from mltui.store.follow import StoreFollower

    folder = copy_fixture(FIXTURES[backend], work)
    target = store_path(folder)
    uri = f"sqlite:///{target}" if backend == "sqlite" else target.as_uri()
    out_path = work / "mlflow-side.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", MLFLOW_SIDE, uri, MODEL, str(out_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(work / "mlflow-side.err").open("w"),  # a file: a full pipe would stall it
        text=True,
        cwd=work,
    )
    assert proc.stdin is not None and proc.stdout is not None
    ours = Ours(target)
    follower = None
    threads: list[threading.Thread] = []
    try:
        _expect(proc, "ready")
        _go(proc, alone_seconds)
        _expect(proc, "ready")  # the phase alone is over
        store = open_store(target)
        follower = StoreFollower(store, since_ns=store.opened_ns)
        follower.start(ours.on_changes)
        if not follower.wait_ready(60):
            raise RuntimeError("the follower never finished its baseline")
        followed_from = time.time()
        threads.append(threading.Thread(target=ours.read_loop, daemon=True))
        threads[-1].start()
        _go(proc, minutes * 30)
        _expect(proc, "ready")
        threads.append(threading.Thread(target=ours.write_loop, args=(store,), daemon=True))
        threads[-1].start()
        _go(proc, minutes * 30)
        _expect(proc, "done")
        ours.stop.set()
        for thread in threads:
            thread.join(120)
        time.sleep(SEEN_WITHIN + 1)  # the follower's last reports of MLflow's last writes
        follower.stop()
        store.close()
    finally:
        ours.stop.set()
        if follower is not None:
            follower.stop()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    theirs = json.loads(out_path.read_text())
    writes = [tuple(w) for w in theirs["writes"]]
    lost = _lost_in_our_reading(target, writes) + _lost_in_mlflows_reading(uri, ours.tags, work)
    lost += [f"MLflow's call failed: {e}" for e in theirs["errors"]]
    followed = [w for w in writes if w[0] != "alone" and w[4] >= followed_from]
    delays, unseen = _follower_delays(followed, ours.reports)
    return {
        "backend": backend,
        "mlflow_writes": len(writes),
        "our_reads": ours.reads,
        "our_model_tags": len(ours.tags),
        "our_refused": ours.refused,
        "lost": lost,
        "crashes": ours.crashes,
        "followed_writes": len(followed),
        "unseen": unseen,
        "delays": delays,
        "latency": {phase: [w[5] - w[4] for w in writes if w[0] == phase] for phase in PHASES},
    }


def _go(proc: subprocess.Popen, seconds: float) -> None:
    """Start MLflow's next phase, `seconds` long."""
    proc.stdin.write(f"{seconds}\n")
    proc.stdin.flush()


def _expect(proc: subprocess.Popen, line: str) -> None:
    # The side prints only these lines; a wrong one means it died (its stderr says why).
    got = proc.stdout.readline().strip()
    if got != line:
        proc.kill()
        err = Path(proc.args[-1]).with_suffix(".err").read_text()[-3000:]
        raise RuntimeError(f"MLflow's side said {got!r}, not {line!r}:\n{err}")


def _lost_in_our_reading(target: Path, writes: list[tuple]) -> list[str]:
    """What MLflow wrote that a fresh reading of ours misses (or reads otherwise)."""
    from mltui.store import open_store

    store = open_store(target)
    try:
        runs = {r.run_id: r for r in store.runs()}
        model_tags = next(m.tags for m in store.registered_models() if m.name == MODEL)
        lost = []
        points: dict[str, set] = {}
        for _phase, kind, rid, key, _t0, _t1 in writes:
            run = runs.get(rid)
            if kind in ("run", "tag", "end", "point") and run is None:
                lost.append(f"{kind} of run {rid}: no such run")
            elif kind == "tag" and run.tags.get("i") != key:
                lost.append(f"tag i={key} of run {rid}: {run.tags.get('i')!r}")
            elif kind == "end" and run.status != "FINISHED":
                lost.append(f"end of run {rid}: {run.status}")
            elif kind == "point":
                points.setdefault(rid, set()).add(key)
            elif kind == "registry" and key not in model_tags:
                lost.append(f"MLflow's model tag {key}")
        for rid, steps in points.items():
            got = {p.step for p in store.metric_history(rid, "loss")}
            if got != steps:
                lost.append(f"points of run {rid}: steps {sorted(got)}, not {sorted(steps)}")
        return lost
    finally:
        store.close()


def _lost_in_mlflows_reading(uri: str, our_tags: list[str], work: Path) -> list[str]:
    """Our model tags that MLflow's client does not read back (in a process of its own, in
    `work`: MLflow may leave an mlflow.db in its working folder)."""
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK, uri, MODEL],
        capture_output=True,
        text=True,
        cwd=work,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"},
        check=True,
    )
    tags = json.loads(done.stdout.strip().splitlines()[-1])
    return [f"our model tag {key}" for key in our_tags if tags.get(key) != "ours"]


def _follower_delays(writes: list[tuple], reports: list[tuple]) -> tuple[dict, list[str]]:
    """Per kind of write, the seconds from each write's return to the follower's first report
    of it after the write began (0 when the report came first: a run's tag or end counts as
    seen at the first report naming the run); the writes not reported within SEEN_WITHIN."""
    seen: dict[tuple, list[float]] = {}  # what -> sorted report times
    for when, changes in reports:  # reports come in time order
        keys = [("run", rid) for rid in changes.runs]
        keys += [
            ("point", rid, p.step)
            for (rid, _key), pts in changes.metric_points.items()
            for p in pts
        ]
        keys += [("registry",)] if changes.registry else []
        for key in keys:
            seen.setdefault(key, []).append(when)
    delays: dict[str, list[float]] = {}
    unseen = []
    for _phase, kind, rid, key, started, returned in writes:
        what = (
            ("registry",)
            if kind == "registry"
            else ("point", rid, key)
            if kind == "point"
            else ("run", rid)
        )
        times = seen.get(what, [])
        at = bisect.bisect_left(times, started)
        delay = times[at] - returned if at < len(times) else None
        # A new run's points are in the change set that first names the run (read whole).
        if delay is None and kind == "point":
            times = seen.get(("run", rid), [])
            at = bisect.bisect_left(times, started)
            delay = times[at] - returned if at < len(times) else None
        if delay is None or delay > SEEN_WITHIN:
            unseen.append(
                f"{kind} {rid or ''} {key or ''}: "
                + ("never" if delay is None else f"{delay:.2f} s")
            )
        if delay is not None:
            delays.setdefault(kind, []).append(max(0.0, delay))
    return delays, unseen


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    ms = [v * 1000 for v in values]
    return f"p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms"


def report(result: dict) -> int:
    """Print one backend's figures; the number of failures (lost, crashes, unseen)."""
    print(f"\n== {result['backend']}")
    print(
        f"MLflow writes {result['mlflow_writes']}; our full reads {result['our_reads']}; our model "
        f"tags {result['our_model_tags']} ({len(result['our_refused'])} refused)"
    )
    labels = ("alone", "while we read and follow", "while we also write the registry")
    for phase, label in zip(PHASES, labels, strict=True):
        print(
            f"MLflow call latency {label}: {_ms(result['latency'][phase])} "
            f"({len(result['latency'][phase])} calls)"
        )
    delays = result["delays"]
    every = [v for values in delays.values() for v in values]
    print(f"follower: {result['followed_writes']} writes; report delay, all: {_ms(every)}")
    for kind, values in sorted(delays.items()):
        print(f"  {kind:8} {_ms(values)} ({len(values)})")
    bad = 0
    for name in ("lost", "crashes", "unseen", "our_refused"):
        items = result[name]
        print(f"{name}: {len(items)}" + "".join(f"\n  {x}" for x in items[:5]))
        bad += len(items)
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="the followed phase, per backend"
    )
    parser.add_argument("--alone-seconds", type=float, default=30.0, help="MLflow alone first")
    parser.add_argument("--backend", choices=["file", "sqlite", "both"], default="both")
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    backends = ["file", "sqlite"] if args.backend == "both" else [args.backend]
    bad, results = 0, []
    for backend in backends:
        work = Path(tempfile.mkdtemp(prefix=f"mltui-soak-{backend}-"))
        try:
            result = soak(backend, args.minutes, args.alone_seconds, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        bad += report(result)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
