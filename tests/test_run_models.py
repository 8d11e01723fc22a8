"""A run's models by MLflow's rules (store/run_models.py), on the fixture stores MLflow 1.30, 2.22
and 3.x wrote: the log-model history tag read as MLflow's `Model.from_dict` reads its entries,
MLflow 3's logged models and outputs as MLflow's client lists them (expected.json), and the
folder holding each model's MLmodel as MLflow's `Model.load` reads it."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from mltui.store import open_store
from mltui.store.entities import TAG_LOG_MODEL_HISTORY, ModelOutput
from mltui.store.run_models import (
    HISTORY,
    OUTPUT,
    log_model_history,
    mlmodel_folder,
    run_models,
)
from tests.conftest import STORES_DIR, expected_reading, store_path

HISTORY_STORES = [
    "mlflow-1.30.1-file",
    "mlflow-1.30.1-sqlite",
    "mlflow-2.22.5-file",
    "mlflow-2.22.5-sqlite",
]
LOGGED_MODEL_STORES = [
    "mlflow-3.17.2-file",
    "mlflow-3.17.2-sqlite",
    "mlflow-3.18.0-file",
    "mlflow-3.18.0-sqlite",
]
MODEL_RUNS = ["train-model-0", "train-model-1", "train-model-2"]


@pytest.fixture
def opened(request):
    stores = []

    def open_fixture(name: str):
        store = open_store(store_path(STORES_DIR / name))
        stores.append(store)
        return store, expected_reading(STORES_DIR / name)

    yield open_fixture
    for store in stores:
        store.close()


def expected_run(expected: dict, run_name: str) -> dict:
    return next(r for r in expected["runs"] if r["run_name"] == run_name)


def model_runs(store, expected: dict):
    """(MLflow's reading, our reading, our models) of each run that logged a model."""
    for run_name in MODEL_RUNS:
        want = expected_run(expected, run_name)
        run = store.run(want["run_id"])
        yield want, run, run_models(store, run)


@pytest.mark.parametrize("name", HISTORY_STORES)
def test_log_model_history_as_mlflow_reads_it(opened, name):
    from mlflow.models import Model

    store, expected = opened(name)
    for want, run, models in model_runs(store, expected):
        assert not models.history_unreadable
        mlflow_entries = [
            Model.from_dict(entry) for entry in json.loads(want["tags"][TAG_LOG_MODEL_HISTORY])
        ]
        assert len(models.models) == len(mlflow_entries) == 1
        for ours, theirs in zip(models.models, mlflow_entries, strict=True):
            assert ours.origin == HISTORY
            assert ours.name == ours.artifact_path == theirs.artifact_path
            assert ours.model_id == (theirs.model_uuid or "")
            assert ours.kind == ", ".join(theirs.flavors)
            assert ours.utc_time_created == str(theirs.utc_time_created)
            # The model's folder is at its artifact path under the run's artifacts: the very
            # model the history names.
            folder = mlmodel_folder(ours, store.artifact_root(run))
            assert folder is not None
            logged = Model.load(str(folder))
            assert logged.run_id == run.run_id
            assert logged.utc_time_created == theirs.utc_time_created


@pytest.mark.parametrize("name", LOGGED_MODEL_STORES)
def test_logged_models_and_outputs_as_mlflow_lists_them(opened, name):
    from mlflow.models import Model

    store, expected = opened(name)
    for want, run, models in model_runs(store, expected):
        assert TAG_LOG_MODEL_HISTORY not in run.tags  # MLflow 3 no longer writes it
        made = [m for m in expected["logged_models"] if m["source_run_id"] == run.run_id]
        assert [(m.model_id, m.name, m.status) for m in models.models] == [
            (m["model_id"], m["name"], m["status"]) for m in made
        ]
        steps = {o["model_id"]: o["step"] for o in want["outputs"]}
        for ours in models.models:
            assert (ours.origin, ours.step) == (OUTPUT, steps[ours.model_id])
            assert ours.found and ours.artifact_path is None
            assert ours.creation_timestamp == next(
                m["creation_timestamp"] for m in made if m["model_id"] == ours.model_id
            )
            folder = mlmodel_folder(ours, store.artifact_root(run))
            assert folder is not None
            assert Model.load(str(folder)).model_id == ours.model_id


def test_models_of_a_run_with_neither(opened):
    store, expected = opened("mlflow-3.17.2-file")
    run = store.run(expected_run(expected, "sweep-0")["run_id"])
    models = run_models(store, run)
    assert models.models == [] and not models.history_unreadable


def test_output_naming_a_model_outside_the_experiment(opened):
    store, expected = opened("mlflow-3.17.2-sqlite")
    run = store.run(expected_run(expected, "sweep-0")["run_id"])
    run = replace(run, outputs=[ModelOutput("m-0123456789abcdef", 4)])
    (model,) = run_models(store, run).models
    assert (model.origin, model.model_id, model.step, model.found) == (
        OUTPUT,
        "m-0123456789abcdef",
        4,
        False,
    )
    assert mlmodel_folder(model, store.artifact_root(run)) is None


@pytest.mark.parametrize(
    ("tag", "paths", "unreadable"),
    [
        ("not json", [], True),
        ('{"artifact_path": "model"}', [], True),  # an object, not a list
        ('[1, "x", {"artifact_path": "m"}, null]', ["m"], False),  # only objects are entries
        ("[]", [], False),
        ("", [], False),
    ],
)
def test_a_history_tag_mlflow_did_not_write(opened, tag, paths, unreadable):
    store, expected = opened("mlflow-2.22.5-file")
    run = store.run(expected_run(expected, "train-model-0")["run_id"])
    run = replace(run, tags={**run.tags, TAG_LOG_MODEL_HISTORY: tag})
    entries, bad = log_model_history(run)
    assert ([e.artifact_path for e in entries], bad) == (paths, unreadable)
    assert all(e.kind == "" and e.model_id == "" for e in entries)


def test_a_history_path_leading_out_of_the_run_artifacts_is_not_followed(opened, tmp_path):
    """The tag is text anyone can set (`MlflowClient.set_tag`): an artifact path climbing out of
    the run's artifacts names no model folder, even where an MLmodel waits outside."""
    store, expected = opened("mlflow-2.22.5-file")
    run = store.run(expected_run(expected, "train-model-0")["run_id"])
    root = store.artifact_root(run)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "MLmodel").write_text("flavors: {}\n")
    climb = os.path.relpath(outside, root.path)
    assert climb.startswith("..")
    tag = json.dumps([{"artifact_path": climb, "flavors": {}}])
    run = replace(run, tags={**run.tags, TAG_LOG_MODEL_HISTORY: tag})
    (model,) = run_models(store, run).models
    assert model.artifact_path == climb
    assert mlmodel_folder(model, root) is None
