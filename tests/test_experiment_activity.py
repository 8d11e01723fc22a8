"""Run counts and last activity per experiment (the experiments screen) agree with MLflow."""

from __future__ import annotations

import json

import pytest

from mltui.store import open_store
from tests.conftest import FIXTURE_STORES, copy_fixture, store_path


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=[p.name for p in FIXTURE_STORES])
def test_counts_and_last_activity_match_mlflows_reading(fixture):
    reading = json.loads((fixture / "expected.json").read_text(encoding="utf-8"))
    active_exps = {
        e["experiment_id"] for e in reading["experiments"] if e["lifecycle_stage"] == "active"
    }
    store = open_store(store_path(fixture))
    # (deleted experiments, deleted runs): the experiments screen asks for (True, False).
    for include_deleted, deleted_runs in ((True, None), (False, None), (True, False)):
        count_deleted = include_deleted if deleted_runs is None else deleted_runs
        want: dict[str, tuple[int, int | None]] = {}
        for run in reading["runs"]:
            if not count_deleted and run["lifecycle_stage"] != "active":
                continue
            if not include_deleted and run["experiment_id"] not in active_exps:
                continue
            count, last = want.get(run["experiment_id"], (0, None))
            times = [t for t in (last, run["start_time"], run["end_time"]) if t is not None]
            want[run["experiment_id"]] = (count + 1, max(times) if times else None)
        got = store.experiment_activity(include_deleted=include_deleted, deleted_runs=deleted_runs)
        assert got == want


def test_file_store_counts_from_meta_yaml_agree_with_a_full_read_of_a_damaged_store(tmp_path):
    """The file store counts from meta.yaml alone; it must skip exactly the runs a full read
    skips: an empty meta.yaml, malformed YAML, a run filed under the wrong experiment."""
    from mltui.store.base import Store
    from mltui.store.file.reader import FileStore

    mlruns = copy_fixture("mlflow-3.17.2-file", tmp_path) / "mlruns"
    metas = sorted(mlruns.glob("[0-9]*/*/meta.yaml"))
    assert len(metas) >= 4
    metas[0].write_text("")
    metas[1].write_text("run_id: [unclosed\n")
    text = metas[2].read_text()
    exp_id = metas[2].parent.parent.name
    metas[2].write_text(text.replace(f"experiment_id: '{exp_id}'", "experiment_id: '999'"))
    assert metas[2].read_text() != text
    (metas[3].parent.parent / "not-a-run").mkdir()  # a stray folder, no meta.yaml

    for include_deleted, deleted_runs in ((True, None), (False, None), (True, False)):
        store = FileStore(mlruns, use_cache=False)
        light = store.experiment_activity(include_deleted, deleted_runs)
        full = Store.experiment_activity(
            FileStore(mlruns, use_cache=False), include_deleted, deleted_runs
        )
        assert light == full
        assert store.warnings  # the damaged runs were warned about, not silently dropped
