"""The demo store, written by store.synth without MLflow, read back by real MLflow 3.17.2.

Every check compares what MlflowClient reports with the spec the store was written from, so a
pass means store.synth writes MLflow's file-store format (meta.yaml fields, metric lines, folder
layout, registry files, MLmodel files).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path

import pytest
import yaml

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import LoggedModelStatus, ViewType  # noqa: E402

from mltui.store.demo import WINE_FEATURES, WINE_MODEL, build_demo_store, demo_spec  # noqa: E402
from mltui.store.synth import (  # noqa: E402
    ExperimentSpec,
    RunSpec,
    StoreSpec,
    experiment_artifact_location,
)

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z, fixed so the store is the same every time


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(store root, spec, MlflowClient) for one demo store."""
    root = build_demo_store(tmp_path_factory.mktemp("demo"), now_ms=NOW)
    spec = demo_spec(root, now_ms=NOW)
    uri = root.as_uri()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        # The file registry reads logged models through a global MlflowClient().
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_REGISTRY_URI", uri)
        yield root, spec, MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(autouse=True)
def demo_uris(own_environment, demo, monkeypatch):
    """The demo store's URIs in the environment of every test here: the file registry reads
    logged models through a global MlflowClient(), which would otherwise make ./mlflow.db
    (conftest's own_environment clears MLflow's URI variables at each test's start)."""
    uri = demo[0].as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)


def all_runs(spec: StoreSpec) -> list[tuple[ExperimentSpec, RunSpec]]:
    return [(exp, run) for exp in spec.experiments for run in exp.runs]


def latest(points):
    """MLflow's latest point: the max of (step, timestamp, value) over all lines."""
    return max(points, key=lambda p: (p[2], p[0], p[1]))


def same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_experiments_match(demo):
    root, spec, client = demo
    got = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL)}
    assert set(got) == {e.experiment_id for e in spec.experiments}
    for exp in spec.experiments:
        e = got[exp.experiment_id]
        assert e.name == exp.name
        assert e.lifecycle_stage == exp.lifecycle_stage
        assert e.artifact_location == experiment_artifact_location(root, exp.experiment_id)
        assert e.creation_time == exp.creation_time
        assert e.last_update_time == (exp.last_update_time or exp.creation_time)
        assert e.tags == exp.tags
    deleted = [e for e in got.values() if e.lifecycle_stage == "deleted"]
    assert len(deleted) == 1
    assert client.get_experiment_by_name("Default").experiment_id == "0"


def test_runs_match(demo):
    _, spec, client = demo
    exp_ids = [e.experiment_id for e in spec.experiments]
    runs = client.search_runs(exp_ids, run_view_type=ViewType.ALL, max_results=50_000)
    got = {r.info.run_id: r for r in runs}
    expected = all_runs(spec)
    assert set(got) == {run.run_id for _, run in expected}
    for exp, run in expected:
        r = got[run.run_id]
        assert r.info.experiment_id == exp.experiment_id
        assert r.info.run_name == run.run_name
        assert r.info.status == run.status
        assert r.info.start_time == run.start_time
        assert r.info.end_time == run.end_time
        assert r.info.lifecycle_stage == run.lifecycle_stage
        assert r.info.user_id == run.user_id
        assert r.info.artifact_uri.endswith(f"/{exp.experiment_id}/{run.run_id}/artifacts")
        assert r.data.params == run.params
        assert r.data.tags == {"mlflow.runName": run.run_name, **run.tags}
        assert set(r.data.metrics) == set(run.metrics)
        for key, points in run.metrics.items():
            assert same_float(r.data.metrics[key], latest(points)[1]), (run.run_name, key)


def test_active_only_view_hides_deleted_runs(demo):
    _, spec, client = demo
    exp_ids = [e.experiment_id for e in spec.experiments]
    active = client.search_runs(exp_ids, run_view_type=ViewType.ACTIVE_ONLY, max_results=50_000)
    expected = {run.run_id for _, run in all_runs(spec) if run.lifecycle_stage == "active"}
    assert {r.info.run_id for r in active} == expected


def test_metric_histories_match(demo):
    _, spec, client = demo
    for _, run in all_runs(spec):
        for key, points in run.metrics.items():
            history = client.get_metric_history(run.run_id, key)
            got = [(m.timestamp, m.value, m.step) for m in history]
            assert len(got) == len(points), (run.run_name, key)
            for (ts, value, step), (ets, evalue, estep) in zip(got, points, strict=True):
                assert (ts, step) == (ets, estep)
                assert same_float(value, evalue)


def test_inputs_and_outputs_match(demo):
    _, spec, client = demo
    for _, run in all_runs(spec):
        r = client.get_run(run.run_id)
        got_inputs = [
            (
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema,
                d.dataset.profile,
                {t.key: t.value for t in d.tags},
            )
            for d in r.inputs.dataset_inputs
        ]
        want_inputs = [
            (d.name, d.digest, d.source_type, d.source, d.schema, d.profile, tags)
            for d, tags in run.inputs
        ]
        assert got_inputs == want_inputs
        got_outputs = [(o.model_id, o.step) for o in r.outputs.model_outputs]
        assert got_outputs == run.outputs


def test_logged_models_match(demo):
    root, spec, client = demo
    for exp in spec.experiments:
        if exp.lifecycle_stage != "active":
            continue
        found = client.search_logged_models(experiment_ids=[exp.experiment_id])
        assert {m.model_id for m in found} == {m.model_id for m in exp.logged_models}
        for model in exp.logged_models:
            m = client.get_logged_model(model.model_id)
            assert m.name == model.name
            assert m.experiment_id == exp.experiment_id
            assert m.source_run_id == model.source_run_id
            assert m.status == LoggedModelStatus.READY
            assert m.creation_timestamp == model.creation_timestamp
            assert m.last_updated_timestamp == model.last_updated_timestamp
            assert m.params == model.params
            assert m.tags == model.tags
            assert m.artifact_location == (
                f"{experiment_artifact_location(root, exp.experiment_id)}"
                f"/models/{model.model_id}/artifacts"
            )
            got = sorted((x.key, x.timestamp, x.value, x.step, x.run_id) for x in m.metrics)
            want = sorted(
                (key, p[0], p[1], p[2], p[3]) for key, pts in model.metrics.items() for p in pts
            )
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert g[:2] == w[:2] and g[3:] == w[3:] and same_float(g[2], w[2])


def test_registry_matches(demo):
    _, spec, client = demo
    got = {m.name: m for m in client.search_registered_models()}
    assert set(got) == {m.name for m in spec.registered_models}
    for model in spec.registered_models:
        rm = client.get_registered_model(model.name)
        assert rm.description == model.description
        assert rm.tags == model.tags
        assert rm.aliases == {a: str(v) for a, v in model.aliases.items()}
        assert rm.creation_timestamp == model.creation_timestamp
        assert rm.last_updated_timestamp == model.last_updated_timestamp
        newest_by_stage: dict[str, int] = {}
        for v in model.versions:
            newest_by_stage[v.current_stage] = max(
                newest_by_stage.get(v.current_stage, 0), v.version
            )
        assert sorted((v.current_stage, str(v.version)) for v in rm.latest_versions) == sorted(
            (stage, str(n)) for stage, n in newest_by_stage.items()
        )
        versions = {int(v.version): v for v in client.search_model_versions(f"name='{model.name}'")}
        assert set(versions) == {v.version for v in model.versions}
        for want in model.versions:
            mv = versions[want.version]
            assert mv.current_stage == want.current_stage
            assert mv.description == want.description
            assert mv.source == want.source
            assert mv.run_id == want.run_id
            assert mv.status == want.status
            assert mv.creation_timestamp == want.creation_timestamp
            assert mv.last_updated_timestamp == want.last_updated_timestamp
            assert mv.tags == want.tags
            assert mv.model_id == want.model_id
            aliases = sorted(a for a, n in model.aliases.items() if n == want.version)
            assert sorted(mv.aliases) == aliases
    champion = client.get_model_version_by_alias(WINE_MODEL, "champion")
    assert (str(champion.version), champion.current_stage) == ("2", "Production")
    challenger = client.get_model_version_by_alias(WINE_MODEL, "challenger")
    assert (str(challenger.version), challenger.current_stage) == ("3", "Staging")
    stages = {v.current_stage for v in client.search_model_versions(f"name='{WINE_MODEL}'")}
    assert stages == {"None", "Staging", "Production", "Archived"}


def _walk_artifacts(client, run_id, path=None):
    out = {}
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            out[info.path] = None
            out.update(_walk_artifacts(client, run_id, info.path))
        else:
            out[info.path] = info.file_size
    return out


def test_run_artifacts_match(demo):
    _, spec, client = demo
    with_artifacts = [run for _, run in all_runs(spec) if run.artifacts]
    assert with_artifacts
    for run in with_artifacts:
        got = _walk_artifacts(client, run.run_id)
        want: dict[str, int | None] = {}
        for rel, content in run.artifacts.items():
            parts = rel.split("/")
            for i in range(1, len(parts)):
                want["/".join(parts[:i])] = None
            data = content.encode() if isinstance(content, str) else content
            want[rel] = len(data)
        assert got == want


def test_logged_model_files_load_in_mlflow(demo):
    _, spec, client = demo
    wine = next(e for e in spec.experiments if e.logged_models)
    model = wine.logged_models[0]
    location = Path(
        client.get_logged_model(model.model_id).artifact_location.removeprefix("file://")
    )
    mlmodel = mlflow.models.Model.load(str(location / "MLmodel"))
    assert set(mlmodel.flavors) == {"sklearn", "python_function"}
    assert mlmodel.model_id == model.model_id
    assert mlmodel.run_id == model.source_run_id
    assert mlmodel.signature.inputs.input_names() == WINE_FEATURES
    assert [p.name for p in mlmodel.signature.params.params] == ["clip_predictions", "n_jobs"]
    example = mlmodel.load_input_example(str(location))
    assert list(example.columns) == WINE_FEATURES
    assert len(example) == 2
    assert mlmodel.saved_input_example_info["pandas_orient"] == "split"
    conda = yaml.safe_load((location / "conda.yaml").read_text())
    assert conda["name"] == "mlflow-env"
    python_env = yaml.safe_load((location / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]
    reqs = (location / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in reqs)
    serving = json.loads((location / "serving_input_example.json").read_text())
    assert serving["dataframe_split"]["columns"] == WINE_FEATURES


def test_demo_has_the_promised_shape(demo):
    _, spec, _ = demo
    runs = [run for _, run in all_runs(spec)]
    statuses = [r.status for r in runs]
    assert statuses.count("FAILED") == 1
    assert statuses.count("KILLED") == 1
    assert statuses.count("RUNNING") == 1
    assert sum(r.lifecycle_stage == "deleted" for r in runs if r.status != "RUNNING") >= 2
    running = next(r for r in runs if r.status == "RUNNING")
    assert running.end_time is None
    last_points = [latest(p)[0] for p in running.metrics.values()]
    assert NOW - 60_000 < max(last_points) < NOW
    sweep = next(e for e in spec.experiments if e.name == "wine-quality-elasticnet")
    assert len(sweep.runs) == 24
    assert len({r.params["random_state"] for r in sweep.runs}) == 1
    assert len({(r.params["alpha"], r.params["l1_ratio"]) for r in sweep.runs}) == 24
    for r in sweep.runs:
        assert set(r.metrics) == {"rmse", "mae", "r2"}
        rmse = [v for _, v, _ in r.metrics["rmse"]]
        if r.status == "FINISHED":
            assert 50 <= len(rmse) <= 100
            assert rmse[-1] < rmse[0] * 0.7
            # Noisy, not monotone: a real loss curve goes up now and then.
            assert any(b > a for a, b in itertools.pairwise(rmse))
    failed = next(r for r in sweep.runs if r.status == "FAILED")
    assert math.isnan(failed.metrics["rmse"][-1][1])
    assert any(r.tags.get("mlflow.note.content", "").startswith("## ") for r in sweep.runs)
    by_id = {r.run_id: r for r in runs}
    depth = {}
    for r in runs:
        d, cur = 0, r
        while parent := cur.tags.get("mlflow.parentRunId"):
            d, cur = d + 1, by_id[parent]
        depth[r.run_id] = d
    assert max(depth.values()) == 2


def test_same_time_same_store(tmp_path):
    a = build_demo_store(tmp_path / "a", now_ms=NOW)
    b = build_demo_store(tmp_path / "b", now_ms=NOW)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*"))
    for rel in files_a:
        pa, pb = a / rel, b / rel
        if pa.is_file():
            assert pa.read_bytes().replace(
                os.fsencode(tmp_path / "a"), b""
            ) == pb.read_bytes().replace(os.fsencode(tmp_path / "b"), b""), rel


def test_refuses_to_overwrite(tmp_path):
    build_demo_store(tmp_path, now_ms=NOW)
    with pytest.raises(FileExistsError):
        build_demo_store(tmp_path, now_ms=NOW)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # stages are deprecated, still written
def test_synth_writes_the_bytes_mlflow_writes(tmp_path, monkeypatch):
    """The same experiment, runs and registry written by MLflow and by synth are byte-identical."""
    from mlflow.entities import (
        Dataset,
        DatasetInput,
        InputTag,
        LoggedModelOutput,
        Metric,
        Param,
    )

    from mltui.store.synth import (
        DatasetSpec,
        LoggedModelSpec,
        ModelVersionSpec,
        RegisteredModelSpec,
        write_experiment,
        write_logged_model,
        write_registered_model,
        write_run,
    )

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    ours_root, theirs_root = tmp_path / "ours" / "mlruns", tmp_path / "theirs" / "mlruns"
    uri = theirs_root.as_uri()
    # The file registry opens a global MlflowClient(): without these it would create
    # ./mlflow.db in the current directory.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    exp_id = client.create_experiment("bytes", tags={"team": "ml", "nested/key": "x"})
    t0 = 1_700_000_000_000
    finished = client.create_run(exp_id, start_time=t0, tags={"k": "v"}, run_name="r-ok")
    rid = finished.info.run_id
    client.log_batch(
        rid,
        metrics=[
            Metric("loss/train", 0.5, t0 + 1, 0),
            Metric("loss/train", float("nan"), t0 + 2, 1),
            Metric("acc", 1.0, t0 + 3, 0),
            Metric("acc", float("inf"), t0 + 4, 7),
        ],
        params=[Param("alpha", "0.1"), Param("group/beta", "x y")],
    )
    client.set_tag(rid, "mlflow.note.content", "# Title\n\nbody ü")
    dataset = DatasetSpec(
        "wine", "1a2b3c4d", "local", '{"uri": "data.csv"}', '{"mlflow_colspec": []}', None
    )
    client.log_inputs(
        rid,
        datasets=[
            DatasetInput(
                Dataset(
                    dataset.name,
                    dataset.digest,
                    dataset.source_type,
                    dataset.source,
                    dataset.schema,
                    dataset.profile,
                ),
                tags=[InputTag("mlflow.data.context", "training")],
            )
        ],
    )
    lm = client.create_logged_model(
        exp_id, name="model", source_run_id=rid, params={"alpha": "0.1"}, tags={"t": "1"}
    )
    lm = client.finalize_logged_model(lm.model_id, LoggedModelStatus.READY)
    client.log_outputs(rid, [LoggedModelOutput(lm.model_id, 3)])
    client.set_terminated(rid, "FAILED", end_time=t0 + 10)
    running = client.create_run(exp_id, start_time=t0 + 20, run_name="r-live").info.run_id
    gone = client.create_run(exp_id, start_time=t0 + 30, run_name="r-gone").info.run_id
    client.set_terminated(gone, "KILLED", end_time=t0 + 40)
    client.delete_run(gone)

    client.create_registered_model("bytes-model", tags={"task": "t"}, description="d: ok")
    mv = client.create_model_version("bytes-model", "file:///elsewhere/model", run_id=rid)
    client.transition_model_version_stage("bytes-model", mv.version, "Staging")
    client.set_registered_model_alias("bytes-model", "champion", mv.version)
    client.set_model_version_tag("bytes-model", mv.version, "ok", "yes")
    client.update_model_version("bytes-model", mv.version, "first")

    def meta(*parts):
        return yaml.safe_load((theirs_root.joinpath(*parts) / "meta.yaml").read_text())

    exp_meta = meta(exp_id)
    exp = ExperimentSpec(
        exp_id, "bytes", exp_meta["creation_time"], tags={"team": "ml", "nested/key": "x"}
    )
    folder = write_experiment(ours_root, exp)
    location = experiment_artifact_location(ours_root, exp_id)
    write_run(
        folder,
        exp_id,
        location,
        RunSpec(
            rid,
            "r-ok",
            t0,
            end_time=t0 + 10,
            status="FAILED",
            params={"alpha": "0.1", "group/beta": "x y"},
            tags={"k": "v", "mlflow.note.content": "# Title\n\nbody ü"},
            metrics={
                "loss/train": [(t0 + 1, 0.5, 0), (t0 + 2, math.nan, 1)],
                "acc": [(t0 + 3, 1.0, 0), (t0 + 4, math.inf, 7)],
            },
            inputs=[(dataset, {"mlflow.data.context": "training"})],
            outputs=[(lm.model_id, 3)],
        ),
    )
    write_logged_model(
        folder,
        exp_id,
        location,
        LoggedModelSpec(
            lm.model_id,
            "model",
            lm.creation_timestamp,
            lm.last_updated_timestamp,
            source_run_id=rid,
            params={"alpha": "0.1"},
            tags={"t": "1"},
        ),
    )
    write_run(folder, exp_id, location, RunSpec(running, "r-live", t0 + 20, status="RUNNING"))
    gone_meta = meta(exp_id, gone)
    write_run(
        folder,
        exp_id,
        location,
        RunSpec(
            gone,
            "r-gone",
            t0 + 30,
            end_time=t0 + 40,
            status="KILLED",
            lifecycle_stage="deleted",
            deleted_time=gone_meta["deleted_time"],
        ),
    )
    rm_meta = meta("models", "bytes-model")
    mv_meta = meta("models", "bytes-model", "version-1")
    write_registered_model(
        ours_root,
        RegisteredModelSpec(
            "bytes-model",
            rm_meta["creation_timestamp"],
            rm_meta["last_updated_timestamp"],
            description="d: ok",
            tags={"task": "t"},
            aliases={"champion": 1},
            versions=[
                ModelVersionSpec(
                    1,
                    mv_meta["creation_timestamp"],
                    mv_meta["last_updated_timestamp"],
                    source="file:///elsewhere/model",
                    run_id=rid,
                    current_stage="Staging",
                    description="first",
                    tags={"ok": "yes"},
                )
            ],
        ),
    )

    def files(root):
        return {
            p.relative_to(root): p.read_bytes().replace(os.fsencode(root), b"ROOT")
            for p in root.rglob("*")
            if p.is_file()
        }

    theirs = files(theirs_root)
    # MLflow's own Default experiment is not part of what we wrote.
    theirs = {k: v for k, v in theirs.items() if k.parts[0] != "0"}
    ours = files(ours_root)
    assert sorted(ours) == sorted(theirs)
    for rel in theirs:
        assert ours[rel].decode() == theirs[rel].decode(), rel
    dirs = {p.relative_to(theirs_root) for p in theirs_root.rglob("*") if p.is_dir()}
    dirs -= {Path("0"), Path(".trash")}
    assert {p.relative_to(ours_root) for p in ours_root.rglob("*") if p.is_dir()} == dirs
