"""What a store holds, as plain dataclasses shared by every backend.

Field names follow MLflow's own entities (mlflow/entities/*.py) so that a reading by mltui can be
compared with a reading by MlflowClient field by field. Times are epoch milliseconds (or None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ACTIVE = "active"
DELETED = "deleted"

#: MLflow's RunStatus names, by the integer the file store writes (mlflow/entities/run_status.py).
RUN_STATUS_BY_CODE = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
RUN_STATUS_CODE = {name: code for code, name in RUN_STATUS_BY_CODE.items()}
TERMINAL_STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})
#: A run in these may still change (status, end time, new points): followers look at it often.
LIVE_STATUSES = frozenset({"RUNNING", "SCHEDULED"})

#: Registry stages, as MLflow spells them (mlflow/entities/model_registry/model_version_stages.py).
STAGES = ("None", "Staging", "Production", "Archived")
STAGE_DELETED_INTERNAL = "Deleted_Internal"

TAG_RUN_NAME = "mlflow.runName"
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_USER = "mlflow.user"
TAG_SOURCE_NAME = "mlflow.source.name"
TAG_NOTE = "mlflow.note.content"
TAG_LOG_MODEL_HISTORY = "mlflow.log-model.history"
#: A dataset input's tag naming what the dataset was used for (`training`, `validation`, ...).
TAG_DATA_CONTEXT = "mlflow.data.context"
#: A registered model with this tag set to exactly "true" is a prompt (MLflow's searches add the
#: filter tags.`mlflow.prompt.is_prompt` != 'true', case-sensitive, on both registry stores).
TAG_IS_PROMPT = "mlflow.prompt.is_prompt"


def is_prompt(tags: dict[str, str]) -> bool:
    """True for a registered model MLflow counts as a prompt (and leaves out of model searches)."""
    return tags.get(TAG_IS_PROMPT) == "true"


@dataclass(slots=True)
class ArtifactRoot:
    """Where a run's or model's artifacts are on this machine, and how we found them."""

    recorded: str
    path: Path | None
    #: Why `path` differs from `recorded` (a relocated store), or why it is None (remote URI).
    note: str | None = None


@dataclass(slots=True)
class ArtifactEntry:
    path: str  # relative to the artifact root, with "/" separators
    is_dir: bool
    size: int | None


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = ACTIVE
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Metric:
    """One point of a metric; a run's `metrics` holds the latest point of each key."""

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(slots=True)
class LoggedModelMetric(Metric):
    """A logged model's metric point, with the dataset it was measured on (MLflow 3)."""

    dataset_name: str | None = None
    dataset_digest: str | None = None
    run_id: str | None = None


@dataclass(slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class DatasetInput:
    dataset: Dataset
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ModelOutput:
    """An MLflow 3 logged model that a run produced (`run.outputs.model_outputs`)."""

    model_id: str
    step: int


@dataclass(slots=True)
class Run:
    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    user_id: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: Dataset inputs and logged-model outputs; None until read (`Store.run()` always reads them).
    inputs: list[DatasetInput] | None = None
    outputs: list[ModelOutput] | None = None
    deleted_time: int | None = None

    @property
    def parent_run_id(self) -> str | None:
        return self.tags.get(TAG_PARENT_RUN_ID) or None

    @property
    def is_running(self) -> bool:
        return self.status == "RUNNING"


@dataclass(slots=True)
class LoggedModel:
    """An MLflow 3 logged model (`<exp>/models/m-...` or the `logged_models` table)."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    model_type: str | None
    source_run_id: str | None
    status: str
    status_message: str | None
    lifecycle_stage: str = ACTIVE
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: list[LoggedModelMetric] = field(default_factory=list)


def logged_model_order(model: LoggedModel) -> tuple[int, str]:
    """Sort key of search_logged_models' default order: newest first, then by model id."""
    return (-(model.creation_timestamp or 0), model.model_id)


@dataclass(slots=True)
class ModelVersion:
    name: str
    version: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    current_stage: str
    description: str | None
    source: str | None
    run_id: str | None
    status: str | None
    status_message: str | None
    user_id: str | None
    run_link: str | None = None
    storage_location: str | None = None
    model_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModel:
    name: str
    creation_timestamp: int | None
    last_updated_timestamp: int | None
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)
    #: alias -> version number (as a string)
    aliases: dict[str, str] = field(default_factory=dict)
    #: The newest version in each stage, as MLflow's `latest_versions` reports it.
    latest_versions: list[ModelVersion] = field(default_factory=list)
    #: A file store's `models/<name>/` without meta.yaml (a create that was interrupted, or
    #: one under way): MLflow cannot read it, and it blocks MLflow's search; nothing else known.
    incomplete: bool = False
    #: The MLflow 3.12+ workspace holding it: SQL stores key models by (workspace, name).
    workspace: str = "default"
