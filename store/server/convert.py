"""MLflow's REST JSON (protobuf as JSON: absent fields, lists of key/value pairs) as entities."""

from __future__ import annotations

import json
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
from ..traces import (
    Span,
    Trace,
    TraceInfo,
    assessment_from_dict,
    iso_ms,
    sorted_assessments,
    span_from_dict,
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


def model_id_of_source(source: object) -> str | None:
    """The logged model a version was registered from, as MLflow's stores take it from a
    `models:/m-...` source; the REST API does not send a version's model_id."""
    if isinstance(source, str) and source.startswith("models:/m-"):
        tail = source[len("models:/") :]
        if "/" not in tail:
            return tail
    return None


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
        model_id=data.get("model_id") or model_id_of_source(data.get("source")),
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


def trace_info(data: Json) -> TraceInfo:
    """A V3 TraceInfo: times as RFC 3339 and durations as "0.049s" (protobuf's JSON forms)."""
    location = (data.get("trace_location") or {}).get("mlflow_experiment") or {}
    assessments = sorted_assessments(
        [assessment_from_dict(a) for a in data.get("assessments") or ()]
    )
    return TraceInfo(
        trace_id=str(data.get("trace_id", "")),
        experiment_id=str(location.get("experiment_id", "")),
        request_time=iso_ms(data.get("request_time")),
        execution_duration=_duration_ms(data.get("execution_duration")),
        state=str(data.get("state") or "STATE_UNSPECIFIED"),
        request_preview=data.get("request_preview"),
        response_preview=data.get("response_preview"),
        tags=_sorted_map(data.get("tags")),
        metadata=_sorted_map(data.get("trace_metadata")),
        assessments=assessments,
        assessments_count=len(assessments),
    )


def _sorted_map(value: dict | None) -> dict[str, str]:
    """A protobuf map, by key (its JSON order is the server's hash order; stores read by key)."""
    return {str(k): str(v) for k, v in sorted((value or {}).items())}


def _duration_ms(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return round(float(str(value).removesuffix("s")) * 1000)
    except ValueError:
        return None


def any_value(value: Json | None) -> Any:
    """An OpenTelemetry AnyValue as the Python value MLflow's span attributes hold."""
    value = value or {}
    if "string_value" in value:
        return value["string_value"]
    if "bool_value" in value:
        return bool(value["bool_value"])
    if "int_value" in value:
        return int(value["int_value"])
    if "double_value" in value:
        return float(value["double_value"])
    if "array_value" in value:
        return [any_value(v) for v in value["array_value"].get("values") or ()]
    if "kvlist_value" in value:
        return {
            str(kv.get("key")): any_value(kv.get("value"))
            for kv in value["kvlist_value"].get("values") or ()
        }
    return value.get("bytes_value")


def _attributes(items: list[Json] | None) -> dict[str, Any]:
    return {str(kv.get("key")): any_value(kv.get("value")) for kv in items or ()}


def span(data: Json) -> Span:
    """An OpenTelemetry span (protobuf JSON), through the parser of MLflow's stored span dicts
    (which holds attribute values JSON-encoded)."""
    stored = {
        "span_id": data.get("span_id"),
        "parent_span_id": data.get("parent_span_id"),
        "name": data.get("name"),
        "status": data.get("status"),
        "start_time_unix_nano": data.get("start_time_unix_nano"),
        "end_time_unix_nano": data.get("end_time_unix_nano"),
        "attributes": {k: json.dumps(v) for k, v in _attributes(data.get("attributes")).items()},
        "events": [
            {
                "name": e.get("name"),
                "time_unix_nano": e.get("time_unix_nano"),
                "attributes": _attributes(e.get("attributes")),
            }
            for e in data.get("events") or ()
        ],
    }
    return span_from_dict(stored)


def trace(data: Json) -> Trace:
    spans = [span(s) for s in data.get("spans") or ()]
    spans.sort(key=lambda s: (s.start_time_ns, s.span_id))
    return Trace(trace_info(data.get("trace_info") or {}), spans)
