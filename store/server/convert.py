"""MLflow's REST JSON (protobuf as JSON: absent fields, lists of key/value pairs) as entities."""

from __future__ import annotations

from typing import Any

from ..entities import (
    ACTIVE,
    Dataset,
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    Metric,
    ModelOutput,
    ModelVersion,
    RegisteredModel,
    Run,
)

Json = dict[str, Any]


def number(value: Any) -> float:
    """A metric value: JSON numbers, or "NaN" / "Infinity" / "-Infinity" as protobuf writes them."""
    return float(value) if value is not None else 0.0


def integer(value: Any) -> int | None:
    """An int64 field: a JSON number, or a string of digits from some encoders; None if absent."""
    return None if value is None else int(value)


def pairs(items: list[Json] | None) -> dict[str, str]:
    """[{"key": k, "value": v}, ...] as a dict (a missing value is the empty string)."""
    return {str(i.get("key", "")): str(i.get("value", "")) for i in items or ()}


def experiment(data: Json) -> Experiment:
    return Experiment(
        experiment_id=str(data.get("experiment_id", "")),
        name=str(data.get("name", "")),
        artifact_location=str(data.get("artifact_location", "")),
        lifecycle_stage=str(data.get("lifecycle_stage", ACTIVE)),
        creation_time=integer(data.get("creation_time")),
        last_update_time=integer(data.get("last_update_time")),
        tags=pairs(data.get("tags")),
    )


def metric(data: Json) -> Metric:
    return Metric(
        key=str(data.get("key", "")),
        value=number(data.get("value")),
        timestamp=integer(data.get("timestamp")) or 0,
        step=integer(data.get("step")) or 0,
    )


def dataset_input(data: Json) -> DatasetInput:
    ds = data.get("dataset") or {}
    return DatasetInput(
        dataset=Dataset(
            name=str(ds.get("name", "")),
            digest=str(ds.get("digest", "")),
            source_type=str(ds.get("source_type", "")),
            source=str(ds.get("source", "")),
            schema=ds.get("schema"),
            profile=ds.get("profile"),
        ),
        tags=pairs(data.get("tags")),
    )


def run(data: Json) -> Run:
    info = data.get("info") or {}
    body = data.get("data") or {}
    tags = pairs(body.get("tags"))
    inputs = data.get("inputs") or {}
    outputs = data.get("outputs") or {}
    return Run(
        run_id=str(info.get("run_id") or info.get("run_uuid") or ""),
        experiment_id=str(info.get("experiment_id", "")),
        run_name=str(info.get("run_name") or tags.get("mlflow.runName", "")),
        status=str(info.get("status", "RUNNING")),
        start_time=integer(info.get("start_time")),
        end_time=integer(info.get("end_time")),
        lifecycle_stage=str(info.get("lifecycle_stage", ACTIVE)),
        artifact_uri=str(info.get("artifact_uri", "")),
        user_id=str(info.get("user_id", "")),
        params=pairs(body.get("params")),
        metrics={m.key: m for m in map(metric, body.get("metrics") or ())},
        tags=tags,
        inputs=[dataset_input(d) for d in inputs.get("dataset_inputs") or ()],
        outputs=[
            ModelOutput(model_id=str(o.get("model_id", "")), step=integer(o.get("step")) or 0)
            for o in outputs.get("model_outputs") or ()
        ],
    )


def logged_model(data: Json) -> LoggedModel:
    info = data.get("info") or {}
    body = data.get("data") or {}
    status = str(info.get("status", "LOGGED_MODEL_STATUS_UNSPECIFIED"))
    status = status.removeprefix("LOGGED_MODEL_").removeprefix("STATUS_")
    return LoggedModel(
        model_id=str(info.get("model_id", "")),
        experiment_id=str(info.get("experiment_id", "")),
        name=str(info.get("name", "")),
        artifact_location=str(info.get("artifact_uri", "")),
        creation_timestamp=integer(info.get("creation_timestamp_ms")),
        last_updated_timestamp=integer(info.get("last_updated_timestamp_ms")),
        model_type=info.get("model_type"),
        source_run_id=info.get("source_run_id"),
        status=status,
        status_message=info.get("status_message"),
        params=pairs(body.get("params")),
        tags=pairs(info.get("tags")),
        metrics=[
            LoggedModelMetric(
                key=str(m.get("key", "")),
                value=number(m.get("value")),
                timestamp=integer(m.get("timestamp")) or 0,
                step=integer(m.get("step")) or 0,
                dataset_name=m.get("dataset_name"),
                dataset_digest=m.get("dataset_digest"),
                run_id=m.get("run_id"),
            )
            for m in body.get("metrics") or ()
        ],
    )


def model_version(data: Json) -> ModelVersion:
    return ModelVersion(
        name=str(data.get("name", "")),
        version=str(data.get("version", "")),
        creation_timestamp=integer(data.get("creation_timestamp")),
        last_updated_timestamp=integer(data.get("last_updated_timestamp")),
        current_stage=str(data.get("current_stage", "None")),
        description=data.get("description"),
        source=data.get("source"),
        run_id=data.get("run_id") or None,
        status=data.get("status"),
        status_message=data.get("status_message"),
        user_id=data.get("user_id"),
        run_link=data.get("run_link") or None,
        storage_location=data.get("storage_location"),
        model_id=data.get("model_id"),
        tags=pairs(data.get("tags")),
        aliases=[str(a) for a in data.get("aliases") or ()],
    )


def registered_model(data: Json) -> RegisteredModel:
    return RegisteredModel(
        name=str(data.get("name", "")),
        creation_timestamp=integer(data.get("creation_timestamp")),
        last_updated_timestamp=integer(data.get("last_updated_timestamp")),
        description=data.get("description"),
        tags=pairs(data.get("tags")),
        aliases={
            str(a.get("alias", "")): str(a.get("version", "")) for a in data.get("aliases") or ()
        },
        latest_versions=[model_version(v) for v in data.get("latest_versions") or ()],
        workspace=str(data.get("workspace") or "default"),
    )
