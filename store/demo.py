"""A small, lifelike MLflow 3 file store to try mltui on, written without MLflow.

`demo_spec` describes it (seeded, so the same `now_ms` gives the same store); `build_demo_store`
writes it with `store.synth`. What is in it:

- Default experiment with one quickstart run; a deleted experiment in `.trash/`.
- `wine-quality-elasticnet`: a 24-run sweep (alpha x l1_ratio, constant random_state) with noisy
  rmse/mae/r2 training curves of 50-100 steps; one run diverges to NaN and FAILED, one was KILLED,
  one deleted. The best runs produced MLflow 3 logged models (MLmodel with sklearn and
  python_function flavors, signature with params, split-orient input example, environment files)
  registered as 4 versions of `wine-quality-elasticnet` (Archived/Production/Staging/None,
  aliases champion and challenger). The best run has a Markdown note and a few artifacts.
- `hyperopt-xgboost`: a parent run with trials as children and CV folds as grandchildren.
- `mnist-cnn`: a finished baseline with an MLflow 2-style model in its artifacts (registered as
  `mnist-cnn` v1) and a RUNNING run whose last points are seconds before `now_ms`.

Model weights are not written: the demo is for browsing, not for loading models.
"""

from __future__ import annotations

import json
import math
import random
import struct
import time
import zlib
from pathlib import Path

from .entities import DELETED
from .synth import (
    DatasetSpec,
    ExperimentSpec,
    LoggedModelSpec,
    ModelVersionSpec,
    Point,
    RegisteredModelSpec,
    RunSpec,
    StoreSpec,
    conda_yaml,
    experiment_artifact_location,
    input_example_files,
    logged_model_artifact_location,
    mlmodel_yaml,
    python_env_yaml,
    write_store,
)

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

USER = "ada"
MLFLOW_VERSION = "3.17.2"
PYTHON_VERSION = "3.11.9"
WINE_MODEL = "wine-quality-elasticnet"
MNIST_MODEL = "mnist-cnn"
WINE_FEATURES = [
    "fixed acidity",
    "volatile acidity",
    "citric acid",
    "residual sugar",
    "chlorides",
    "free sulfur dioxide",
    "total sulfur dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
]
_ADJECTIVES = [
    "amber",
    "bold",
    "brave",
    "calm",
    "clever",
    "crisp",
    "dapper",
    "eager",
    "fancy",
    "gentle",
    "glad",
    "jolly",
    "keen",
    "lively",
    "lucky",
    "merry",
    "nimble",
    "polite",
    "proud",
    "quiet",
    "rare",
    "sharp",
    "silent",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "witty",
]
_ANIMALS = [
    "ant",
    "bat",
    "bee",
    "carp",
    "crab",
    "crow",
    "deer",
    "dove",
    "eel",
    "elk",
    "fox",
    "frog",
    "gnu",
    "hare",
    "hawk",
    "ibis",
    "jay",
    "koi",
    "lark",
    "lynx",
    "mole",
    "moth",
    "newt",
    "owl",
    "ray",
    "seal",
    "slug",
    "swan",
    "toad",
    "wasp",
    "wolf",
    "wren",
    "yak",
]


def build_demo_store(dest: Path, now_ms: int | None = None, seed: int = 7) -> Path:
    """Write the demo store into `dest/mlruns` and return that path."""
    root = Path(dest) / "mlruns"
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} already exists and is not empty")
    return write_store(root, demo_spec(root, now_ms, seed))


def demo_spec(root: Path, now_ms: int | None = None, seed: int = 7) -> StoreSpec:
    """Everything the demo store holds, for a store written at `root` at time `now_ms`."""
    return _DemoBuilder(Path(root), int(time.time() * 1000) if now_ms is None else now_ms, seed)()


class _DemoBuilder:
    def __init__(self, root: Path, now: int, seed: int) -> None:
        self.root = root
        self.now = now
        self.rng = random.Random(seed)
        self.names_used: set[str] = set()

    # -- ids and names ---------------------------------------------------------------------------
    def hex32(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def experiment_id(self) -> str:
        # MLflow 2+/3 experiment ids: 18 digits, no leading zero.
        return str(self.rng.randrange(10**17, 10**18))

    def run_name(self) -> str:
        while True:
            name = f"{self.rng.choice(_ADJECTIVES)}-{self.rng.choice(_ANIMALS)}-"
            name += str(self.rng.randrange(10, 1000))
            if name not in self.names_used:
                self.names_used.add(name)
                return name

    def jitter(self, spread: int) -> int:
        return self.rng.randrange(spread)

    def system_tags(self, name: str, source: str, commit: str | None = None) -> dict[str, str]:
        tags = {
            "mlflow.runName": name,
            "mlflow.user": USER,
            "mlflow.source.name": source,
            "mlflow.source.type": "LOCAL",
        }
        if commit:
            tags["mlflow.source.git.commit"] = commit
        return tags

    # -- curves ----------------------------------------------------------------------------------
    def decay_curve(
        self, start: float, final: float, steps: int, noise: float, t0: int, dt: int
    ) -> list[Point]:
        """A noisy curve from `start` towards `final`, like a loss during training."""
        tau = steps / self.rng.uniform(3.5, 5.5)
        points: list[Point] = []
        ts = t0
        drift = 0.0
        for step in range(steps):
            ts += dt + self.jitter(dt // 4 + 1)
            ideal = final + (start - final) * math.exp(-step / tau)
            drift = 0.7 * drift + self.rng.gauss(0.0, noise)
            scale = 0.35 + 0.65 * math.exp(-step / tau)
            points.append((ts, round(ideal + drift * scale * abs(start - final + 0.05), 6), step))
        return points

    # -- the store -------------------------------------------------------------------------------
    def __call__(self) -> StoreSpec:
        spec = StoreSpec()
        spec.experiments.append(self.default_experiment())
        spec.experiments.append(self.deleted_experiment())
        wine, wine_models = self.wine_experiment()
        spec.experiments.append(wine)
        spec.experiments.append(self.hyperopt_experiment())
        mnist, mnist_model = self.mnist_experiment()
        spec.experiments.append(mnist)
        spec.registered_models.append(wine_models)
        spec.registered_models.append(mnist_model)
        return spec

    def default_experiment(self) -> ExperimentSpec:
        created = self.now - 30 * DAY
        start = created + 5 * MINUTE
        name = "quickstart"
        run = RunSpec(
            run_id=self.hex32(),
            run_name=name,
            start_time=start,
            end_time=start + 4 * SECOND,
            user_id=USER,
            params={"learning_rate": "0.01"},
            tags=self.system_tags(name, "quickstart.py"),
            metrics={"accuracy": [(start + 3 * SECOND, 0.87, 0)]},
        )
        return ExperimentSpec("0", "Default", created, runs=[run])

    def deleted_experiment(self) -> ExperimentSpec:
        created = self.now - 20 * DAY
        deleted_at = self.now - 10 * DAY
        start = created + HOUR
        name = self.run_name()
        run = RunSpec(
            run_id=self.hex32(),
            run_name=name,
            start_time=start,
            end_time=start + 40 * SECOND,
            user_id=USER,
            lifecycle_stage=DELETED,
            deleted_time=deleted_at,
            params={"model": "baseline"},
            tags=self.system_tags(name, "scratch.ipynb"),
            metrics={"rmse": [(start + 30 * SECOND, 0.81, 0)]},
        )
        return ExperimentSpec(
            self.experiment_id(),
            "scratch-old",
            created,
            last_update_time=deleted_at,
            lifecycle_stage=DELETED,
            tags={"purpose": "throwaway experiments"},
            runs=[run],
        )

    # -- the sweep -------------------------------------------------------------------------------
    def wine_experiment(self) -> tuple[ExperimentSpec, RegisteredModelSpec]:
        exp_id = self.experiment_id()
        created = self.now - 7 * DAY
        exp = ExperimentSpec(
            exp_id,
            "wine-quality-elasticnet",
            created,
            tags={
                "mlflow.note.content": (
                    "Predicting red wine quality (UCI) with ElasticNet trained by SGD.\n\n"
                    "Grid over `alpha` and `l1_ratio`; see the champion in the registry."
                ),
                "project": "wine",
                "team": "data-science",
            },
        )
        dataset = DatasetSpec(
            name="wine-quality-train",
            digest=f"{self.rng.getrandbits(32):08x}",
            source_type="local",
            source=json.dumps({"uri": "data/winequality-red.csv"}),
            schema=json.dumps(
                {
                    "mlflow_colspec": [
                        {"type": "double", "name": f, "required": True}
                        for f in [*WINE_FEATURES, "quality"]
                    ]
                }
            ),
            profile=json.dumps({"num_rows": 1199, "num_elements": 14388}),
        )
        commit = f"{self.rng.getrandbits(160):040x}"
        alphas = [0.001, 0.01, 0.03, 0.1, 0.3, 1.0]
        l1_ratios = [0.1, 0.5, 0.9, 1.0]
        grid = [(a, l1) for a in alphas for l1 in l1_ratios]
        diverging = grid.index((0.001, 0.1))
        killed = grid.index((1.0, 0.5))
        deleted = grid.index((0.3, 0.9))

        t = self.now - 6 * DAY
        finals: dict[str, float] = {}
        for i, (alpha, l1) in enumerate(grid):
            name = self.run_name()
            run_id = self.hex32()
            steps = self.rng.randrange(50, 101)
            dt = self.rng.randrange(900, 2200)
            final = 0.64 + 0.045 * (math.log10(alpha) + 1.4) ** 2 + 0.03 * l1
            final += self.rng.gauss(0.0, 0.006)
            status = "FINISHED"
            if i == killed:
                steps = steps // 3
                status = "KILLED"
            rmse = self.decay_curve(1.45, final, steps, 0.05, t, dt)
            if i == diverging:
                status = "FAILED"
                rmse = self.diverge(rmse, at=steps // 2)
            mae = [(ts, self.related(v, 0.78, 0.01), s) for ts, v, s in rmse]
            r2 = [(ts, self.r2_of(v), s) for ts, v, s in rmse]
            if i == diverging:
                # mae overflows to +inf where rmse turns NaN.
                mae[-1] = (mae[-1][0], math.inf, mae[-1][2])
            end = rmse[-1][0] + self.jitter(3 * SECOND) + 200
            run = RunSpec(
                run_id=run_id,
                run_name=name,
                start_time=t,
                end_time=end,
                status=status,
                user_id=USER,
                params={
                    "alpha": repr(alpha),
                    "l1_ratio": repr(l1),
                    "random_state": "42",
                    "max_epochs": str(steps if i != killed else steps * 3),
                },
                tags={
                    **self.system_tags(name, "train.py", commit),
                    "sweep": "grid-v2",
                    "model_family": "elasticnet",
                },
                metrics={"rmse": rmse, "mae": mae, "r2": r2},
                inputs=[(dataset, {"mlflow.data.context": "training"})],
            )
            if i == deleted:
                run.lifecycle_stage = DELETED
                run.deleted_time = self.now - 5 * DAY
            if status == "FINISHED" and i != deleted:
                finals[run_id] = rmse[-1][1]
            exp.runs.append(run)
            t = end + 10 * SECOND + self.jitter(20 * SECOND)

        # The four best finished runs produced logged models; the best one gets extras.
        ranked = sorted(finals, key=finals.__getitem__)[:4]
        by_id = {r.run_id: r for r in exp.runs}
        best = by_id[ranked[0]]
        best.tags["mlflow.note.content"] = self.best_note(best, finals[best.run_id])
        best.artifacts = self.best_artifacts(best, finals[best.run_id])

        models: dict[str, LoggedModelSpec] = {}
        for run_id in sorted(ranked, key=lambda rid: by_id[rid].start_time):
            run = by_id[run_id]
            model = self.sklearn_logged_model(exp_id, run)
            models[run_id] = model
            exp.logged_models.append(model)
            run.outputs.append((model.model_id, 0))
        registered = self.wine_registry(exp_id, ranked, models, sweep_end=t)
        return exp, registered

    def diverge(self, curve: list[Point], at: int) -> list[Point]:
        """Blow the curve up from step `at` and end it with a NaN, as an unstable run does."""
        out = curve[:at]
        value = out[-1][1]
        ts = out[-1][0]
        for step in range(at, at + 7):
            ts += 1500 + self.jitter(300)
            value = value * self.rng.uniform(2.2, 3.5)
            out.append((ts, round(value, 4), step))
        out.append((ts + 1400, math.nan, at + 7))
        return out

    def related(self, value: float, ratio: float, noise: float) -> float:
        if math.isnan(value):
            return value
        return round(value * ratio + self.rng.gauss(0.0, noise), 6)

    def r2_of(self, rmse: float) -> float:
        # The quality target has a standard deviation of about 0.81.
        if math.isnan(rmse):
            return rmse
        return round(1.0 - (rmse / 0.81) ** 2 + self.rng.gauss(0.0, 0.004), 6)

    def best_note(self, run: RunSpec, rmse: float) -> str:
        return (
            "## Best run of the grid\n\n"
            f"- final **rmse** {rmse:.4f} at alpha={run.params['alpha']}, "
            f"l1_ratio={run.params['l1_ratio']}\n"
            "- residuals look homoscedastic, see `plots/`\n\n"
            "> Promoted to *Production* as version 2 after review.\n"
        )

    def best_artifacts(self, run: RunSpec, rmse: float) -> dict[str, bytes | str]:
        coefficients = {f: round(self.rng.uniform(-0.4, 0.4), 4) for f in WINE_FEATURES}
        residuals = "\n".join(f"{i},{round(self.rng.gauss(0.0, rmse), 4)}" for i in range(40))
        last = run.metrics["rmse"][-1]
        log_lines = [
            f"epoch {s:3d}  rmse {v:.4f}"
            for _, v, s in run.metrics["rmse"][:: max(1, last[2] // 8)]
        ]
        return {
            "training_log.txt": "\n".join(["training ElasticNet on wine-quality", *log_lines])
            + "\n",
            "metrics.json": json.dumps(
                {"rmse": rmse, "coefficients": coefficients, "intercept": 5.63}, indent=2
            ),
            "plots/residuals/residuals.csv": "row,residual\n" + residuals + "\n",
            "plots/residuals/residuals.png": _tiny_png(self.rng),
            "plots/README.md": "# Plots\n\nResiduals of the validation split.\n",
        }

    def sklearn_logged_model(self, exp_id: str, run: RunSpec) -> LoggedModelSpec:
        model_id = f"m-{self.hex32()}"
        location = logged_model_artifact_location(self.root, exp_id, model_id)
        created = run.metrics["rmse"][-1][0] + 100
        example_rows = [
            [7.4, 0.7, 0.0, 1.9, 0.076, 11.0, 34.0, 0.9978, 3.51, 0.56, 9.4],
            [7.8, 0.88, 0.0, 2.6, 0.098, 25.0, 67.0, 0.9968, 3.2, 0.68, 9.8],
        ]
        requirements = [
            f"mlflow=={MLFLOW_VERSION}",
            "numpy==2.4.6",
            "pandas==3.1.1",
            "scikit-learn==1.9.1",
            "scipy==1.17.1",
            "skops==0.16.0",
        ]
        files: dict[str, bytes | str] = {
            "requirements.txt": "\n".join(requirements),
            "conda.yaml": conda_yaml(PYTHON_VERSION, requirements),
            "python_env.yaml": python_env_yaml(PYTHON_VERSION),
            **input_example_files(WINE_FEATURES, example_rows),
        }
        size = sum(len(v) for v in files.values())
        utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created / 1000))
        files["MLmodel"] = mlmodel_yaml(
            {
                "artifact_path": location,
                "flavors": {
                    "python_function": {
                        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                        "loader_module": "mlflow.sklearn",
                        "model_path": "model.skops",
                        "predict_fn": "predict",
                        "python_version": PYTHON_VERSION,
                    },
                    "sklearn": {
                        "code": None,
                        "pickled_model": "model.skops",
                        "serialization_format": "skops",
                        "sklearn_version": "1.9.1",
                        "skops_trusted_types": None,
                    },
                },
                "is_signature_from_type_hint": False,
                "mlflow_version": MLFLOW_VERSION,
                "model_id": model_id,
                "model_size_bytes": size,
                "model_uuid": model_id,
                "prompts": None,
                "run_id": run.run_id,
                "saved_input_example_info": {
                    "artifact_path": "input_example.json",
                    "pandas_orient": "split",
                    "serving_input_path": "serving_input_example.json",
                    "type": "dataframe",
                },
                "signature": {
                    "inputs": json.dumps(
                        [{"type": "double", "name": f, "required": True} for f in WINE_FEATURES]
                    ),
                    "outputs": json.dumps(
                        [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]
                    ),
                    "params": json.dumps(
                        [
                            {
                                "name": "clip_predictions",
                                "default": True,
                                "shape": None,
                                "type": "boolean",
                            },
                            {"name": "n_jobs", "default": 1, "shape": None, "type": "long"},
                        ]
                    ),
                },
                "type_hint_from_example": False,
                "utc_time_created": f"{utc}.{created % 1000:03d}000",
            }
        )
        # MLflow 3's log_model copies the run's params and latest metrics onto the model.
        metrics = {
            key: [(points[-1][0], points[-1][1], points[-1][2], run.run_id)]
            for key, points in run.metrics.items()
        }
        return LoggedModelSpec(
            model_id=model_id,
            name="model",
            creation_timestamp=created,
            last_updated_timestamp=created + 900 + self.jitter(400),
            source_run_id=run.run_id,
            params=dict(run.params),
            tags={
                "mlflow.source.name": "train.py",
                "mlflow.source.type": "LOCAL",
                "mlflow.user": USER,
            },
            metrics=metrics,
            artifacts=files,
        )

    def wine_registry(
        self,
        exp_id: str,
        ranked: list[str],
        models: dict[str, LoggedModelSpec],
        sweep_end: int,
    ) -> RegisteredModelSpec:
        """Four versions registered after the sweep: v1 Archived, v2 Production (champion, the
        best run), v3 Staging (challenger, the runner-up), v4 None."""
        order = [ranked[3], ranked[0], ranked[1], ranked[2]]
        stages = ["Archived", "Production", "Staging", "None"]
        descriptions = [
            "First candidate; superseded by version 2.",
            "Best rmse of grid-v2; approved by review.",
            "Runner-up, candidate for an A/B test.",
            None,
        ]
        validation = ["superseded", "approved", "pending", "pending"]
        reviewed = self.now - 2 * DAY
        created = sweep_end + 20 * MINUTE
        registered = RegisteredModelSpec(
            name=WINE_MODEL,
            creation_timestamp=created,
            # Stage transitions and aliases were set at review time, bumping the model.
            last_updated_timestamp=reviewed,
            description=(
                "ElasticNet regressor for **red wine quality** (0-10).\n\n"
                "Owner: data-science. Retrain monthly."
            ),
            tags={"task": "regression", "owner": "data-science"},
            aliases={"champion": 2, "challenger": 3},
        )
        for n, run_id in enumerate(order, start=1):
            model = models[run_id]
            version_created = created + n * 7 * MINUTE + self.jitter(MINUTE)
            stage = stages[n - 1]
            registered.versions.append(
                ModelVersionSpec(
                    version=n,
                    creation_timestamp=version_created,
                    last_updated_timestamp=reviewed if stage != "None" else version_created,
                    source=f"models:/{model.model_id}",
                    run_id=run_id,
                    storage_location=logged_model_artifact_location(
                        self.root, exp_id, model.model_id
                    ),
                    model_id=model.model_id,
                    current_stage=stage,
                    description=descriptions[n - 1],
                    tags={"validation_status": validation[n - 1]},
                )
            )
            # register_model appends the version to the logged model's mlflow.modelVersions tag.
            model.tags["mlflow.modelVersions"] = json.dumps([{"name": WINE_MODEL, "version": n}])
        return registered

    # -- nested runs -----------------------------------------------------------------------------
    def hyperopt_experiment(self) -> ExperimentSpec:
        exp_id = self.experiment_id()
        created = self.now - 3 * DAY
        exp = ExperimentSpec(exp_id, "hyperopt-xgboost", created, tags={"project": "churn"})
        t = self.now - 2 * DAY
        parent = RunSpec(
            run_id=self.hex32(),
            run_name="hyperopt-search",
            start_time=t,
            user_id=USER,
            params={"max_evals": "4", "algo": "tpe"},
            tags=self.system_tags("hyperopt-search", "tune.py"),
        )
        exp.runs.append(parent)
        best_auc = 0.0
        t += 2 * SECOND
        for trial in range(4):
            name = f"trial-{trial}"
            depth = self.rng.choice([3, 4, 6, 8])
            lr = round(self.rng.uniform(0.02, 0.3), 4)
            rounds = 40
            val = self.decay_curve(0.5, 0.12 + 0.02 * trial, rounds, 0.03, t, 700)
            val_auc = [(ts, round(1.0 - v, 6), s) for ts, v, s in val]
            train_auc = [
                (ts, round(min(0.999, v + 0.03 + 0.001 * s), 6), s) for ts, v, s in val_auc
            ]
            end = val[-1][0] + 300
            child = RunSpec(
                run_id=self.hex32(),
                run_name=name,
                start_time=t,
                end_time=end,
                user_id=USER,
                params={"max_depth": str(depth), "learning_rate": repr(lr), "n_estimators": "40"},
                tags={**self.system_tags(name, "tune.py"), "mlflow.parentRunId": parent.run_id},
                metrics={"val_auc": val_auc, "train_auc": train_auc},
            )
            exp.runs.append(child)
            best_auc = max(best_auc, val_auc[-1][1])
            if trial == 2:
                # Cross-validation folds of this trial: grandchildren of the search.
                for fold in (1, 2):
                    fold_name = f"cv-fold-{fold}"
                    ft = t + fold * 5 * SECOND
                    exp.runs.append(
                        RunSpec(
                            run_id=self.hex32(),
                            run_name=fold_name,
                            start_time=ft,
                            end_time=ft + 4 * SECOND,
                            user_id=USER,
                            params={"fold": str(fold)},
                            tags={
                                **self.system_tags(fold_name, "tune.py"),
                                "mlflow.parentRunId": child.run_id,
                            },
                            metrics={
                                "fold_auc": [
                                    (
                                        ft + 3 * SECOND,
                                        round(val_auc[-1][1] - self.rng.uniform(0.0, 0.02), 6),
                                        0,
                                    )
                                ]
                            },
                        )
                    )
            t = end + SECOND
        parent.end_time = t
        parent.metrics = {"best_val_auc": [(t - 500, best_auc, 0)]}
        return exp

    # -- a live run ------------------------------------------------------------------------------
    def mnist_experiment(self) -> tuple[ExperimentSpec, RegisteredModelSpec]:
        exp_id = self.experiment_id()
        created = self.now - DAY
        exp = ExperimentSpec(
            exp_id,
            "mnist-cnn",
            created,
            tags={"mlflow.note.content": "Small CNN on MNIST; metrics per epoch."},
        )
        # A finished baseline, 20 epochs of about 50 s.
        t = self.now - 20 * HOUR
        baseline = self.cnn_run("baseline-cnn", t, epochs=20, planned=20, dropout=0.0)
        assert baseline.end_time is not None, "all epochs planned were run, so it has ended"
        exp.runs.append(baseline)
        # MLflow 2-style model in the run's own artifacts, registered from there.
        artifact_uri = (
            f"{experiment_artifact_location(self.root, exp_id)}/{baseline.run_id}/artifacts"
        )
        model_uuid = self.hex32()
        baseline.artifacts = {
            "model/MLmodel": mlmodel_yaml(
                {
                    "artifact_path": "model",
                    "flavors": {
                        "python_function": {
                            "data": "data",
                            "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                            "loader_module": "mlflow.pytorch",
                            "pickle_module_name": "mlflow.pytorch.pickle_module",
                            "python_version": PYTHON_VERSION,
                        },
                        "pytorch": {
                            "code": None,
                            "model_data": "data",
                            "pytorch_version": "2.3.1",
                        },
                    },
                    "mlflow_version": "2.22.5",
                    "model_size_bytes": 412,
                    "model_uuid": model_uuid,
                    "run_id": baseline.run_id,
                    "utc_time_created": time.strftime(
                        "%Y-%m-%d %H:%M:%S.000000", time.gmtime(baseline.end_time / 1000)
                    ),
                }
            ),
            "model/requirements.txt": "mlflow==2.22.5\ntorch==2.3.1",
        }
        baseline.tags["mlflow.log-model.history"] = json.dumps(
            [
                {
                    "run_id": baseline.run_id,
                    "artifact_path": "model",
                    "utc_time_created": time.strftime(
                        "%Y-%m-%d %H:%M:%S.000000", time.gmtime(baseline.end_time / 1000)
                    ),
                    "model_uuid": model_uuid,
                    "flavors": {"python_function": {}, "pytorch": {}},
                }
            ]
        )
        registered_at = baseline.end_time + MINUTE
        registered = RegisteredModelSpec(
            name=MNIST_MODEL,
            creation_timestamp=registered_at,
            last_updated_timestamp=registered_at,
            versions=[
                ModelVersionSpec(
                    version=1,
                    creation_timestamp=registered_at,
                    last_updated_timestamp=registered_at,
                    source=f"{artifact_uri}/model",
                    run_id=baseline.run_id,
                    storage_location=f"{artifact_uri}/model",
                )
            ],
        )
        # Still training: started 28 minutes ago, epoch 14 of 30, last point seconds ago.
        live = self.cnn_run(
            "cnn-dropout", self.now - 28 * MINUTE, epochs=15, planned=30, dropout=0.25
        )
        exp.runs.append(live)
        return exp, registered

    def cnn_run(self, name: str, start: int, epochs: int, planned: int, dropout: float) -> RunSpec:
        running = epochs < planned
        dt = 85 * SECOND if running else 50 * SECOND
        train = self.decay_curve(2.3, 0.05 + dropout * 0.1, planned, 0.04, start, dt)[:epochs]
        if running:
            # Shift the curve so that its last point is a few seconds old.
            shift = self.now - 4 * SECOND - self.jitter(6 * SECOND) - train[-1][0]
            train = [(ts + shift, v, s) for ts, v, s in train]
        val = [(ts + 900, round(v * 1.08 + 0.03, 6), s) for ts, v, s in train]
        acc = [(ts, round(max(0.0, 1.0 - v / 2.5), 6), s) for ts, v, s in val]
        cpu = [(ts + 300, round(self.rng.uniform(55, 92), 1), s) for ts, _, s in train]
        tags = self.system_tags(name, "train_mnist.py")
        return RunSpec(
            run_id=self.hex32(),
            run_name=name,
            start_time=start,
            end_time=None if running else acc[-1][0] + 2 * SECOND,
            status="RUNNING" if running else "FINISHED",
            user_id=USER,
            params={
                "lr": "0.001",
                "batch_size": "128",
                "epochs": str(planned),
                "optimizer": "adam",
                "dropout": repr(dropout),
            },
            tags=tags,
            metrics={
                "loss/train": train,
                "loss/val": val,
                "accuracy/val": acc,
                "system/cpu_utilization_percentage": cpu,
            },
        )


def _tiny_png(rng: random.Random, size: int = 8) -> bytes:
    """A valid size x size greyscale PNG of noise (a small binary artifact)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes(rng.randrange(256) for _ in range(size)) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


__all__ = ["build_demo_store", "demo_spec"]
