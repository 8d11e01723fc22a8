"""A dataset input's schema, source and profile (store/datasets.py), read as MLflow reads them,
on the fixture stores' runs with dataset inputs and on schemas MLflow's own classes write."""

from __future__ import annotations

import json

import pytest

from mltui.store import open_store
from mltui.store.datasets import profile_items, schema_columns, source_summary
from tests.conftest import STORES_DIR, store_path

DATASET_STORES = [
    "mlflow-2.22.5-file",
    "mlflow-2.22.5-sqlite",
    "mlflow-3.17.2-file",
    "mlflow-3.18.0-sqlite",
]


def mlflow_source(source_type: str, source: str) -> str:
    """Where MLflow's own DatasetSource says the data is: an HTTP source's URL, a code source's
    script (its mlflow.source.name tag)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.http_dataset_source import HTTPDatasetSource

    if source_type == "http":
        return HTTPDatasetSource.from_json(source).url
    assert source_type == "code"
    return CodeDatasetSource.from_json(source)._tags["mlflow.source.name"]


@pytest.mark.parametrize("name", DATASET_STORES)
def test_fixture_inputs_as_mlflow_reads_them(name):
    from mlflow.types import Schema

    store = open_store(store_path(STORES_DIR / name))
    try:
        # A listing may leave inputs unread; store.run() always reads them.
        runs = [store.run(r.run_id) for r in store.runs()]
        inputs = [di for run in runs if run is not None for di in run.inputs or []]
        assert inputs
        for di in inputs:
            d = di.dataset
            spec = json.loads(d.schema)["mlflow_colspec"]
            mlflow_schema = Schema.from_json(json.dumps(spec))
            assert schema_columns(d.schema) == [(c.name, c.type.name) for c in mlflow_schema.inputs]
            assert profile_items(d.profile) == list(json.loads(d.profile).items())
            assert source_summary(d.source) == mlflow_source(d.source_type, d.source)
        assert {di.dataset.source_type for di in inputs} == {"http", "code"}
    finally:
        store.close()


def test_tensor_schema_as_mlflow_writes_it():
    import numpy as np
    from mlflow.data.schema import TensorDatasetSchema
    from mlflow.types import Schema, TensorSpec

    schema = TensorDatasetSchema(
        features=Schema([TensorSpec(np.dtype("float32"), (-1, 3), "pixels")]),
        targets=Schema([TensorSpec(np.dtype("int64"), (-1,))]),
    )
    text = json.dumps(schema.to_dict())
    assert schema_columns(text) == [
        ("pixels", "tensor float32 [-1, 3]"),
        ("targets", "tensor int64 [-1]"),
    ]


@pytest.mark.parametrize(
    "schema",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        '{"mlflow_tensorspec": {"features": "[{\\"tensor-spec\\": 1}]"}}',
    ],
)
def test_schema_mlflow_did_not_write_gives_no_exception(schema):
    columns = schema_columns(schema)
    assert isinstance(columns, list)


def test_source_and_profile_of_odd_json():
    assert source_summary("plain text") == "plain text"
    assert source_summary('{"a": 1, "b": "x"}') == "a=1, b=x"
    assert profile_items("[1]") == [] and profile_items(None) == []
