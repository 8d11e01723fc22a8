"""Prompts, evaluation tables and metrics by dataset read from stores MLflow 3.18.0 wrote, compared
with MLflow's own reading (tests/fixtures/genai/*/expected.json, made by make_genai_fixtures.py:
search_prompts, load_prompt of every version, load_table, search_logged_models)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mltui.store import open_store
from mltui.store.entities import TAG_IS_PROMPT, ModelVersion
from mltui.store.evaluations import eval_table_paths, metrics_by_dataset, read_eval_table
from mltui.store.prompts import (
    TAG_PROMPT_TEXT,
    TAG_PROMPT_TYPE,
    PromptVersion,
    prompt_version,
    prompt_versions,
    prompts,
    template_lines,
)
from tests.conftest import FIXTURES_DIR, store_path

GENAI_FIXTURES = sorted((FIXTURES_DIR / "genai").glob("mlflow-*"))
GENAI_IDS = [p.name for p in GENAI_FIXTURES]


def expected_of(fixture: Path) -> dict:
    return json.loads((fixture / "expected.json").read_text(encoding="utf-8"))


def run_named(store, experiment_id: str, name: str):
    [run] = [r for r in store.runs([experiment_id]) if r.run_name == name]
    return store.run(run.run_id)


def test_both_backends_have_fixtures():
    assert {p.name.rsplit("-", 1)[1] for p in GENAI_FIXTURES} == {"file", "sqlite"}


@pytest.mark.parametrize("fixture", GENAI_FIXTURES, ids=GENAI_IDS)
def test_prompts_equal_mlflow_search_prompts_and_load_prompt(fixture):
    expected = expected_of(fixture)["prompts"]
    store = open_store(store_path(fixture))
    found = prompts(store)
    assert [p.name for p in found] == [p["name"] for p in expected]
    for prompt, theirs in zip(found, expected, strict=True):
        assert prompt.description == theirs["description"]
        assert prompt.creation_timestamp == theirs["creation_timestamp"]
        assert prompt.tags == theirs["tags"]
        versions = prompt_versions(store, prompt.name)
        assert prompt.latest_version == versions[0].version == theirs["versions"][-1]["version"]
        assert prompt.aliases == {a: v["version"] for v in theirs["versions"] for a in v["aliases"]}
        for mine, their_version in zip(reversed(versions), theirs["versions"], strict=True):
            for key, value in their_version.items():
                assert getattr(mine, key) == value, (prompt.name, mine.version, key)


@pytest.mark.parametrize("fixture", GENAI_FIXTURES, ids=GENAI_IDS)
def test_registered_models_leave_prompts_out(fixture):
    expected = expected_of(fixture)
    store = open_store(store_path(fixture))
    assert [m.name for m in store.registered_models()] == expected["registered_models"]
    with_prompts = {m.name for m in store.registered_models(include_prompts=True)}
    assert with_prompts == set(expected["registered_models"]) | {
        p["name"] for p in expected["prompts"]
    }


def test_chat_template_reads_as_role_lines():
    pv = PromptVersion(
        "p",
        1,
        [
            {"role": "system", "content": "Be [b]x[/b].\nShort."},
            {"role": "user", "content": "{{q}}"},
        ],
        False,
        None,
        None,
        None,
    )
    assert template_lines(pv) == ["system: Be [b]x[/b].", "        Short.", "user: {{q}}"]


@pytest.mark.parametrize("fixture", GENAI_FIXTURES, ids=GENAI_IDS)
def test_eval_tables_equal_mlflow_load_table(fixture):
    expected = expected_of(fixture)
    theirs = expected["runs"]["evaluation"]["eval_tables"]
    store = open_store(store_path(fixture))
    run = run_named(store, expected["experiment_id"], "evaluation")
    assert eval_table_paths(store, run) == sorted(theirs)
    for path, table in theirs.items():
        mine = read_eval_table(store, run, path)
        assert mine.error is None
        assert mine.columns == table["columns"]
        assert mine.rows == table["data"]
    other = run_named(store, expected["experiment_id"], "train-with-system-metrics")
    assert eval_table_paths(store, other) == []


@pytest.mark.parametrize("fixture", GENAI_FIXTURES, ids=GENAI_IDS)
def test_metrics_grouped_by_the_dataset_mlflow_recorded(fixture):
    expected = expected_of(fixture)
    store = open_store(store_path(fixture))
    run = run_named(store, expected["experiment_id"], "evaluation")
    groups = metrics_by_dataset(store, run)
    theirs: dict[tuple, dict] = {}
    for m in expected["logged_model_metrics"]:
        theirs.setdefault((m["dataset_name"], m["dataset_digest"]), {})[m["key"]] = m["value"]
    assert {(g.dataset_name, g.dataset_digest): g.metrics for g in groups} == theirs
    # A run whose metrics carry no dataset: one group, every metric in it.
    plain = run_named(store, expected["experiment_id"], "train-with-system-metrics")
    [group] = metrics_by_dataset(store, plain)
    assert group.dataset_name is None
    assert group.metrics == expected["runs"]["train-with-system-metrics"]["metrics"]


def test_broken_eval_table_says_why_and_the_rest_still_reads(tmp_path):
    folder = shutil.copytree(FIXTURES_DIR / "genai" / "mlflow-3.18.0-file", tmp_path / "store")
    expected = expected_of(folder)
    store = open_store(store_path(folder))
    run = run_named(store, expected["experiment_id"], "evaluation")
    root = Path(store.artifact_root(run).path)
    (root / "holdout_eval_results_table.json").write_text('{"columns": ["a"], "data": [[1, 2]]}')
    (root / "eval_results_table.json").write_text("{not json")
    (root / "x_eval_results_table.json").symlink_to("/etc/passwd")
    errors = {p: read_eval_table(store, run, p).error for p in eval_table_paths(store, run)}
    assert "rows do not match its 1 columns" in errors["holdout_eval_results_table.json"]
    assert "is not JSON" in errors["eval_results_table.json"]
    # A link out of the artifact folder is not listed, nor read when named (a tag may name it).
    assert "x_eval_results_table.json" not in errors
    outside = read_eval_table(store, run, "x_eval_results_table.json").error
    assert "outside the artifact folder" in outside


def test_a_chat_template_that_is_not_json_reads_as_its_text():
    tags = {TAG_PROMPT_TEXT: "[not json", TAG_PROMPT_TYPE: "chat", TAG_IS_PROMPT: "true", "k": "v"}
    mv = ModelVersion("p", "2", 1, 2, "None", "commit", None, None, None, None, None, tags=tags)
    pv = prompt_version(mv)
    assert (pv.is_text_prompt, pv.template, pv.tags) == (True, "[not json", {"k": "v"})
    assert template_lines(pv) == ["[not json"]
