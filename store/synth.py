"""Write MLflow file stores (`mlruns/`) byte for byte as MLflow 3.x's file store writes them.

Used for the demo store and for benchmark stores; the writes mirror
mlflow/store/tracking/file_store.py and mlflow/store/model_registry/file_store.py (3.17.2):
meta.yaml files dumped with sorted keys and the same fields, one file per param and tag with no
trailing newline, metric files of `<ts> <value> <step>` lines, and run folders that always hold
metrics/, params/ and artifacts/ (MLflow 3.12+ ignores a run folder without them).

The `*Spec` dataclasses describe a store; `write_store` writes one. The `write_*` functions are
the building blocks, cheap enough to write ten thousand runs in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .entities import ACTIVE, DELETED, RUN_STATUS_CODE

# MLflow dumps meta.yaml with the libyaml safe dumper when it is there (mlflow/utils/yaml_utils.py);
# the pure-Python SafeDumper gives the same text, four times slower. Both are safe dumpers.
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

TRASH = ".trash"
REGISTRY = "models"
DEFAULT_EXPERIMENT_ID = "0"
#: Logged-model status codes in meta.yaml (mlflow/entities/logged_model_status.py).
LOGGED_MODEL_PENDING = 1
LOGGED_MODEL_READY = 2
SOURCE_TYPE_LOCAL = 4

#: (timestamp ms, value, step): one line of a metric file.
Point = tuple[int, float, int]


@dataclass(slots=True)
class DatasetSpec:
    """A dataset as `mlflow.log_input` records it; `source`, `schema`, `profile` are JSON text."""

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None

    @property
    def dataset_id(self) -> str:
        """The folder name MLflow gives it: md5 of name then digest."""
        md5 = hashlib.md5(self.name.encode(), usedforsecurity=False)
        md5.update(self.digest.encode())
        return md5.hexdigest()


@dataclass(slots=True)
class RunSpec:
    run_id: str
    run_name: str
    start_time: int
    end_time: int | None = None
    status: str = "FINISHED"
    user_id: str = "unknown"
    lifecycle_stage: str = ACTIVE
    deleted_time: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    #: Written as given, plus `mlflow.runName` when missing (MLflow's create_run adds it).
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, list[Point]] = field(default_factory=dict)
    #: Relative path under artifacts/ -> content.
    artifacts: dict[str, bytes | str] = field(default_factory=dict)
    #: (dataset, input tags such as {"mlflow.data.context": "training"}).
    inputs: list[tuple[DatasetSpec, dict[str, str]]] = field(default_factory=list)
    #: (logged model id, step): the run's MLflow 3 model outputs.
    outputs: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class LoggedModelSpec:
    """An MLflow 3 logged model under `<exp>/models/<model_id>/`."""

    model_id: str
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    source_run_id: str | None = None
    status: int = LOGGED_MODEL_READY
    status_message: str | None = None
    model_type: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: key -> [(timestamp, value, step, run_id)].
    metrics: dict[str, list[tuple[int, float, int, str]]] = field(default_factory=dict)
    artifacts: dict[str, bytes | str] = field(default_factory=dict)


@dataclass(slots=True)
class ExperimentSpec:
    experiment_id: str
    name: str
    creation_time: int
    last_update_time: int | None = None
    lifecycle_stage: str = ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    runs: list[RunSpec] = field(default_factory=list)
    logged_models: list[LoggedModelSpec] = field(default_factory=list)


@dataclass(slots=True)
class ModelVersionSpec:
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    source: str
    run_id: str | None
    storage_location: str | None = None
    model_id: str | None = None
    current_stage: str = "None"
    description: str | None = None
    user_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RegisteredModelSpec:
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: alias -> version number.
    aliases: dict[str, int] = field(default_factory=dict)
    versions: list[ModelVersionSpec] = field(default_factory=list)


@dataclass(slots=True)
class StoreSpec:
    experiments: list[ExperimentSpec] = field(default_factory=list)
    registered_models: list[RegisteredModelSpec] = field(default_factory=list)


# -- low-level writes ----------------------------------------------------------------------------


def file_uri(path: Path) -> str:
    """The `file://` URI MLflow records for a local path."""
    return Path(os.path.abspath(path)).as_uri()


def dump_meta_yaml(data: Mapping[str, object]) -> str:
    """A meta.yaml as MLflow dumps it: block style, sorted keys, unicode kept."""
    return yaml.dump(
        dict(data), Dumper=_SafeDumper, default_flow_style=False, allow_unicode=True, sort_keys=True
    )


def write_text(path: Path | str, text: str) -> None:
    """Write `text` exactly (UTF-8, no newline added), creating parent folders."""
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data`, creating parent folders."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def write_meta(folder: Path | str, data: Mapping[str, object]) -> None:
    """Write `folder/meta.yaml`."""
    write_text(os.path.join(folder, "meta.yaml"), dump_meta_yaml(data))


def write_values(folder: Path | str, values: Mapping[str, str]) -> None:
    """One file per key holding the value (params, tags); `/` in a key makes subfolders."""
    folder = os.fspath(folder)
    for key, value in values.items():
        write_text(os.path.join(folder, key), value)


def metric_text(points: Iterable[Point]) -> str:
    """Metric file lines as MLflow appends them: `<ts> <str(value)> <step>`."""
    return "".join(f"{ts} {float(value)!r} {step}\n" for ts, value, step in points)


def write_metrics(folder: Path | str, metrics: Mapping[str, Iterable[Point]]) -> None:
    """One metric file per key under `folder` (a run's metrics/)."""
    folder = os.fspath(folder)
    for key, points in metrics.items():
        write_text(os.path.join(folder, key), metric_text(points))


def write_artifacts(folder: Path | str, files: Mapping[str, bytes | str]) -> None:
    """Write artifact files under `folder`, relative paths with `/`."""
    folder = os.fspath(folder)
    for rel, content in files.items():
        path = os.path.join(folder, *rel.split("/"))
        if isinstance(content, str):
            write_text(path, content)
        else:
            write_bytes(path, content)


def experiment_dir(root: Path, experiment_id: str, lifecycle_stage: str = ACTIVE) -> Path:
    """Where an experiment's folder is: `.trash/` holds deleted experiments."""
    if lifecycle_stage == DELETED:
        return root / TRASH / experiment_id
    return root / experiment_id


def init_store(root: Path) -> Path:
    """Create the store folder and `.trash/`, as MLflow's FileStore does on first use."""
    (root / TRASH).mkdir(parents=True, exist_ok=True)
    return root


def write_experiment(root: Path, exp: ExperimentSpec) -> Path:
    """Write an experiment's meta.yaml and tags (not its runs); return its folder."""
    folder = experiment_dir(root, exp.experiment_id, exp.lifecycle_stage)
    folder.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {
        # A deleted experiment keeps the location it had before it moved into .trash.
        "artifact_location": experiment_artifact_location(root, exp.experiment_id),
        "creation_time": exp.creation_time,
        "effective_trace_archival_retention": None,
        "experiment_id": exp.experiment_id,
        "last_update_time": exp.last_update_time or exp.creation_time,
        "lifecycle_stage": exp.lifecycle_stage,
        "name": exp.name,
        "trace_location": None,
        "workspace": "default",
    }
    if exp.lifecycle_stage == DELETED:
        # delete_experiment rewrites meta.yaml from the Experiment entity, tags included.
        meta["tags"] = dict(exp.tags)
    write_meta(folder, meta)
    if exp.tags:
        write_values(folder / "tags", exp.tags)
    return folder


def experiment_artifact_location(root: Path, experiment_id: str) -> str:
    """The default artifact location MLflow gives a new experiment."""
    return f"{file_uri(root)}/{experiment_id}"


def run_meta(run: RunSpec, experiment_id: str, artifact_uri: str) -> dict[str, object]:
    """A run's meta.yaml fields, as `_make_persisted_run_info_dict` makes them."""
    meta: dict[str, object] = {
        "artifact_uri": artifact_uri,
        "end_time": run.end_time,
        "entry_point_name": "",
        "experiment_id": experiment_id,
        "lifecycle_stage": run.lifecycle_stage,
        "run_id": run.run_id,
        "run_name": run.run_name,
        "source_name": "",
        "source_type": SOURCE_TYPE_LOCAL,
        "source_version": "",
        "start_time": run.start_time,
        "status": RUN_STATUS_CODE[run.status],
        "tags": [],
        "user_id": run.user_id,
    }
    # create_run writes `deleted_time: null`, but setting the mlflow.runName tag right after
    # rewrites meta.yaml without it; only delete_run puts it back.
    if run.lifecycle_stage == DELETED:
        meta["deleted_time"] = run.deleted_time
    return meta


def write_run(exp_folder: Path, experiment_id: str, artifact_location: str, run: RunSpec) -> Path:
    """Write one run folder: meta.yaml, params, tags, metrics, artifacts, inputs, outputs."""
    folder = exp_folder / run.run_id
    artifacts = folder / "artifacts"
    artifacts.mkdir(parents=True)
    os.mkdir(folder / "metrics")
    os.mkdir(folder / "params")
    write_meta(folder, run_meta(run, experiment_id, f"{artifact_location}/{run.run_id}/artifacts"))
    write_values(folder / "params", run.params)
    tags = run.tags
    if "mlflow.runName" not in tags:
        tags = {**tags, "mlflow.runName": run.run_name}
    write_values(folder / "tags", tags)
    write_metrics(folder / "metrics", run.metrics)
    if run.artifacts:
        write_artifacts(artifacts, run.artifacts)
    for dataset, input_tags in run.inputs:
        write_dataset_input(exp_folder, folder, dataset, input_tags)
    for model_id, step in run.outputs:
        write_model_output(folder, model_id, step)
    return folder


def write_dataset_input(
    exp_folder: Path, run_folder: Path, dataset: DatasetSpec, tags: Mapping[str, str]
) -> str:
    """Record `dataset` in the experiment (once) and as an input of the run; return its id."""
    dataset_id = dataset.dataset_id
    ds_folder = exp_folder / "datasets" / dataset_id
    if not ds_folder.exists():
        ds_folder.mkdir(parents=True)
        write_meta(
            ds_folder,
            {
                "digest": dataset.digest,
                "name": dataset.name,
                "profile": dataset.profile,
                "schema": dataset.schema,
                "source": dataset.source,
                "source_type": dataset.source_type,
            },
        )
    md5 = hashlib.md5(dataset_id.encode(), usedforsecurity=False)
    md5.update(run_folder.name.encode())
    input_folder = run_folder / "inputs" / md5.hexdigest()
    input_folder.mkdir(parents=True, exist_ok=True)
    write_meta(
        input_folder,
        {
            # MLflow writes the source id into destination_id too (a bug we reproduce).
            "destination_id": dataset_id,
            "destination_type": "RUN",
            "source_id": dataset_id,
            "source_type": "DATASET",
            "tags": dict(tags),
        },
    )
    return dataset_id


def write_model_output(run_folder: Path, model_id: str, step: int) -> None:
    """Record an MLflow 3 logged model as an output of the run."""
    folder = run_folder / "outputs" / model_id
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(
        folder,
        {
            "destination_id": model_id,
            "destination_type": "MODEL_OUTPUT",
            "source_id": model_id,
            "source_type": "RUN_OUTPUT",
            "step": step,
            "tags": {},
        },
    )


def logged_model_artifact_location(root: Path, experiment_id: str, model_id: str) -> str:
    """Where MLflow 3 puts a logged model's artifacts: `<exp location>/models/<id>/artifacts`."""
    return f"{experiment_artifact_location(root, experiment_id)}/models/{model_id}/artifacts"


def write_logged_model(
    exp_folder: Path, experiment_id: str, artifact_location: str, model: LoggedModelSpec
) -> Path:
    """Write `<exp>/models/<model_id>/` with meta.yaml, params, tags, metrics and artifacts."""
    folder = exp_folder / "models" / model.model_id
    (folder / "metrics").mkdir(parents=True)
    os.mkdir(folder / "params")
    meta: dict[str, object] = {
        "artifact_location": f"{artifact_location}/models/{model.model_id}/artifacts",
        "creation_timestamp": model.creation_timestamp,
        "experiment_id": experiment_id,
        "last_updated_timestamp": model.last_updated_timestamp,
        "model_id": model.model_id,
        "model_type": model.model_type,
        "name": model.name,
        "source_run_id": model.source_run_id,
        "status": model.status,
        "status_message": model.status_message,
    }
    if model.status == LOGGED_MODEL_PENDING:
        # create_logged_model writes lifecycle_stage; finalizing rewrites meta.yaml without it.
        meta["lifecycle_stage"] = ACTIVE
    write_meta(folder, meta)
    write_values(folder / "params", model.params)
    if model.tags:
        write_values(folder / "tags", model.tags)
    for key, points in model.metrics.items():
        # Logged-model metric lines carry the run id as a fourth field.
        text = "".join(f"{ts} {float(v)!r} {step} {run_id}\n" for ts, v, step, run_id in points)
        write_text(folder / "metrics" / key, text)
    if model.artifacts:
        write_artifacts(folder / "artifacts", model.artifacts)
    return folder


def write_registered_model(root: Path, model: RegisteredModelSpec) -> Path:
    """Write `models/<name>/` with meta.yaml, tags, aliases and every version."""
    folder = root / REGISTRY / model.name
    folder.mkdir(parents=True)
    write_meta(
        folder,
        {
            # The meta.yaml copy of the aliases is stale by design; aliases/ is the truth.
            "aliases": {alias: str(version) for alias, version in model.aliases.items()},
            "creation_timestamp": model.creation_timestamp,
            "deployment_job_id": None,
            "deployment_job_state": None,
            "description": model.description,
            "last_updated_timestamp": model.last_updated_timestamp,
            "name": model.name,
            "workspace": "default",
        },
    )
    if model.tags:
        write_values(folder / "tags", model.tags)
    if model.aliases:
        write_values(
            folder / "aliases", {alias: str(version) for alias, version in model.aliases.items()}
        )
    for version in model.versions:
        write_model_version(folder, model.name, version)
    return folder


def write_model_version(model_folder: Path, name: str, mv: ModelVersionSpec) -> Path:
    """Write `version-<n>/meta.yaml` and its tags."""
    folder = model_folder / f"version-{mv.version}"
    folder.mkdir()
    write_meta(
        folder,
        {
            "creation_timestamp": mv.creation_timestamp,
            "current_stage": mv.current_stage,
            "deployment_job_state": None,
            "description": mv.description,
            "last_updated_timestamp": mv.last_updated_timestamp,
            "model_id": mv.model_id,
            "name": name,
            "run_id": mv.run_id,
            "run_link": None,
            "source": mv.source,
            "status": mv.status,
            "status_message": mv.status_message,
            "storage_location": mv.storage_location or mv.source,
            "user_id": mv.user_id,
            "version": mv.version,
            "workspace": "default",
        },
    )
    if mv.tags:
        write_values(folder / "tags", mv.tags)
    return folder


# -- MLmodel and environment files ---------------------------------------------------------------


def mlmodel_yaml(fields: Mapping[str, object]) -> str:
    """An MLmodel file as `mlflow.models.Model.to_yaml` writes it (safe_dump, sorted keys)."""
    return yaml.safe_dump(dict(fields), default_flow_style=False)


def conda_yaml(python_version: str, pip_requirements: list[str]) -> str:
    """conda.yaml as `mlflow.utils.environment._mlflow_conda_env` writes it."""
    env = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python_version}", "pip<=23.2.1", {"pip": pip_requirements}],
        "name": "mlflow-env",
    }
    return yaml.safe_dump(env, default_flow_style=False)


def python_env_yaml(python_version: str) -> str:
    """python_env.yaml as `mlflow.utils.environment._PythonEnv.to_yaml` writes it."""
    env = {
        "python": python_version,
        "build_dependencies": ["pip==23.2.1", "setuptools==65.5.0", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    return yaml.safe_dump(env, sort_keys=False, default_flow_style=False)


def input_example_files(columns: list[str], rows: Sequence[Sequence[object]]) -> dict[str, str]:
    """input_example.json (pandas split orient) and serving_input_example.json."""
    split = {"columns": columns, "data": rows}
    return {
        "input_example.json": json.dumps(split),
        "serving_input_example.json": json.dumps({"dataframe_split": split}, indent=2),
    }


# -- whole stores --------------------------------------------------------------------------------


def write_store(root: Path, spec: StoreSpec) -> Path:
    """Write every experiment, run, logged model and registered model of `spec` under `root`."""
    init_store(root)
    for exp in spec.experiments:
        folder = write_experiment(root, exp)
        location = experiment_artifact_location(root, exp.experiment_id)
        for run in exp.runs:
            write_run(folder, exp.experiment_id, location, run)
        for model in exp.logged_models:
            write_logged_model(folder, exp.experiment_id, location, model)
    for registered in spec.registered_models:
        write_registered_model(root, registered)
    return root
