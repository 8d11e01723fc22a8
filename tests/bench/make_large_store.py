"""Write large MLflow 3 file stores for benchmarks, with store.synth (no MLflow needed).

    python tests/bench/make_large_store.py OUTDIR [--runs 10000] [--long] [--seed 1]

writes OUTDIR/mlruns holding:
- a sweep of --runs runs split over 4 experiments, each run with 15 params, 6 metrics (5 single
  points and a 100-step `loss` curve) and 8 tags (mlflow.runName, mlflow.user,
  mlflow.source.name/.type/.git.commit and 3 of ours); 2% FAILED, 1% KILLED, 1% deleted;
- with --long, an experiment `long-histories`: 10 runs x 3 metrics x 100,000 steps.
`--runs 0 --long` writes only the long histories.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mltui.store.synth import (
    ExperimentSpec,
    RunSpec,
    experiment_artifact_location,
    init_store,
    write_experiment,
    write_run,
)

BASE_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: fixed, so stores are reproducible
SWEEP_EXPERIMENTS = 4
CURVE_STEPS = 100
LONG_RUNS = 10
LONG_METRICS = ("loss", "val_loss", "lr")
LONG_STEPS = 100_000
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("cosine", "linear", "constant")
#: Steps of the long histories' spikes (shifted by 97 per run), with --spikes.
SPIKE_STEPS = (12_347, 48_611, 91_003)


def sweep_run(rng: random.Random, index: int, start: int, commit: str) -> RunSpec:
    """One run of the sweep: 15 params, 6 metrics (one a 100-step curve), 8 tags."""
    run_id = f"{rng.getrandbits(128):032x}"
    lr = 10 ** rng.uniform(-4.5, -1.5)
    params = {
        "learning_rate": f"{lr:.6g}",
        "batch_size": str(rng.choice((16, 32, 64, 128, 256))),
        "epochs": str(CURVE_STEPS),
        "optimizer": rng.choice(OPTIMIZERS),
        "weight_decay": f"{10 ** rng.uniform(-6, -2):.3g}",
        "dropout": f"{rng.uniform(0.0, 0.5):.2f}",
        "hidden_size": str(rng.choice((128, 256, 512, 1024))),
        "num_layers": str(rng.randrange(2, 13)),
        "warmup_steps": str(rng.choice((0, 100, 500, 1000))),
        "scheduler": rng.choice(SCHEDULES),
        "seed": str(rng.randrange(10_000)),
        "grad_clip": f"{rng.choice((0.5, 1.0, 5.0))}",
        "label_smoothing": f"{rng.choice((0.0, 0.05, 0.1))}",
        "data_version": "v3",
        "model_name": f"transformer-{rng.choice(('s', 'm', 'l'))}",
    }
    final = 0.2 + 2.5 * abs(math.log10(lr) + 3.0) / 3.0 + rng.uniform(0.0, 0.3)
    t = start
    curve = []
    noise = 0.0
    for step in range(CURVE_STEPS):
        t += 1000 + rng.randrange(200)
        noise = 0.6 * noise + rng.gauss(0.0, 0.03)
        value = final + (3.0 - final) * math.exp(-step / 20.0) + noise
        curve.append((t, round(value, 6), step))
    end = t + 500
    last = curve[-1][1]
    metrics = {
        "loss": curve,
        "val_loss": [(end - 100, round(last * 1.1 + rng.gauss(0.0, 0.02), 6), CURVE_STEPS - 1)],
        "accuracy": [(end - 90, round(max(0.0, 1.0 - last / 4.0), 6), CURVE_STEPS - 1)],
        "f1": [(end - 80, round(max(0.0, 0.97 - last / 4.2), 6), CURVE_STEPS - 1)],
        "train_time_s": [(end - 70, round((end - start) / 1000.0, 3), 0)],
        "best_epoch": [(end - 60, float(rng.randrange(60, CURVE_STEPS)), 0)],
    }
    roll = rng.random()
    status, stage, deleted_time = "FINISHED", "active", None
    if roll < 0.02:
        status = "FAILED"
    elif roll < 0.03:
        status = "KILLED"
    elif roll < 0.04:
        stage, deleted_time = "deleted", end + 3_600_000
    name = f"sweep-{index:05d}"
    return RunSpec(
        run_id=run_id,
        run_name=name,
        start_time=start,
        end_time=end,
        status=status,
        user_id="bench",
        lifecycle_stage=stage,
        deleted_time=deleted_time,
        params=params,
        tags={
            "mlflow.runName": name,
            "mlflow.user": "bench",
            "mlflow.source.name": "train.py",
            "mlflow.source.type": "LOCAL",
            "mlflow.source.git.commit": commit,
            "sweep": f"sweep-{index % 7}",
            "stage": rng.choice(("dev", "staging", "prod")),
            "priority": rng.choice(("low", "medium", "high")),
        },
        metrics=metrics,
    )


def sweep_experiments(runs: int, seed: int) -> Iterator[tuple[ExperimentSpec, Iterator[RunSpec]]]:
    """The sweep: `runs` runs spread over SWEEP_EXPERIMENTS experiments, each experiment with
    its runs (consume each experiment's runs before the next experiment: one seeded stream)."""
    rng = random.Random(seed)
    commit = f"{rng.getrandbits(160):040x}"
    per_exp = math.ceil(runs / SWEEP_EXPERIMENTS)
    first = 0
    for e in range(SWEEP_EXPERIMENTS):
        count = min(per_exp, runs - first)
        if count <= 0:
            break
        exp = ExperimentSpec(
            experiment_id=str(100_000_000_000_000_000 + seed * 1000 + e),
            name=f"sweep-{e}",
            creation_time=BASE_MS + e * 86_400_000,
            tags={"mlflow.note.content": f"Benchmark sweep {e}", "owner": "bench"},
        )
        yield exp, _sweep_runs(rng, first, count, exp.creation_time + 60_000, commit)
        first += count


def _sweep_runs(
    rng: random.Random, first: int, count: int, start: int, commit: str
) -> Iterator[RunSpec]:
    for index in range(first, first + count):
        run = sweep_run(rng, index, start, commit)
        start = run.end_time + 1000
        yield run


def write_sweep(root: Path, runs: int, seed: int) -> None:
    """Write `runs` sweep runs spread over SWEEP_EXPERIMENTS experiments."""
    for exp, exp_runs in sweep_experiments(runs, seed):
        write_runs(root, exp, exp_runs)


def write_runs(root: Path, exp: ExperimentSpec, runs: Iterable[RunSpec]) -> None:
    folder = write_experiment(root, exp)
    location = experiment_artifact_location(root, exp.experiment_id)
    for run in runs:
        write_run(folder, exp.experiment_id, location, run)


def spike_value(run: int, spike: int) -> float:
    """The value of spike number `spike` of long run `run`: far above the curve (~3 at most)."""
    return 10.0 + run + spike


def long_experiment(seed: int, spikes: bool = False) -> tuple[ExperimentSpec, Iterator[RunSpec]]:
    """The `long-histories` experiment: 10 runs x 3 metrics x 100,000 steps. With `spikes`,
    each history has SPIKES single-step spikes (spike_value) at steps no bucketing lines up
    with; the other points are the same either way (spikes draw nothing from the generator)."""
    exp = ExperimentSpec(
        experiment_id=str(200_000_000_000_000_000 + seed),
        name="long-histories",
        creation_time=BASE_MS,
    )
    return exp, _long_runs(random.Random(seed + 1), spikes)


def _long_runs(rng: random.Random, spikes: bool) -> Iterator[RunSpec]:
    for r in range(LONG_RUNS):
        start = BASE_MS + 60_000 + r * 3_600_000
        spiked = {step + 97 * r: s for s, step in enumerate(SPIKE_STEPS)} if spikes else {}
        metrics = {}
        for k, key in enumerate(LONG_METRICS):
            t = start + k
            points = []
            value = 3.0
            for step in range(LONG_STEPS):
                t += 20
                value = value * 0.99997 + rng.gauss(0.0, 0.002)
                shown = spike_value(r, spiked[step]) if step in spiked else round(value, 6)
                points.append((t, shown, step))
            metrics[key] = points
        name = f"long-{r}"
        yield RunSpec(
            run_id=f"{rng.getrandbits(128):032x}",
            run_name=name,
            start_time=start,
            end_time=start + LONG_STEPS * 20 + 1000,
            user_id="bench",
            params={"steps": str(LONG_STEPS)},
            tags={"mlflow.runName": name, "mlflow.user": "bench"},
            metrics=metrics,
        )


def write_long(root: Path, seed: int) -> None:
    """Write the `long-histories` experiment: 10 runs x 3 metrics x 100,000 steps."""
    write_runs(root, *long_experiment(seed))


def make_store(outdir: Path, runs: int = 10_000, long: bool = False, seed: int = 1) -> Path:
    """Write OUTDIR/mlruns (refusing to add to an existing one) and return its path."""
    root = Path(outdir) / "mlruns"
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} already exists and is not empty")
    init_store(root)
    write_experiment(root, ExperimentSpec("0", "Default", BASE_MS - 86_400_000))
    if runs:
        write_sweep(root, runs, seed)
    if long:
        write_long(root, seed)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--long", action="store_true", help="add 10 runs x 3 x 100k-step metrics")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    root = make_store(args.outdir, args.runs, args.long, args.seed)
    print(f"wrote {root} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
