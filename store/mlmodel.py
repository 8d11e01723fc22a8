"""Reading an `MLmodel` file and what sits beside it, as plain data; nothing is ever loaded.

An MLflow model folder holds `MLmodel` (YAML, written by mlflow/models/model.py `Model.save`),
the serialized model, the environment files and an optional input example. mltui shows what the
folder says about itself: flavors, signature, input example, requirements. It never imports a
flavor, never unpickles, never runs model code: every file is read as YAML (`safe_load`), JSON or
text.

Signatures are JSON strings inside the YAML (mlflow/models/signature.py `ModelSignature.to_dict`)
in MLflow's schema format (mlflow/types/schema.py); they are parsed here into tables the way
`Schema.from_json` / `ParamSchema.from_json` read them. A malformed part gives a problem message
on the result, not an exception: only an unreadable or non-YAML `MLmodel` raises `MLmodelError`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from . import yamlfast
from .entities import LoggedModel
from .errors import StoreError
from .rawread import read_bytes, read_head

if TYPE_CHECKING:
    from .artifacts import ArtifactRoot
    from .base import Store

MLMODEL = "MLmodel"
#: Rows of an input example kept for display.
EXAMPLE_ROWS = 50
#: Largest MLmodel, example or environment file read (bytes).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Largest environment/serving text kept (characters).
MAX_TEXT_CHARS = 64 * 1024
#: Files counted at most when a model has no `model_size_bytes` (3.x writes it, 1.x/2.x not).
SIZE_MAX_FILES = 20000

# Flavor keys naming the serialized model, across MLflow's built-in flavors.
_MODEL_FILE_KEYS = (
    "pickled_model",  # sklearn
    "python_model",  # pyfunc PythonModel (cloudpickle)
    "model_path",  # pyfunc custom loaders, spark
    "data",  # pyfunc (python_function) pointing at a flavor's data
    "model_data",  # pytorch
    "saved_model_dir",  # tensorflow
    "model_file",  # keras, xgboost-like
    "xgb_model",
    "lgb_model",
    "cb_model",
    "model",
)
# MLflow's scalar column types (mlflow/types/schema.py DataType).
_SCALAR_TYPES = frozenset(
    ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")
)
_COMPOUND_TYPES = frozenset(("array", "object", "map", "any", "sparkml_vector"))


class MLmodelError(StoreError):
    """An MLmodel file that cannot be read at all (missing, unreadable, not a YAML mapping)."""


# -- signature ------------------------------------------------------------------------------
@dataclass(slots=True)
class ColumnSpec:
    """One column of a column-based schema (MLflow `ColSpec`)."""

    name: str | None
    #: MLflow's type name: a scalar type, or array / object / map / any.
    type: str
    #: Readable type: `double`, `array<string>`, `object{a: long, b?: string}`, `map<double>`.
    display: str
    required: bool
    #: The column's JSON as written, for anything the table does not show.
    raw: dict[str, Any] = field(default_factory=dict)

    def as_mlflow_dict(self) -> dict[str, Any]:
        """The column as MLflow's `ColSpec.to_dict()` gives it (with `required` filled in)."""
        d = _type_dict(self.raw)
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d


@dataclass(slots=True)
class TensorSpec:
    """One tensor of a tensor-based schema (MLflow `TensorSpec`)."""

    name: str | None
    dtype: str
    #: -1 marks a variable dimension.
    shape: tuple[Any, ...]

    def as_mlflow_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": self.dtype}}
        d["tensor-spec"]["shape"] = list(self.shape)
        if self.name is not None:
            d = {"name": self.name, **d}
        return d


@dataclass(slots=True)
class ParamSpec:
    """One inference parameter (MLflow `ParamSpec`)."""

    name: str
    type: str
    default: Any
    #: None for a scalar, (-1,) for a list.
    shape: tuple[Any, ...] | None

    def as_mlflow_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "shape": None if self.shape is None else list(self.shape),
        }


@dataclass(slots=True)
class SchemaInfo:
    """An input or output schema: columns or tensors (MLflow never mixes the two)."""

    kind: str  # "columns" | "tensors"
    columns: list[ColumnSpec] = field(default_factory=list)
    tensors: list[TensorSpec] = field(default_factory=list)

    def as_mlflow_list(self) -> list[dict[str, Any]]:
        specs = self.columns if self.kind == "columns" else self.tensors
        return [s.as_mlflow_dict() for s in specs]


@dataclass(slots=True)
class SignatureInfo:
    inputs: SchemaInfo | None = None
    outputs: SchemaInfo | None = None
    params: list[ParamSpec] | None = None
    #: Parts that could not be parsed, each a sentence; the other parts are still shown.
    problems: list[str] = field(default_factory=list)


# -- input example --------------------------------------------------------------------------
@dataclass(slots=True)
class InputExample:
    """The saved input example, as a table (first `EXAMPLE_ROWS` rows)."""

    #: MLflow's example type: dataframe, ndarray, json_object, sparse_matrix_csc/csr.
    type: str | None
    #: The example file, relative to the model folder (usually input_example.json).
    path: str | None
    pandas_orient: str | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    total_rows: int = 0
    #: Inference params saved with the example (`{"inputs": ..., "params": ...}`).
    params: dict[str, Any] | None = None
    #: The serving payload file (3.x `serving_input_example.json`) and its text.
    serving_input_path: str | None = None
    serving_input: str | None = None
    #: Why the example could not be (fully) shown.
    problem: str | None = None

    @property
    def truncated(self) -> bool:
        return self.total_rows > len(self.rows)


# -- the model ------------------------------------------------------------------------------
@dataclass(slots=True)
class FlavorInfo:
    name: str
    loader_module: str | None = None
    python_version: str | None = None
    #: `<library>_version` keys, e.g. {"sklearn": "1.5.2", "cloudpickle": "3.1.2"}.
    versions: dict[str, str] = field(default_factory=dict)
    serialization_format: str | None = None
    #: The file or folder holding the serialized model (pickled_model, python_model, data, ...).
    model_file: str | None = None
    #: Environment files: {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}.
    env: dict[str, str] = field(default_factory=dict)
    code: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ModelInfo:
    """What an MLmodel file and its folder say about a model."""

    #: The model folder (holding MLmodel); None when read through a store (a tracking server).
    path: Path | None
    artifact_path: str | None = None
    run_id: str | None = None
    model_uuid: str | None = None
    #: MLflow 3 logged model id (equal to model_uuid there).
    model_id: str | None = None
    utc_time_created: str | None = None
    mlflow_version: str | None = None
    size_bytes: int | None = None
    #: "model_size_bytes" (written by MLflow 2.x+) or "folder" (summed here).
    size_source: str | None = None
    flavors: list[FlavorInfo] = field(default_factory=list)
    signature: SignatureInfo | None = None
    input_example: InputExample | None = None
    requirements: str | None = None
    conda: str | None = None
    python_env: str | None = None
    metadata: dict[str, Any] | None = None
    #: The MLmodel mapping as read.
    raw: dict[str, Any] = field(default_factory=dict)
    #: Parts that could not be read, each a sentence; everything else is still filled in.
    problems: list[str] = field(default_factory=list)

    @property
    def created_timestamp(self) -> int | None:
        """`utc_time_created` as epoch milliseconds, or None when absent or unparsable."""
        if not self.utc_time_created:
            return None
        try:
            dt = datetime.fromisoformat(str(self.utc_time_created))
        except ValueError:
            return None
        return int(dt.replace(tzinfo=dt.tzinfo or UTC).timestamp() * 1000)

    def flavor(self, name: str) -> FlavorInfo | None:
        return next((f for f in self.flavors if f.name == name), None)


# -- reading --------------------------------------------------------------------------------
def read_mlmodel(path: str | os.PathLike[str], example_rows: int = EXAMPLE_ROWS) -> ModelInfo:
    """Read a model folder (or its MLmodel file). Raises MLmodelError only if MLmodel is unusable."""
    folder, data = _load_mlmodel(path)
    info = _describe(ModelInfo(path=folder, raw=data), data)
    if info.size_bytes is None:
        info.size_bytes, info.size_source = _folder_size(folder), "folder"

    example_info = data.get("saved_input_example_info")
    if isinstance(example_info, dict):
        info.input_example = read_input_example(folder, example_info, example_rows)
    elif example_info is not None:
        info.problems.append("MLmodel `saved_input_example_info` is not a mapping")

    _read_environment(info, folder)
    return info


def read_stored_mlmodel(store: Store, root: ArtifactRoot, rel: str = "") -> ModelInfo:
    """The MLmodel of the model folder `rel` under `root`, read through `store` (a tracking
    server's artifact proxy): the YAML text alone, never the model's files (its input example
    and environment files are not fetched either). A root the store cannot read is named, not
    fetched. Raises MLmodelError with one sentence."""
    rel = rel.strip("/")
    where = "/".join(p for p in (root.recorded.rstrip("/"), rel) if p)
    if not store.can_browse_artifacts(root):
        raise MLmodelError(root.note or f"{where} cannot be read through this store")
    name = f"{where}/{MLMODEL}"
    try:
        text = store.read_text_preview(root, f"{rel}/{MLMODEL}" if rel else MLMODEL, MAX_FILE_BYTES)
    except StoreError as exc:
        raise MLmodelError(f"cannot read {name}: {_first_line(exc)}") from None
    if text is None:
        raise MLmodelError(f"{name} is not a text file")
    return _describe(ModelInfo(path=None, raw={}), _parse_mlmodel(text, name))


def _describe(info: ModelInfo, data: dict[str, Any]) -> ModelInfo:
    """What the MLmodel mapping itself says (nothing else of the folder is read here)."""
    info.raw = data
    info.artifact_path = _opt_str(data.get("artifact_path"))
    info.run_id = _opt_str(data.get("run_id"))
    info.model_uuid = _opt_str(data.get("model_uuid"))
    info.model_id = _opt_str(data.get("model_id"))
    info.utc_time_created = _opt_str(data.get("utc_time_created"))
    info.mlflow_version = _opt_str(data.get("mlflow_version"))
    metadata = data.get("metadata")
    info.metadata = metadata if isinstance(metadata, dict) else None

    flavors = data.get("flavors")
    if isinstance(flavors, dict):
        info.flavors = [_flavor(str(name), conf) for name, conf in flavors.items()]
    elif flavors is not None:
        info.problems.append("MLmodel `flavors` is not a mapping")

    raw_size = data.get("model_size_bytes")
    if isinstance(raw_size, int) and not isinstance(raw_size, bool) and raw_size >= 0:
        info.size_bytes, info.size_source = raw_size, "model_size_bytes"

    sig = data.get("signature")
    if isinstance(sig, dict):
        info.signature = parse_signature(sig)
    elif sig is not None:
        info.problems.append("MLmodel `signature` is not a mapping")
    return info


def flavor_names(path: str | os.PathLike[str]) -> list[str]:
    """The flavors a model folder's MLmodel names, in order; read from MLmodel alone.

    Raises MLmodelError as `read_mlmodel` does.
    """
    _, data = _load_mlmodel(path)
    flavors = data.get("flavors")
    return [str(name) for name in flavors] if isinstance(flavors, dict) else []


def logged_model_kind(model: LoggedModel, root: ArtifactRoot) -> str:
    """A logged model's type, then the flavors its MLmodel names.

    MLflow 3's log_model leaves `model_type` null unless asked for one; the flavors are in the
    MLmodel at the model's artifact location (read as YAML, the model is never loaded).
    """
    flavors = ""
    if root.path is not None and (root.path / MLMODEL).is_file():
        try:
            flavors = ", ".join(flavor_names(root.path))
        except MLmodelError:
            flavors = "(unreadable MLmodel)"
    return " · ".join(part for part in (model.model_type or "", flavors) if part)


def _load_mlmodel(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """(model folder, MLmodel mapping) of a model folder or its MLmodel file."""
    target = Path(path)
    folder = target.parent if target.name == MLMODEL and target.is_file() else target
    mlmodel = folder / MLMODEL
    try:
        data = read_bytes(str(mlmodel), os.path.realpath(folder), MAX_FILE_BYTES)
        text = data.decode("utf-8", "replace")
    except FileNotFoundError as exc:
        raise MLmodelError(f"{folder} holds no MLmodel file") from exc
    except OSError as exc:
        raise MLmodelError(f"cannot read {mlmodel}: {exc.strerror or exc}") from exc
    return folder, _parse_mlmodel(text, str(mlmodel))


def _parse_mlmodel(text: str, name: str) -> dict[str, Any]:
    """The MLmodel mapping of YAML `text` (the file `name`, for messages)."""
    try:
        data = yamlfast.loads(text)  # the safe loader, refusing alias bombs
    except yaml.YAMLError as exc:
        raise MLmodelError(f"{name} is not valid YAML: {_first_line(exc)}") from exc
    if not isinstance(data, dict):
        raise MLmodelError(f"{name} is not an MLmodel file (expected a YAML mapping)")
    return data


def parse_signature(sig: dict[str, Any]) -> SignatureInfo:
    """The `signature` mapping of an MLmodel (JSON strings) as tables; problems are collected."""
    out = SignatureInfo()
    for part in ("inputs", "outputs"):
        value = sig.get(part)
        if value in (None, ""):
            continue
        try:
            setattr(out, part, parse_schema(_json_list(value)))
        except (ValueError, TypeError, KeyError) as exc:
            out.problems.append(f"signature {part} could not be read: {exc}")
    value = sig.get("params")
    if value not in (None, ""):
        try:
            out.params = [_param(p) for p in _json_list(value)]
        except (ValueError, TypeError, KeyError) as exc:
            out.problems.append(f"signature params could not be read: {exc}")
    return out


def parse_schema(specs: list[Any]) -> SchemaInfo:
    """A schema list (as `Schema.from_json` reads it): all tensors or all columns."""
    if not specs:
        raise ValueError("empty schema")
    if not all(isinstance(s, dict) for s in specs):
        raise ValueError("schema entries must be JSON objects")
    if all(s.get("type") == "tensor" for s in specs):
        return SchemaInfo("tensors", tensors=[_tensor(s) for s in specs])
    if any(s.get("type") == "tensor" for s in specs):
        raise ValueError("a schema mixes tensors and columns")
    return SchemaInfo("columns", columns=[_column(s) for s in specs])


def _json_list(value: Any) -> list[Any]:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, list):
        raise ValueError("expected a JSON list")
    return parsed


def _column(spec: dict[str, Any]) -> ColumnSpec:
    if "type" not in spec:
        raise KeyError("a column has no `type`")
    kind = spec["type"]
    name = spec.get("name")
    # ColSpec.from_json_dict: a scalar column without `required` defaults to True, but a
    # compound one (array/object/map/any) gets required=None, which MLflow then treats as
    # optional everywhere (`if x.required`). Report what MLflow enforces.
    required = bool(spec["required"]) if "required" in spec else kind not in _COMPOUND_TYPES
    return ColumnSpec(
        name=None if name is None else str(name),
        type=str(kind),
        display=_display_type(spec),
        required=required,
        raw=spec,
    )


def _type_dict(spec: dict[str, Any]) -> dict[str, Any]:
    """A (possibly compound) type as MLflow's `to_dict` writes it, `required` filled in."""
    kind = spec.get("type")
    if kind == "array":
        return {"type": "array", "items": _type_dict(_mapping(spec.get("items"), "items"))}
    if kind == "map":
        return {"type": "map", "values": _type_dict(_mapping(spec.get("values"), "values"))}
    if kind == "object":
        props = _mapping(spec.get("properties"), "properties")
        return {
            "type": "object",
            "properties": {
                name: {**_type_dict(_mapping(p, name)), "required": p.get("required", True)}
                for name, p in props.items()
            },
        }
    return {"type": kind}


def _display_type(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if kind == "array":
        return f"array<{_display_type(_mapping(spec.get('items'), 'items'))}>"
    if kind == "map":
        return f"map<string, {_display_type(_mapping(spec.get('values'), 'values'))}>"
    if kind == "object":
        props = _mapping(spec.get("properties"), "properties")
        inner = ", ".join(
            f"{name}{'' if _mapping(p, name).get('required', True) else '?'}: {_display_type(p)}"
            for name, p in props.items()
        )
        return f"object{{{inner}}}"
    if not isinstance(kind, str):
        raise ValueError(f"type {kind!r} is not a name")
    if kind not in _SCALAR_TYPES and kind not in _COMPOUND_TYPES:
        raise ValueError(f"unknown column type {kind!r}")
    return kind


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"`{what}` must be a JSON object")
    return value


def _tensor(spec: dict[str, Any]) -> TensorSpec:
    info = spec.get("tensor-spec")
    if not isinstance(info, dict) or "dtype" not in info or "shape" not in info:
        raise KeyError("a tensor has no `tensor-spec` with `dtype` and `shape`")
    shape = info["shape"]
    if not isinstance(shape, list | tuple):
        raise ValueError("a tensor shape must be a list")
    name = spec.get("name")
    return TensorSpec(None if name is None else str(name), str(info["dtype"]), tuple(shape))


def _param(spec: Any) -> ParamSpec:
    # ParamSpec.from_json_dict accepts `type` or the older `dtype`.
    if not isinstance(spec, dict) or "name" not in spec or "default" not in spec:
        raise KeyError("a param needs `name`, `type` and `default`")
    kind = spec.get("type", spec.get("dtype"))
    if kind is None:
        raise KeyError(f"param {spec['name']!r} has no `type`")
    shape = spec.get("shape")
    return ParamSpec(
        name=str(spec["name"]),
        type=str(kind),
        default=spec["default"],
        shape=None if shape is None else tuple(shape),
    )


def _flavor(name: str, conf: Any) -> FlavorInfo:
    flavor = FlavorInfo(name=name, raw=conf if isinstance(conf, dict) else {})
    if not isinstance(conf, dict):
        return flavor
    flavor.loader_module = _opt_str(conf.get("loader_module"))
    flavor.python_version = _opt_str(conf.get("python_version"))
    flavor.serialization_format = _opt_str(conf.get("serialization_format"))
    flavor.code = _opt_str(conf.get("code"))
    for key, value in conf.items():
        if (
            isinstance(key, str)
            and key.endswith("_version")
            and key != "python_version"
            and value is not None
        ):
            flavor.versions[key[: -len("_version")]] = str(value)
    for key in _MODEL_FILE_KEYS:
        if isinstance(conf.get(key), str):
            flavor.model_file = conf[key]
            break
    env = conf.get("env")
    if isinstance(env, str):  # MLflow 1.x: the conda file only
        flavor.env = {"conda": env}
    elif isinstance(env, dict):
        flavor.env = {str(k): str(v) for k, v in env.items() if isinstance(v, str)}
    return flavor


def _read_environment(info: ModelInfo, folder: Path) -> None:
    env: dict[str, str] = {}
    for flavor in info.flavors:
        for key, value in flavor.env.items():
            env.setdefault(key, value)
    names = {
        "requirements": "requirements.txt",
        "conda": env.get("conda", "conda.yaml"),
        "python_env": env.get("virtualenv", "python_env.yaml"),
    }
    for attr, name in names.items():
        text, problem = _read_text(folder, name)
        setattr(info, attr, text)
        if problem:
            info.problems.append(problem)


def _read_text(folder: Path, rel: str) -> tuple[str | None, str | None]:
    """(text, problem) of a file inside `folder`; (None, None) when it simply is not there."""
    target = _inside(folder, rel)
    if target is None:
        return None, f"{rel!r} points outside the model folder; not read"
    try:
        data = read_head(str(target), MAX_TEXT_CHARS + 1)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot read {rel}: {exc.strerror or exc}"
    text = data[:MAX_TEXT_CHARS].decode("utf-8", "replace")
    if len(data) > MAX_TEXT_CHARS:
        text += "\n… (cut)"
    return text, None


def _inside(folder: Path, rel: str) -> Path | None:
    """`folder/rel` if it stays inside `folder` (an MLmodel could name `../../etc/passwd`)."""
    if not rel or os.path.isabs(rel):
        return None
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(root, rel))
    if target != root and not target.startswith(root + os.sep):
        return None
    return Path(target)


# -- input example --------------------------------------------------------------------------
def read_input_example(
    folder: Path, example_info: dict[str, Any], max_rows: int = EXAMPLE_ROWS
) -> InputExample:
    """The example named by `saved_input_example_info` (mlflow/models/utils.py `_Example`)."""
    kind = _opt_str(example_info.get("type"))
    rel = _opt_str(example_info.get("artifact_path"))
    ex = InputExample(
        type=kind,
        path=rel,
        pandas_orient=_opt_str(example_info.get("pandas_orient")),
        serving_input_path=_opt_str(example_info.get("serving_input_path")),
    )
    if ex.serving_input_path:
        ex.serving_input, problem = _read_text(folder, ex.serving_input_path)
        if problem:
            ex.problem = problem

    payload: Any = None
    source = None
    if rel:
        payload, problem = _read_json(folder, rel)
        if problem:
            ex.problem = problem
        elif payload is not None:
            source = "example"
    if source is None and ex.serving_input:
        # The example file is gone or broken; the serving payload carries the same data.
        try:
            payload, source = json.loads(ex.serving_input), "serving"
        except ValueError:
            payload = None
    if source is None:
        if ex.problem is None:
            ex.problem = f"the input example file {rel or '(unnamed)'} is missing"
        return ex

    try:
        if source == "serving":
            data, ex.params = _from_serving(payload)
        else:
            data = payload
            # `params: 'true'` in the info: the file is {"inputs": data, "params": {...}}.
            if str(example_info.get("params", "")).lower() == "true" and isinstance(data, dict):
                ex.params = data.get("params")
                data = data.get("inputs")
        columns, rows = _table(data, kind, ex.pandas_orient)
    except (ValueError, TypeError, KeyError) as exc:
        ex.problem = f"the input example could not be read as a table: {exc}"
        return ex
    ex.columns = columns
    ex.total_rows = len(rows)
    ex.rows = rows[:max_rows]
    return ex


def _read_json(folder: Path, rel: str) -> tuple[Any, str | None]:
    target = _inside(folder, rel)
    if target is None:
        return None, f"{rel!r} points outside the model folder; not read"
    try:
        size = target.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, f"the input example {rel} is {size // 1024} KB; too large to show"
        text = read_bytes(str(target), None, MAX_FILE_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot read {rel}: {exc.strerror or exc}"
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"the input example {rel} is not valid JSON: {exc}"


def _from_serving(payload: Any) -> tuple[Any, dict[str, Any] | None]:
    """Data and params of a scoring-server payload (mlflow/pyfunc/scoring_server)."""
    if not isinstance(payload, dict):
        return payload, None
    params = payload.get("params") if isinstance(payload.get("params"), dict) else None
    if "dataframe_split" in payload:
        return payload["dataframe_split"], params
    if "dataframe_records" in payload:
        return payload["dataframe_records"], params
    for key in ("inputs", "instances"):
        if key in payload:
            return payload[key], params
    return payload, params


def _table(data: Any, kind: str | None, orient: str | None) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of an example payload, whichever of MLflow's layouts it uses."""
    if kind == "ndarray" and isinstance(data, dict) and set(data) <= {"inputs", "instances"}:
        # MLflow 1.x/2.x saved tensors in TF-serving form, {"inputs": ...}; 3.x saves them bare.
        data = next(iter(data.values()), None)
    if kind in ("sparse_matrix_csc", "sparse_matrix_csr") and isinstance(data, dict):
        shape = data.get("shape")
        return ["shape", "stored values"], [[shape, len(data.get("data") or [])]]
    if isinstance(data, dict) and "data" in data and ("columns" in data or orient == "values"):
        return _split(data)  # a dataframe in "split" orient (or "values": no column names)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return _records(data)
    if isinstance(data, list):
        if data and all(isinstance(r, list) for r in data):
            width = max(len(r) for r in data)
            return [str(i) for i in range(width)], [list(r) for r in data]
        return ["0"], [[v] for v in data]
    if isinstance(data, dict):
        # Named tensors or a JSON object: one column per key; lists of equal length become rows.
        columns = [str(k) for k in data]
        values = list(data.values())
        lengths = {len(v) for v in values if isinstance(v, list)}
        if values and len(lengths) == 1 and all(isinstance(v, list) for v in values):
            return columns, [list(r) for r in zip(*values, strict=True)]
        return columns, [values]
    return ["value"], [[data]]


def _split(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = data.get("data")
    if not isinstance(rows, list):
        raise ValueError("`data` must be a list of rows")
    rows = [r if isinstance(r, list) else [r] for r in rows]
    columns = data.get("columns")
    if columns is None:
        width = max((len(r) for r in rows), default=0)
        columns = list(range(width))
    if not isinstance(columns, list):
        raise ValueError("`columns` must be a list")
    return [str(c) for c in columns], rows


def _records(data: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    columns: dict[str, None] = {}
    for record in data:
        for key in record:
            columns.setdefault(str(key), None)
    names = list(columns)
    return names, [[_get(record, name) for name in names] for record in data]


def _get(record: dict[Any, Any], name: str) -> Any:
    if name in record:
        return record[name]
    for key, value in record.items():  # non-string keys (ints) were stringified for the header
        if str(key) == name:
            return value
    return None


def _folder_size(folder: Path) -> int | None:
    total = 0
    count = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            count += 1
            if count > SIZE_MAX_FILES:
                return None
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _opt_str(value: Any) -> str | None:
    """A scalar as text; None for nothing, or for a list or mapping where a scalar belongs."""
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
