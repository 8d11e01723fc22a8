"""Prompts (P on the experiments screen), system metrics and evaluation tables in the run view, on
the stores MLflow 3.18.0 wrote (tests/fixtures/genai, made by make_genai_fixtures.py)."""

from __future__ import annotations

import json
import shutil

import pytest
from textual.widgets import DataTable

from mltui.store import open_store
from mltui.store.entities import Metric, Run
from mltui.store.prompts import prompt_versions, prompts
from mltui.tui.present.metric_groups import chart_group, metric_sections, one_chart
from mltui.tui.screens.chart import ChartScreen
from mltui.tui.screens.experiments import ExperimentsScreen
from mltui.tui.screens.prompts import PromptScreen, PromptsScreen
from mltui.tui.screens.run import RunScreen
from mltui.tui.screens.runs import default_columns
from tests.conftest import FIXTURES_DIR, mlflow_script, skip_unless_mlflow_opens, store_path
from tests.tui.helpers import make_app, record_notices, screen_text, settle

pytestmark = pytest.mark.anyio

GENAI = FIXTURES_DIR / "genai"
STORES = sorted(GENAI.glob("mlflow-*"))
SQLITE = GENAI / "mlflow-3.18.0-sqlite"


def expected_of(fixture) -> dict:
    return json.loads((fixture / "expected.json").read_text(encoding="utf-8"))


async def open_prompts(pilot) -> PromptsScreen:
    await settle(pilot)
    assert isinstance(pilot.app.screen, ExperimentsScreen)
    await pilot.press("P")
    await settle(pilot)
    assert isinstance(pilot.app.screen, PromptsScreen)
    return pilot.app.screen


def on_run(run_name: str, *keys: str):
    """A run_before opening the run screen of `run_name` in the SQLite store, then pressing keys."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        run_id = expected_of(SQLITE)["runs"][run_name]["run_id"]
        await pilot.app.push_screen(RunScreen(run_id))
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def test_prompts_list_snapshot(snap_compare):
    assert snap_compare(
        make_app(store_path(SQLITE)), terminal_size=(120, 24), run_before=open_prompts
    )


def test_evaluation_table_snapshot(snap_compare):
    app = make_app(store_path(SQLITE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=on_run("evaluation", "7"))


@pytest.mark.parametrize("fixture", STORES, ids=lambda p: p.name)
async def test_prompts_open_versions_and_templates_literally(fixture):
    app = make_app(store_path(fixture))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_prompts(pilot)
        assert [p.name for p in screen.prompts.values()] == ["chat-assistant", "qa-prompt"]
        text = screen_text(app)
        assert "plain-model" not in text  # a registered model, not a prompt
        assert "@production v2" in text and "@staging v3" in text and "team=genai" in text

        await pilot.press("down", "enter")  # qa-prompt
        await settle(pilot)
        versions = app.screen
        assert isinstance(versions, PromptScreen)
        assert list(versions.versions) == ["3", "2", "1"]
        text = screen_text(app)
        assert "Markup stays text; two lines" in text and "First draft" in text
        assert "[bold]Answer[/bold] in a {{style}} style." in text  # literal, not bold
        assert "Question: {{question}}" in text
        await pilot.press("down")  # v2: the detail follows the cursor
        await settle(pilot)
        assert "Answer the question in a {{style}} style." in screen_text(app)

        await pilot.press("escape", "up", "enter")  # back, then chat-assistant
        await settle(pilot)
        text = screen_text(app)
        assert "system: You are {{persona}}. Answer briefly." in text
        assert "user: {{question}}" in text and "chat; variables: persona, question" in text
        await pilot.press("escape", "escape")
        await settle(pilot)
        assert isinstance(app.screen, ExperimentsScreen)


async def test_a_store_without_prompts_says_so(tmp_path):
    from mltui.store.demo import build_demo_store

    app = make_app(build_demo_store(tmp_path))
    async with app.run_test(size=(100, 24)) as pilot:
        await open_prompts(pilot)
        assert "No prompts in this store" in screen_text(app)


async def test_system_metrics_apart_and_the_evaluation_tab_only_for_evaluations():
    app = make_app(store_path(SQLITE))
    async with app.run_test(size=(120, 36)) as pilot:
        await on_run("train-with-system-metrics", "2")(pilot)
        text = screen_text(app)
        assert "7 Evaluation" not in text  # no evaluation tables: no tab
        model_at, heading_at = text.index("accuracy"), text.index("System metrics")
        assert model_at < text.index("loss") < heading_at < text.index("system/cpu_utilization")
        await pilot.press("7")  # a hidden tab stays hidden
        await settle(pilot)
        assert app.screen.query_one("#run-tabs").active == "metrics"

        await pilot.press("escape")
        await on_run("evaluation", "2")(pilot)
        text = screen_text(app)
        eval_at = text.index("Dataset wine-eval (f87976a1)")
        holdout_at = text.index("Dataset wine-holdout (9fdb5a20)")
        assert eval_at < text.index("r2_score") < holdout_at < text.index("holdout_r2_score")
        await pilot.press("7")
        await settle(pilot)
        text = screen_text(app)
        assert "[red]markup[/red] stays text" in text and "holdout_abs_error/score" in text


def test_system_metrics_are_offered_but_not_shown_in_the_runs_table():
    run = Run("r1", "0", "run", "FINISHED", 0, 1, "active", "", "me", params={"lr": "0.1"})
    run.metrics = {k: Metric(k, 1.0, 0, 0) for k in ("loss", "system/cpu_utilization_percentage")}
    offered, shown = default_columns([run])
    assert "metrics.loss" in shown
    assert "metrics.system/cpu_utilization_percentage" not in shown
    assert "metrics.system/cpu_utilization_percentage" in offered


def test_metric_groups_keep_units_and_system_metrics_apart():
    assert chart_group("loss") == "model"
    assert chart_group("system/gpu_0_utilization_percentage") == "system percentage"
    assert chart_group("system/node_1/disk_usage_megabytes") == "system megabytes"
    keys = ["system/cpu_utilization_percentage", "loss", "system/gpu_0_utilization_percentage"]
    assert one_chart(keys) == (
        ["system/cpu_utilization_percentage", "system/gpu_0_utilization_percentage"],
        ["loss"],
    )
    assert metric_sections(["b", "a"]) == [(None, ["a", "b"])]
    assert metric_sections(["a", "system/x_percentage", "m"], [("Dataset d", ["m"])]) == [
        ("Dataset d", ["m"]),
        ("Other metrics", ["a"]),
        ("System metrics", ["system/x_percentage"]),
    ]


async def test_a_chart_never_mixes_system_and_model_metrics():
    app = make_app(store_path(SQLITE))
    run_id = expected_of(SQLITE)["runs"]["train-with-system-metrics"]["run_id"]
    async with app.run_test(size=(120, 36)) as pilot:
        notices = record_notices(app)
        await settle(pilot)
        keys = ["loss", "system/cpu_utilization_percentage", "accuracy"]
        await app.push_screen(ChartScreen([run_id], keys))
        await settle(pilot)
        assert app.screen.keys == ["loss", "accuracy"]
        assert any("system/cpu_utilization_percentage" in n for n in notices)


def test_a_long_evaluation_table_is_cut_and_says_how_much():
    from rich.console import Console

    from mltui.store.evaluations import EvalTable
    from mltui.tui.widgets.eval_tables import MAX_ROWS, eval_tables

    rows = [[f"[b]q{i}[/b]", i, None] for i in range(MAX_ROWS + 7)]
    tables = [EvalTable("t_eval_results_table.json", ["q", "n", "x"], rows)]
    tables.append(EvalTable("bad_eval_results_table.json", error="bad is not JSON"))
    console = Console(width=80, record=True)
    console.print(eval_tables(tables))
    text = console.export_text()
    assert "[b]q0[/b]" in text and f"q{MAX_ROWS - 1}" in text and f"q{MAX_ROWS}[" not in text
    assert "… 7 more rows in the artifact" in text and "bad is not JSON" in text


# -- prompts of two MLflow 3.12+ workspaces --------------------------------------------------------
#: Run by mlflow_script: "build" adds workspace team-b with its own qa-prompt and a b-prompt;
#: "read" prints MLflow's reading of each workspace's prompts by "<workspace>/<name>".
PROMPT_WORKSPACES_SCRIPT = """
import json, os, sys
os.environ["MLFLOW_ENABLE_WORKSPACES"] = "true"
import mlflow
from mlflow import MlflowClient

uri, action = sys.argv[1], sys.argv[2]
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
if action == "build":
    mlflow.create_workspace("team-b", description="the other team")
    mlflow.set_workspace("team-b")
    mlflow.genai.register_prompt("qa-prompt", "Team b asks: {{question}}", commit_message="b's")
    mlflow.genai.register_prompt("b-prompt", "Only in b: {{x}}", commit_message="b only")
else:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    out = {}
    for ws in ("default", "team-b"):
        mlflow.set_workspace(ws)
        for p in mlflow.genai.search_prompts(max_results=100):
            versions = sorted(int(v.version) for v in client.search_prompt_versions(p.name))
            latest = mlflow.genai.load_prompt(p.name, version=versions[-1])
            out[f"{ws}/{p.name}"] = {"versions": versions, "template": latest.template}
    print(json.dumps(out))
"""


@pytest.fixture
def prompt_workspaces(tmp_path):
    """A copy of the SQLite genai fixture where MLflow 3.18 added workspace team-b's prompts."""
    skip_unless_mlflow_opens(SQLITE.name)
    folder = shutil.copytree(SQLITE, tmp_path / SQLITE.name)
    mlflow_script(PROMPT_WORKSPACES_SCRIPT, folder, "build")
    return folder


async def test_prompts_of_two_workspaces_show_their_workspace(prompt_workspaces):
    theirs = mlflow_script(PROMPT_WORKSPACES_SCRIPT, prompt_workspaces, "read")
    store = open_store(prompt_workspaces / "mlflow.db")
    mine = {}
    for p in prompts(store):
        versions = prompt_versions(store, p.name, p.workspace)
        mine[f"{p.workspace}/{p.name}"] = {
            "versions": sorted(v.version for v in versions),
            "template": versions[0].template,
        }
    assert mine == theirs

    app = make_app(prompt_workspaces / "mlflow.db")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_prompts(pilot)
        table = screen.query_one("#prompts-table", DataTable)
        assert [c.label.plain for c in table.columns.values()][-1] == "Workspace"
        assert list(table.rows) == [
            "team-b/b-prompt",
            "default/chat-assistant",
            "default/qa-prompt",
            "team-b/qa-prompt",
        ]
        row = [c.plain for c in table.get_row("team-b/qa-prompt")]
        assert (row[0], row[1], row[-1]) == ("qa-prompt", "v1", "team-b")
        table.move_cursor(row=table.get_row_index("team-b/qa-prompt"))
        await pilot.press("enter")  # team-b's qa-prompt, not default's
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        assert list(app.screen.versions) == ["1"]
        assert "Team b asks: {{question}}" in screen_text(app)


async def test_prompts_of_one_workspace_have_no_workspace_column():
    app = make_app(store_path(SQLITE))
    async with app.run_test(size=(120, 36)) as pilot:
        table = (await open_prompts(pilot)).query_one("#prompts-table", DataTable)
        assert "workspace" not in table.columns
