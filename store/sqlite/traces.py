"""MLflow 3 traces in `mlflow.db`: `trace_info` with `trace_tags`, `trace_request_metadata`,
`assessments` and `spans`, read as MLflow's SqlAlchemyStore reads them (SqlTraceInfo).

Plain functions on an open connection inside one of SqliteStore's read transactions; `col`
is SqlDatabase.col (store/sqlite/database.py) (a column, or a literal for a column this schema lacks).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from ..traces import (
    TOKEN_USAGE,
    TRACE_NAME,
    Assessment,
    Span,
    TraceInfo,
    json_or_text,
    sorted_assessments,
    spans_from_dicts,
)

Col = Callable[[str, str], str]

#: trace_info's token columns (MLflow 3.x moved the usage metadata into them) by usage key.
_TOKEN_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr",
)


def read_trace_infos(
    conn: sqlite3.Connection, col: Col, where: str, args: list, has_assessments: bool
) -> list[TraceInfo]:
    """Trace infos of `trace_info WHERE <where>`, oldest first, tags, metadata and assessments
    read in one query each over the same selection."""
    t = "trace_info"
    tokens = ", ".join(col(t, c) for c in _TOKEN_COLUMNS)
    infos: dict[str, TraceInfo] = {}
    names: dict[str, str] = {}
    for row in conn.execute(
        f"SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, "
        f"{col(t, 'request_preview')}, {col(t, 'response_preview')}, {col(t, 'trace_name')}, "
        f"{tokens} FROM trace_info WHERE {where} ORDER BY timestamp_ms, request_id",
        args,
    ):
        trace_id, exp_id, time_ms, duration, state, request, response, name = row[:8]
        info = TraceInfo(trace_id, str(exp_id), time_ms, duration, str(state), request, response)
        usage = {k: v for k, v in zip(_TOKEN_COLUMNS, row[8:], strict=True) if v is not None}
        if usage:  # MLflow's compatibility_metadata_from_columns
            info.metadata[TOKEN_USAGE] = json.dumps(usage)
        if name is not None:
            names[trace_id] = name
        infos[trace_id] = info
    if not infos:
        return []
    chosen = f"SELECT request_id FROM trace_info WHERE {where}"
    for trace_id, key, value in conn.execute(
        f"SELECT request_id, key, value FROM trace_tags WHERE request_id IN ({chosen})", args
    ):
        infos[trace_id].tags[key] = value
    for trace_id, key, value in conn.execute(
        f"SELECT request_id, key, value FROM trace_request_metadata WHERE request_id IN ({chosen})",
        args,
    ):
        # A token column is the truth where MLflow moved the usage into columns.
        infos[trace_id].metadata.setdefault(key, value)
    for trace_id, name in names.items():
        infos[trace_id].tags[TRACE_NAME] = name  # the column wins over the tag, as in MLflow
    if has_assessments:
        _fill_assessments(conn, infos, chosen, args)
    return list(infos.values())


def _fill_assessments(
    conn: sqlite3.Connection, infos: dict[str, TraceInfo], chosen: str, args: list
) -> None:
    for row in conn.execute(
        "SELECT trace_id, assessment_id, name, assessment_type, value, error, created_timestamp, "
        "source_type, source_id, span_id, rationale FROM assessments "
        f"WHERE trace_id IN ({chosen})",
        args,
    ):
        trace_id, aid, name, kind, value, error, created, stype, sid, span_id, why = row
        error_text = None
        if error is not None:
            parsed = json_or_text(error)
            error_text = str(
                parsed.get("error_message", parsed) if isinstance(parsed, dict) else parsed
            )
        infos[trace_id].assessments.append(
            Assessment(
                aid, name, kind, json_or_text(value), stype, sid, why, error_text, span_id, created
            )
        )
    for info in infos.values():
        info.assessments = sorted_assessments(info.assessments)
        info.assessments_count = len(info.assessments)


def read_spans(conn: sqlite3.Connection, trace_id: str, warn: Callable[[str], None]) -> list[Span]:
    """The spans MLflow 3.x keeps in the `spans` table (each row's `content` is one span)."""
    dicts = []
    for span_id, content in conn.execute(
        "SELECT span_id, content FROM spans WHERE trace_id = ?", (trace_id,)
    ):
        try:
            dicts.append(json.loads(content))
        except (TypeError, ValueError):
            warn(f"trace {trace_id}: span {span_id} is not JSON; left out")
    return spans_from_dicts(dicts, f"trace {trace_id}", warn)
