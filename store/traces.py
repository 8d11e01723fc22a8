"""MLflow 3 traces: the entities and the parsing both backends share.

A trace is a TraceInfo (request time, state, duration, tags, metadata), its spans and its
assessments. The file store keeps spans in `<exp>/traces/<id>/artifacts/traces.json`
(`{"spans": [...]}`); SQLite keeps one span per row of `spans`, its `content` the same JSON
object. Both are OpenTelemetry span dicts as MLflow's `Span.to_dict` writes them: ids in base64,
attribute values JSON-encoded, status codes `STATUS_CODE_*` (mlflow/entities/span.py).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Trace metadata key of the token counts MLflow sums over a trace's LLM spans.
TOKEN_USAGE = "mlflow.trace.tokenUsage"
#: The trace tag holding the root span's name.
TRACE_NAME = "mlflow.traceName"
SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
#: MLflow's `STATUS_CODE_OK` -> `OK` and so on (SpanStatusCode).
_STATUS_PREFIX = "STATUS_CODE_"


@dataclass
class Assessment:
    """A feedback or an expectation logged on a trace (mlflow.entities.Assessment)."""

    assessment_id: str
    name: str
    kind: str  # "feedback" or "expectation"
    value: Any
    source_type: str
    source_id: str | None
    rationale: str | None = None
    error: str | None = None
    span_id: str | None = None
    create_time: int | None = None


@dataclass
class TraceInfo:
    """One trace as a list shows it: what search_traces returns, without the spans."""

    trace_id: str
    experiment_id: str
    request_time: int | None
    execution_duration: int | None
    state: str
    request_preview: str | None = None
    response_preview: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    #: Read whole by `Store.trace`; a list (`Store.traces`) may leave them out and count them.
    assessments: list[Assessment] = field(default_factory=list)
    assessments_count: int = 0

    @property
    def name(self) -> str:
        return self.tags.get(TRACE_NAME, "")

    @property
    def token_usage(self) -> dict[str, int] | None:
        """Token counts as MLflow's TraceInfo.token_usage: None when none were recorded."""
        usage = json_or_text(self.metadata.get(TOKEN_USAGE))
        return usage if isinstance(usage, dict) else None


@dataclass
class Span:
    """One span, with attribute values decoded as MLflow's Span.attributes gives them."""

    span_id: str
    parent_id: str | None
    name: str
    status: str
    status_message: str
    start_time_ns: int
    end_time_ns: int | None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def span_type(self) -> str | None:
        return self.attributes.get(SPAN_TYPE)

    @property
    def inputs(self) -> Any:
        return self.attributes.get(SPAN_INPUTS)

    @property
    def outputs(self) -> Any:
        return self.attributes.get(SPAN_OUTPUTS)


@dataclass
class Trace:
    info: TraceInfo
    spans: list[Span]


def json_or_text(raw: Any) -> Any:
    """A JSON-encoded value decoded; text that is not JSON stays text (as MLflow's loads)."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def iso_ms(value: Any) -> int | None:
    """`2026-12-06T13:25:52.841Z` (the file store's trace times) as epoch milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if value is None:
        return None
    try:
        return round(datetime.fromisoformat(str(value)).timestamp() * 1000)
    except ValueError:
        return None


def _hex_id(raw: Any) -> str | None:
    """A span id as MLflow shows it: 16 hex digits, from the base64 of its 8 bytes."""
    if not raw:
        return None
    try:
        return base64.b64decode(str(raw), validate=True).hex()
    except (binascii.Error, ValueError):
        return str(raw)  # already hex, as older MLflow wrote them


def span_from_dict(d: dict[str, Any]) -> Span:
    """One span from MLflow's stored span dict; raises KeyError/TypeError when it is not one."""
    status = d.get("status") or {}
    code = str(status.get("code") or "STATUS_CODE_UNSET").removeprefix(_STATUS_PREFIX)
    events = [
        {
            "name": e.get("name"),
            "timestamp": e.get("time_unix_nano"),
            "attributes": dict(e.get("attributes") or {}),
        }
        for e in d.get("events") or []
    ]
    attributes = {str(k): json_or_text(v) for k, v in (d.get("attributes") or {}).items()}
    return Span(
        span_id=_hex_id(d["span_id"]) or "",
        parent_id=_hex_id(d.get("parent_span_id")),
        name=str(d.get("name") or ""),
        status=code,
        status_message=str(status.get("message") or ""),
        start_time_ns=int(d["start_time_unix_nano"]),
        end_time_ns=None if d.get("end_time_unix_nano") is None else int(d["end_time_unix_nano"]),
        attributes=attributes,
        events=events,
    )


def spans_from_dicts(dicts: list[Any], where: str, warn: Callable[[str], None]) -> list[Span]:
    """Spans in start order; a span that is not one is said (with `where`) and left out."""
    spans = []
    for d in dicts:
        try:
            spans.append(span_from_dict(d))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            warn(f"{where}: a span is malformed ({type(exc).__name__}: {exc}); left out")
    spans.sort(key=lambda s: (s.start_time_ns, s.span_id))
    return spans


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def without_location(data: bytes) -> bytes:
    """A trace_info.yaml without its last key, the nested `trace_location:` block, when every
    line after it is indented (so is its value): the rest is flat and parses ~3x faster, and
    the reader takes the experiment from the trace's folder anyway."""
    head, sep, tail = data.partition(b"\ntrace_location:\n")
    if sep and all(line.startswith(b" ") for line in tail.splitlines()):
        return head + b"\n"
    return data


def trace_info_from_dict(d: dict[str, Any], folder: str, experiment_id: str) -> TraceInfo:
    """A file store's trace_info.yaml (TraceInfo.to_dict); tags, metadata and assessments are
    kept in folders beside it."""
    duration = d.get("execution_duration_ms")
    return TraceInfo(
        trace_id=str(d.get("trace_id") or folder),
        experiment_id=experiment_id,
        request_time=iso_ms(d.get("request_time")),
        execution_duration=duration if isinstance(duration, int) else None,
        state=str(d.get("state") or "STATE_UNSPECIFIED"),
        request_preview=_text_or_none(d.get("request_preview")),
        response_preview=_text_or_none(d.get("response_preview")),
    )


def assessment_from_dict(d: dict[str, Any]) -> Assessment:
    """An assessment as the file store's YAML holds it (Assessment.to_dictionary)."""
    kind = "feedback" if "feedback" in d else "expectation"
    body = d.get(kind) or {}
    if "serialized_value" in body:  # an expectation that is not a plain scalar
        value = json_or_text((body["serialized_value"] or {}).get("value"))
    else:
        value = body.get("value")
    error = body.get("error")
    source = d.get("source") or {}
    return Assessment(
        assessment_id=str(d.get("assessment_id") or ""),
        name=str(d.get("assessment_name") or ""),
        kind=kind,
        value=value,
        source_type=str(source.get("source_type") or ""),
        source_id=source.get("source_id"),
        rationale=d.get("rationale"),
        error=None if error is None else str(error.get("error_message") or error),
        span_id=d.get("span_id"),
        create_time=iso_ms(d.get("create_time")),
    )


def sorted_assessments(assessments: list[Assessment]) -> list[Assessment]:
    """Oldest first (the file store lists them in directory order, SQLite by creation)."""
    return sorted(assessments, key=lambda a: (a.create_time or 0, a.assessment_id))
