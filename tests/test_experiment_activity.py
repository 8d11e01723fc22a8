"""Run counts and last activity per experiment (the experiments screen) agree with MLflow."""

from __future__ import annotations

import json

import pytest

from store import open_store
from tests.conftest import FIXTURE_STORES, store_path


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=[p.name for p in FIXTURE_STORES])
def test_counts_and_last_activity_match_mlflows_reading(fixture):
    reading = json.loads((fixture / "expected.json").read_text(encoding="utf-8"))
    active_exps = {
        e["experiment_id"] for e in reading["experiments"] if e["lifecycle_stage"] == "active"
    }
    store = open_store(store_path(fixture))
    for include_deleted in (True, False):
        want: dict[str, tuple[int, int | None]] = {}
        for run in reading["runs"]:
            if not include_deleted and (
                run["lifecycle_stage"] != "active" or run["experiment_id"] not in active_exps
            ):
                continue
            count, last = want.get(run["experiment_id"], (0, None))
            times = [t for t in (last, run["start_time"], run["end_time"]) if t is not None]
            want[run["experiment_id"]] = (count + 1, max(times) if times else None)
        assert store.experiment_activity(include_deleted=include_deleted) == want
