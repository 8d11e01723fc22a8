"""What a run's dataset inputs say, by MLflow's rules: the columns of a dataset's schema, the part
of its source a person recognises, its profile.

MLflow records a dataset (mlflow/entities/dataset.py) with `schema`, `source` and `profile` as
JSON text: the schema as `{"mlflow_colspec": [{"name", "type"}, ...]}` or `{"mlflow_tensorspec":
{"features": "<JSON list>", "targets": "<JSON list>"}}` (mlflow/data/schema.py, from the
dataset's `TensorDatasetSchema.to_dict`); the source as its DatasetSource's JSON (a URL, a path,
a table name, ...). A value that is not such JSON gives nothing, never an exception.
"""

from __future__ import annotations

import json

from .entities import TAG_SOURCE_NAME

#: Keys of a source's JSON that name where the data is, most telling first.
_SOURCE_KEYS = ("url", "uri", "path", "table_name", "repo_id", "file_path", "source")


def _json(value: str | None) -> object:
    if not value:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return None


def schema_columns(schema: str | None) -> list[tuple[str, str]]:
    """(name, type) of each column or tensor of an MLflow dataset schema (JSON text)."""
    data = _json(schema)
    if isinstance(data, dict) and "mlflow_colspec" in data:
        data = data["mlflow_colspec"]
    elif isinstance(data, dict) and "mlflow_tensorspec" in data:
        return _tensor_columns(data["mlflow_tensorspec"])
    if not isinstance(data, list):
        return []
    return [(str(c.get("name", "")), str(c.get("type", ""))) for c in data if isinstance(c, dict)]


def _tensor_columns(spec: object) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in ("features", "targets"):
        tensors = _json(spec.get(part)) if isinstance(spec, dict) else None
        for t in tensors if isinstance(tensors, list) else []:
            if isinstance(t, dict):
                ts = t.get("tensor-spec")
                ts = ts if isinstance(ts, dict) else {}
                kind = f"tensor {ts.get('dtype', '?')} {ts.get('shape', '')}".strip()
                out.append((str(t.get("name") or part), kind))
    return out


def source_summary(source: str) -> str:
    """The part of a dataset source (JSON text) a person recognises: its URL, path or table."""
    data = _json(source)
    if isinstance(data, dict):
        for key in _SOURCE_KEYS:
            if data.get(key):
                return str(data[key])
        tags = data.get("tags")
        if isinstance(tags, dict) and tags.get(TAG_SOURCE_NAME):
            return str(tags[TAG_SOURCE_NAME])
        return ", ".join(f"{k}={v}" for k, v in data.items())
    return source


def profile_items(profile: str | None) -> list[tuple[str, object]]:
    """The (name, value) pairs of a dataset's profile (JSON object text), in the order written."""
    data = _json(profile)
    return list(data.items()) if isinstance(data, dict) else []
