"""One prompt rule for both backends, MLflow's: a registered model is a prompt when its tag
`mlflow.prompt.is_prompt` is exactly "true"; model searches leave prompts out."""

from __future__ import annotations

import pytest

from mltui.store import open_store
from mltui.store.entities import TAG_IS_PROMPT
from tests.conftest import copy_fixture, store_path

mlflow = pytest.importorskip("mlflow")


@pytest.mark.parametrize("fixture", ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"])
def test_models_listed_as_mlflow_lists_them(fixture, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    folder = copy_fixture(fixture, tmp_path)
    path = store_path(folder)
    uri = f"sqlite:///{path}" if path.suffix == ".db" else path.as_uri()
    # MLflow's file registry asks a default MlflowClient() about logged models: point it at the
    # copy, and run where a default sqlite:///mlflow.db could do no harm.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name, value in (("tagged-True", "True"), ("tagged-true", "true"), ("false", "false")):
        client.create_registered_model(name)
        client.set_registered_model_tag(name, TAG_IS_PROMPT, value)

    theirs = sorted(m.name for m in client.search_registered_models(max_results=1000))
    ours = sorted(m.name for m in open_store(path).registered_models())
    assert "tagged-True" in theirs and "tagged-true" not in theirs
    assert ours == theirs
