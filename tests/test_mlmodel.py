"""MLmodel parsing, checked against what MLflow's own `Model.load` reports for the same file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from mltui.store.mlmodel import (
    EXAMPLE_ROWS,
    MLmodelError,
    parse_signature,
    read_mlmodel,
)
from mltui.store.model_folders import find_mlmodels
from tests.conftest import STORES_DIR

FIXTURE_MODELS = sorted(STORES_DIR.glob("*/mlruns/**/MLmodel"))


def mlflow_signature(folder: Path) -> dict[str, list | None]:
    """MLflow's reading of a signature: `Model.load(path).signature.to_dict()`, JSON decoded."""
    from mlflow.models import Model

    sig = Model.load(str(folder)).signature
    if sig is None:
        return {}
    return {k: json.loads(v) if v else None for k, v in sig.to_dict().items()}


def ours_as_mlflow(info) -> dict[str, list | None]:
    sig = info.signature
    return {
        "inputs": sig.inputs.as_mlflow_list() if sig.inputs else None,
        "outputs": sig.outputs.as_mlflow_list() if sig.outputs else None,
        "params": [p.as_mlflow_dict() for p in sig.params] if sig.params else None,
    }


def write_model(folder: Path, mlmodel: dict | str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = mlmodel if isinstance(mlmodel, str) else yaml.safe_dump(mlmodel, sort_keys=True)
    (folder / "MLmodel").write_text(text)
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


def signature(inputs=None, outputs=None, params=None) -> dict:
    dump = lambda x: None if x is None else json.dumps(x)  # noqa: E731
    return {"inputs": dump(inputs), "outputs": dump(outputs), "params": dump(params)}


# -- the fixture stores' models ----------------------------------------------------------------
@pytest.mark.parametrize(
    "mlmodel", FIXTURE_MODELS, ids=[str(p.relative_to(STORES_DIR)) for p in FIXTURE_MODELS]
)
def test_fixture_models_read_as_mlflow_reads_them(mlmodel: Path):
    pytest.importorskip("mlflow")
    from mlflow.models import Model

    folder = mlmodel.parent
    info = read_mlmodel(folder)
    model = Model.load(str(folder))
    assert info.problems == []
    assert info.run_id == model.run_id
    assert info.model_uuid == model.model_uuid
    assert info.utc_time_created == model.utc_time_created
    assert info.mlflow_version == model.mlflow_version
    assert info.artifact_path == model.artifact_path
    assert [f.name for f in info.flavors] == list(model.flavors)
    pyfunc = info.flavor("python_function")
    assert pyfunc.loader_module == "mlflow.pyfunc.model"
    assert pyfunc.model_file == "python_model.pkl"
    assert pyfunc.python_version == model.flavors["python_function"]["python_version"]
    assert pyfunc.versions["cloudpickle"] == model.flavors["python_function"]["cloudpickle_version"]
    assert ours_as_mlflow(info) == {**{"params": None}, **mlflow_signature(folder)}
    assert [c.name for c in info.signature.inputs.columns] == ["a", "b"]
    assert all(c.type == "double" and c.required for c in info.signature.inputs.columns)

    # The example, as MLflow loads it (a DataFrame).
    frame = model.load_input_example(str(folder))
    assert info.input_example.columns == list(frame.columns)
    assert info.input_example.rows == frame.values.tolist()
    assert info.input_example.type == "dataframe"
    assert info.input_example.pandas_orient == "split"

    # Size: 2.x/3.x record it; 1.x does not, so the folder is measured.
    raw = yaml.safe_load(mlmodel.read_text())
    if "model_size_bytes" in raw:
        assert (info.size_bytes, info.size_source) == (raw["model_size_bytes"], "model_size_bytes")
    else:
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert (info.size_bytes, info.size_source) == (total, "folder")

    assert info.requirements is not None and "mlflow" in info.requirements
    assert info.conda is not None and "dependencies" in info.conda
    assert info.python_env is not None and "python" in info.python_env
    if model.mlflow_version.startswith("3."):
        assert info.model_id == info.model_uuid and info.model_id.startswith("m-")
        assert info.input_example.serving_input_path == "serving_input_example.json"
        assert json.loads(info.input_example.serving_input)["dataframe_split"]["columns"] == [
            "a",
            "b",
        ]
    if model.mlflow_version.startswith("1."):
        assert pyfunc.env == {"conda": "conda.yaml"}
        assert info.signature.params is None


def test_find_mlmodels_in_fixture_stores():
    for store in ("mlflow-2.22.5-file", "mlflow-1.30.1-sqlite"):
        found = find_mlmodels(STORES_DIR / store / "mlruns")
        assert len(found) == 3 and all(p.name == "model" for p in found)
    # MLflow 3 keeps the model files in the logged model's own artifacts folder.
    found = find_mlmodels(STORES_DIR / "mlflow-3.17.2-file" / "mlruns", max_depth=4)
    assert len(found) == 4 and all(p.name == "artifacts" for p in found)
    assert find_mlmodels(STORES_DIR / "mlflow-3.17.2-file" / "mlruns", max_depth=2) == []


# -- hand-written models -----------------------------------------------------------------------
COMPOUND_INPUTS = [
    {"type": "string", "name": "text"},  # no `required`: required
    {"type": "long", "name": "n", "required": False},
    {"type": "array", "items": {"type": "double"}, "name": "vec", "required": True},
    {
        "type": "object",
        "name": "meta",
        "required": True,
        "properties": {
            "lang": {"type": "string", "required": False},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    },
    {"type": "map", "values": {"type": "double"}, "name": "scores", "required": True},
    {
        "type": "array",
        "name": "rows",
        "required": False,
        "items": {"type": "object", "properties": {"x": {"type": "float", "required": True}}},
    },
    {"type": "any", "name": "anything", "required": True},
]
TENSOR_INPUTS = [
    {"name": "image", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}},
    {"name": "mask", "type": "tensor", "tensor-spec": {"dtype": "bool", "shape": [-1, 28, 28]}},
]
TENSOR_OUTPUTS = [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 10]}}]
PARAMS = [
    {"name": "temperature", "type": "double", "default": 0.5, "shape": None},
    {"name": "max_tokens", "type": "long", "default": 100, "shape": None},
    {"name": "stop", "type": "string", "default": ["\n", "END"], "shape": [-1]},
    {"name": "greedy", "type": "boolean", "default": False, "shape": None},
]


def base_mlmodel(**extra) -> dict:
    return {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "predict_fn": "predict",
                "python_version": "3.11.7",
            },
            "sklearn": {
                "code": None,
                "pickled_model": "model.pkl",
                "serialization_format": "cloudpickle",
                "sklearn_version": "1.5.2",
            },
        },
        "mlflow_version": "2.22.5",
        "model_size_bytes": 1234,
        "model_uuid": "0123456789abcdef0123456789abcdef",
        "run_id": "fedcba9876543210fedcba9876543210",
        "utc_time_created": "2024-05-01 12:30:00.123456",
        **extra,
    }


def test_sklearn_flavor_facts(tmp_path: Path):
    info = read_mlmodel(write_model(tmp_path / "m", base_mlmodel()))
    sk = info.flavor("sklearn")
    assert sk.versions == {"sklearn": "1.5.2"}
    assert sk.serialization_format == "cloudpickle"
    assert sk.model_file == "model.pkl"
    pyfunc = info.flavor("python_function")
    assert pyfunc.loader_module == "mlflow.sklearn" and pyfunc.model_file == "model.pkl"
    assert pyfunc.env == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert (info.size_bytes, info.size_source) == (1234, "model_size_bytes")
    assert info.created_timestamp == 1714566600123
    assert info.signature is None and info.input_example is None
    assert (info.requirements, info.conda, info.python_env) == (None, None, None)
    assert info.problems == []


@pytest.mark.parametrize(
    "sig",
    [
        signature(COMPOUND_INPUTS, [{"type": "double", "name": "y"}]),
        signature(TENSOR_INPUTS, TENSOR_OUTPUTS),
        signature([{"type": "string"}], [{"type": "string"}], PARAMS),
        signature(None, None, PARAMS),
    ],
    ids=["compound-columns", "tensors", "params", "params-only"],
)
def test_signatures_match_mlflow(sig: dict, tmp_path: Path):
    pytest.importorskip("mlflow")
    folder = write_model(tmp_path / "m", base_mlmodel(signature=sig))
    info = read_mlmodel(folder)
    assert info.signature.problems == []
    assert ours_as_mlflow(info) == mlflow_signature(folder)


def test_compound_column_without_required_is_optional_as_in_mlflow(tmp_path: Path):
    pytest.importorskip("mlflow")
    inputs = [
        {"type": "array", "items": {"type": "long"}, "name": "ids"},
        {"type": "long", "name": "n"},
    ]
    folder = write_model(tmp_path / "m", base_mlmodel(signature=signature(inputs)))
    ids, n = read_mlmodel(folder).signature.inputs.columns
    theirs = mlflow_signature(folder)["inputs"]
    # ColSpec.from_json_dict leaves `required` None for compound types; MLflow treats it as
    # optional. A scalar column without `required` is required.
    assert theirs[0]["required"] is None and ids.required is False
    assert theirs[1]["required"] is True and n.required is True


def test_compound_column_table(tmp_path: Path):
    info = read_mlmodel(
        write_model(tmp_path / "m", base_mlmodel(signature=signature(COMPOUND_INPUTS)))
    )
    cols = {c.name: c for c in info.signature.inputs.columns}
    assert cols["text"].required and cols["text"].display == "string"
    assert not cols["n"].required
    assert cols["vec"].display == "array<double>"
    assert cols["meta"].display == "object{lang?: string, tags: array<string>}"
    assert cols["scores"].display == "map<string, double>"
    assert cols["rows"].display == "array<object{x: float}>"
    assert cols["anything"].type == "any"


def test_tensor_and_param_tables(tmp_path: Path):
    folder = write_model(
        tmp_path / "m", base_mlmodel(signature=signature(TENSOR_INPUTS, TENSOR_OUTPUTS, PARAMS))
    )
    sig = read_mlmodel(folder).signature
    assert sig.inputs.kind == "tensors"
    assert [(t.name, t.dtype, t.shape) for t in sig.inputs.tensors] == [
        ("image", "float32", (-1, 28, 28)),
        ("mask", "bool", (-1, 28, 28)),
    ]
    assert sig.outputs.tensors[0].name is None
    assert [(p.name, p.type, p.default, p.shape) for p in sig.params] == [
        ("temperature", "double", 0.5, None),
        ("max_tokens", "long", 100, None),
        ("stop", "string", ["\n", "END"], (-1,)),
        ("greedy", "boolean", False, None),
    ]


def test_mlflow_1_model(tmp_path: Path):
    """1.x: no params in the signature, no model_uuid, `env` a plain string, no size."""
    mlmodel = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "env": "conda.yaml",
                "loader_module": "mlflow.sklearn",
                "model_path": "model.pkl",
                "python_version": "3.7.3",
            },
            "sklearn": {"pickled_model": "model.pkl", "sklearn_version": "0.22.1"},
        },
        "run_id": "ab" * 16,
        "utc_time_created": "2020-01-02 03:04:05.678901",
        "signature": {
            "inputs": '[{"name": "x", "type": "double"}, {"name": "s", "type": "string"}]',
            "outputs": '[{"type": "long"}]',
        },
    }
    folder = write_model(
        tmp_path / "m", mlmodel, {"conda.yaml": "name: env\n", "model.pkl": "x" * 10}
    )
    info = read_mlmodel(folder)
    assert info.model_uuid is None and info.model_id is None and info.mlflow_version is None
    assert info.flavor("python_function").env == {"conda": "conda.yaml"}
    assert info.conda == "name: env\n" and info.python_env is None
    assert info.signature.params is None
    cols = info.signature.inputs.columns
    assert [(c.name, c.type, c.required) for c in cols] == [
        ("x", "double", True),
        ("s", "string", True),
    ]
    assert info.signature.outputs.columns[0].name is None
    assert info.size_source == "folder"
    assert info.size_bytes == sum(p.stat().st_size for p in folder.iterdir())
    pytest.importorskip("mlflow")
    assert ours_as_mlflow(info) == mlflow_signature(folder)


# -- input examples ---------------------------------------------------------------------------
def test_split_example_with_params_and_serving_payload(tmp_path: Path):
    pytest.importorskip("mlflow")
    from mlflow.models import Model

    example = {"inputs": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}, "params": {"k": 3}}
    folder = write_model(
        tmp_path / "m",
        base_mlmodel(
            signature=signature(
                [{"type": "long", "name": "a"}, {"type": "string", "name": "b"}],
                None,
                [{"name": "k", "type": "long", "default": 1, "shape": None}],
            ),
            saved_input_example_info={
                "artifact_path": "input_example.json",
                "type": "dataframe",
                "pandas_orient": "split",
                "params": "true",
                "serving_input_path": "serving_input_example.json",
            },
        ),
        {
            "input_example.json": json.dumps(example),
            "serving_input_example.json": json.dumps(
                {"dataframe_split": example["inputs"], "params": {"k": 3}}, indent=2
            ),
        },
    )
    ex = read_mlmodel(folder).input_example
    frame = Model.load(str(folder)).load_input_example(str(folder))
    assert ex.columns == list(frame.columns) == ["a", "b"]
    assert ex.rows == frame.values.tolist()
    assert ex.params == {"k": 3} == Model.load(str(folder)).load_input_example_params(str(folder))
    assert ex.problem is None and "dataframe_split" in ex.serving_input


def test_records_example_and_row_cap(tmp_path: Path):
    pd = pytest.importorskip("pandas")
    records = [{"a": i, "b": f"s{i}", **({"c": True} if i == 3 else {})} for i in range(120)]
    folder = write_model(
        tmp_path / "m",
        base_mlmodel(
            saved_input_example_info={
                "artifact_path": "input_example.json",
                "type": "dataframe",
                "pandas_orient": "records",
            }
        ),
        {"input_example.json": json.dumps(records)},
    )
    ex = read_mlmodel(folder).input_example
    frame = pd.DataFrame.from_records(records)  # what pandas reads for orient="records"
    assert ex.columns == list(frame.columns) == ["a", "b", "c"]
    assert ex.total_rows == 120 and len(ex.rows) == EXAMPLE_ROWS and ex.truncated
    assert ex.rows[3] == [3, "s3", True] and ex.rows[0] == [0, "s0", None]


def test_tensor_and_json_examples(tmp_path: Path):
    pytest.importorskip("mlflow")
    cases = {
        # MLflow 1.x/2.x wrote tensors as {"inputs": ...}; 3.x writes them bare.
        "ndarray": ({"inputs": [[1.0, 2.0], [3.0, 4.0]]}, ["0", "1"], [[1.0, 2.0], [3.0, 4.0]]),
        "ndarray-3x": ([[1.0, 2.0], [3.0, 4.0]], ["0", "1"], [[1.0, 2.0], [3.0, 4.0]]),
        "named": ({"inputs": {"x": [1, 2], "y": [3, 4]}}, ["x", "y"], [[1, 3], [2, 4]]),
        "named-3x": ({"x": [1, 2], "y": [3, 4]}, ["x", "y"], [[1, 3], [2, 4]]),
        "object": ({"question": "why?", "k": 2}, ["question", "k"], [["why?", 2]]),
        "scalars": (["a", "b"], ["0"], [["a"], ["b"]]),
    }
    for label, (payload, columns, rows) in cases.items():
        kind = "json_object" if label in ("object", "scalars") else "ndarray"
        folder = write_model(
            tmp_path / label,
            base_mlmodel(
                saved_input_example_info={"artifact_path": "input_example.json", "type": kind}
            ),
            {"input_example.json": json.dumps(payload)},
        )
        ex = read_mlmodel(folder).input_example
        assert (ex.columns, ex.rows, ex.problem) == (columns, rows, None), label
        if label.endswith("-3x"):  # what MLflow 3.17.2 itself loads from the same file
            from mlflow.models import Model

            loaded = Model.load(str(folder)).load_input_example(str(folder))
            if isinstance(loaded, dict):
                assert list(loaded) == ex.columns
                loaded = list(zip(*(loaded[k].tolist() for k in loaded), strict=True))
                assert [list(r) for r in loaded] == ex.rows
            else:
                assert loaded.tolist() == ex.rows


def test_missing_example_falls_back_to_serving_payload(tmp_path: Path):
    folder = write_model(
        tmp_path / "m",
        base_mlmodel(
            saved_input_example_info={
                "artifact_path": "input_example.json",
                "type": "dataframe",
                "pandas_orient": "split",
                "serving_input_path": "serving_input_example.json",
            }
        ),
        {"serving_input_example.json": json.dumps({"dataframe_records": [{"a": 1}, {"a": 2}]})},
    )
    ex = read_mlmodel(folder).input_example
    assert (ex.columns, ex.rows) == (["a"], [[1], [2]])
    (folder / "serving_input_example.json").unlink()
    ex = read_mlmodel(folder).input_example
    assert ex.rows == [] and "missing" in ex.problem


# -- damaged files: clear errors or partial results, never a crash -------------------------------
def test_unreadable_mlmodel_raises_one_clear_error(tmp_path: Path):
    with pytest.raises(MLmodelError, match="holds no MLmodel"):
        read_mlmodel(tmp_path)
    for text, match in (
        ("flavors: [unclosed", "not valid YAML"),
        ("- a list\n- not a mapping\n", "expected a YAML mapping"),
        ("", "expected a YAML mapping"),
        # A Python object tag: the safe loader refuses it; nothing is constructed.
        ("flavors: !!python/object/apply:os.system ['echo pwned']\n", "not valid YAML"),
    ):
        write_model(tmp_path / "m", text)
        with pytest.raises(MLmodelError, match=match):
            read_mlmodel(tmp_path / "m")


def test_malformed_parts_give_partial_results(tmp_path: Path):
    mlmodel = base_mlmodel(
        signature={
            "inputs": "[{not json",
            "outputs": json.dumps([{"type": "double", "name": "y"}]),
            "params": json.dumps([{"name": "k"}]),
        },
        saved_input_example_info={"artifact_path": "../../secret.json", "type": "dataframe"},
    )
    mlmodel["flavors"]["broken"] = "not a mapping"
    folder = write_model(tmp_path / "m", mlmodel)
    (tmp_path / "secret.json").write_text("{}")
    info = read_mlmodel(folder)
    assert info.signature.inputs is None and info.signature.params is None
    assert [c.name for c in info.signature.outputs.columns] == ["y"]
    assert len(info.signature.problems) == 2
    assert "outside the model folder" in info.input_example.problem
    assert info.flavor("broken").loader_module is None
    assert info.flavor("sklearn").versions == {"sklearn": "1.5.2"}

    for bad in (
        [{"type": "tensor", "name": "t"}],  # no tensor-spec
        [
            {"type": "double", "name": "a"},
            {"type": "tensor", "tensor-spec": {"dtype": "f", "shape": []}},
        ],
        [{"name": "no type"}],
        [{"type": "array", "name": "a"}],  # no items
        [{"type": "complex128", "name": "a"}],
        [],
        {"not": "a list"},
    ):
        sig = parse_signature({"inputs": json.dumps(bad)})
        assert sig.inputs is None and len(sig.problems) == 1, bad


def test_example_json_errors_are_reported(tmp_path: Path):
    folder = write_model(
        tmp_path / "m",
        base_mlmodel(saved_input_example_info={"artifact_path": "ex.json", "type": "dataframe"}),
        {"ex.json": "{broken"},
    )
    ex = read_mlmodel(folder).input_example
    assert ex.rows == [] and "not valid JSON" in ex.problem


def test_find_mlmodels_is_bounded(tmp_path: Path):
    root = tmp_path / "artifacts"
    write_model(root / "model", base_mlmodel())
    write_model(root / "a" / "b" / "deep_model", base_mlmodel())
    write_model(root / "a" / "b" / "c" / "d" / "e" / "too_deep", base_mlmodel())
    write_model(root / "model" / "nested", base_mlmodel())  # inside a model: not looked for
    os.symlink(root, root / "a" / "loop")  # a symlinked folder is not followed
    found = find_mlmodels(root)
    assert found == [root / "model", root / "a" / "b" / "deep_model"]
    assert find_mlmodels(root / "missing") == []
    assert find_mlmodels(root / "model") == [root / "model"]


@pytest.mark.parametrize(
    "fixture",
    ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite", "mlflow-2.22.5-file", "mlflow-1.30.1-sqlite"],
)
def test_model_folder_of_every_registered_version(fixture: str):
    """A version's storage location names a folder that moved with the store; it is found."""
    from mltui.store import open_store
    from mltui.store.model_folders import model_folder
    from tests.conftest import store_path

    store = open_store(store_path(STORES_DIR / fixture))
    versions = [mv for rm in store.registered_models() for mv in store.model_versions(rm.name)]
    assert versions
    for mv in versions:
        folder = model_folder(store, mv.storage_location or mv.source)
        assert folder is not None, mv
        assert read_mlmodel(folder).run_id == mv.run_id
    assert model_folder(store, "models:/m-0123") is None
    assert model_folder(store, "s3://bucket/model") is None
    store.close()
