"""Hostile files planted in a file store: FIFOs, links out of the store, alias bombs, huge files.

Each store is a copy of a fixture with one hostile file planted. The store is read in a child
process with a timeout and a memory cap, so that a hang or a runaway read fails the test
instead of hanging or exhausting the suite; the child reports what it read and its warnings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mltui.store.file.reader import FileStore
from tests.conftest import child_pythonpath, copy_fixture

REPO = Path(__file__).resolve().parents[1]
#: Generous: a clean read of the fixture takes well under a second.
CHILD_TIMEOUT = 120
#: Address-space cap of the child: a read of /dev/zero or an expanded alias bomb hits it.
CHILD_MEMORY = 2 << 30

_READ_IN_CHILD = textwrap.dedent(
    """
    import json, sys
    from mltui.store.file.reader import FileStore
    from tests.readings import reading_of
    store = FileStore(sys.argv[1], use_cache=False)
    reading = reading_of(store)
    print(json.dumps({"reading": reading, "warnings": store.warnings.messages}))
    """
)


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


def _child(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=child_pythonpath(), MLTUI_CACHE_DIR=str(tmp_path / "cache"))
    try:
        return subprocess.run(
            [sys.executable, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            preexec_fn=_limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading the store did not finish in {CHILD_TIMEOUT} s")


def _read_in_child(mlruns: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    """(reading_of the store, its warnings), read in a child process."""
    done = _child(["-c", _READ_IN_CHILD, str(mlruns)], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    return out["reading"], out["warnings"]


@pytest.fixture
def mlruns(tmp_path) -> Path:
    return copy_fixture("mlflow-3.17.2-file", tmp_path) / "mlruns"


def _run_dir(mlruns: Path, run_name: str) -> Path:
    store = FileStore(mlruns, use_cache=False)
    run = next(r for r in store.runs(include_deleted=True) if r.run_name == run_name)
    return next(mlruns.glob(f"*/{run.run_id}"))


def _run(reading: dict, run_dir: Path) -> dict | None:
    return next((r for r in reading["runs"] if r["run_id"] == run_dir.name), None)


def _warned(warnings: list[str], *parts: str) -> list[str]:
    return [m for m in warnings if all(p in m for p in parts)]


def _plant_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _plant_link(path: Path, target: str) -> None:
    path.unlink()
    path.symlink_to(target)


# -- FIFOs and links out of the store ----------------------------------------------------------
_SPOTS = {
    "param": ("params", "alpha"),
    "tag": ("tags", "sweep.index"),
    "metric": ("metrics", "rmse"),
}


@pytest.mark.parametrize("spot", sorted(_SPOTS))
@pytest.mark.parametrize(
    "plant, why",
    [
        (_plant_fifo, "a FIFO"),
        (lambda p: _plant_link(p, "/dev/zero"), "leading out of the store"),
        (lambda p: _plant_link(p, "/etc/passwd"), "leading out of the store"),
    ],
    ids=["fifo", "dev-zero", "etc-passwd"],
)
def test_hostile_value_file_is_skipped_and_named(mlruns, tmp_path, spot, plant, why):
    run_dir = _run_dir(mlruns, "sweep-1")
    folder, key = _SPOTS[spot]
    path = run_dir / folder / key
    plant(path)
    reading, warnings = _read_in_child(mlruns, tmp_path)
    run = _run(reading, run_dir)
    assert run is not None
    assert key not in run[folder]
    assert run[folder]  # the rest of the run's values are read
    assert "root:" not in json.dumps(reading)
    assert {"sweep-0", "sweep-2"} <= {r["run_name"] for r in reading["runs"]}
    assert len(_warned(warnings, str(path), why)) == 1, warnings


@pytest.mark.parametrize("plant", [_plant_fifo, lambda p: _plant_link(p, "/etc/passwd")])
def test_hostile_run_meta_skips_that_run(mlruns, tmp_path, plant):
    run_dir = _run_dir(mlruns, "sweep-1")
    plant(run_dir / "meta.yaml")
    reading, warnings = _read_in_child(mlruns, tmp_path)
    assert _run(reading, run_dir) is None
    assert {"sweep-0", "sweep-2"} <= {r["run_name"] for r in reading["runs"]}
    assert _warned(warnings, str(run_dir / "meta.yaml"), "run skipped")


def test_fifo_experiment_and_registry_meta_are_skipped(mlruns, tmp_path):
    exp_meta = _run_dir(mlruns, "parent").parent / "meta.yaml"
    model_meta = next((mlruns / "models").glob("*/meta.yaml"))
    _plant_fifo(exp_meta)
    _plant_fifo(model_meta)
    reading, warnings = _read_in_child(mlruns, tmp_path)
    assert "nested runs" not in {e["name"] for e in reading["experiments"]}
    assert "elasticnet-sweep" in {e["name"] for e in reading["experiments"]}
    assert _warned(warnings, str(exp_meta), "a FIFO")
    assert _warned(warnings, str(model_meta), "a FIFO")


def test_link_inside_the_store_is_still_followed(mlruns):
    run_dir = _run_dir(mlruns, "sweep-1")
    other = _run_dir(mlruns, "sweep-0") / "params" / "alpha"
    _plant_link(run_dir / "params" / "alpha", os.path.relpath(other, run_dir / "params"))
    store = FileStore(mlruns, use_cache=False)
    assert store.run(run_dir.name).params["alpha"] == other.read_text()
    assert not store.warnings.messages


def test_huge_param_file_is_skipped_and_named(mlruns, tmp_path):
    run_dir = _run_dir(mlruns, "sweep-1")
    path = run_dir / "params" / "alpha"
    with open(path, "r+b") as fh:
        fh.truncate(17 << 20)  # sparse: no disk written
    reading, warnings = _read_in_child(mlruns, tmp_path)
    run = _run(reading, run_dir)
    assert "alpha" not in run["params"] and "l1_ratio" in run["params"]
    assert _warned(warnings, str(path), "read at most")


def test_export_never_prints_a_linked_file_of_the_machine(mlruns, tmp_path):
    run_dir = _run_dir(mlruns, "sweep-1")
    path = run_dir / "tags" / "sweep.index"
    _plant_link(path, "/etc/passwd")
    done = _child(["-m", "mltui.tui.cli", "export", str(mlruns), "--all", "--history"], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "root:" not in done.stdout
    assert "sweep-2" in done.stdout
    assert str(path) in done.stderr and "leading out of the store" in done.stderr


# -- YAML alias bombs and non-scalar values ----------------------------------------------------
def _alias_bomb(last_key: str, depth: int = 9) -> str:
    """A few hundred bytes that expand to 9**depth strings: anchors nested `depth` deep."""
    lines = ["a0: &a0 [" + ",".join(['"lol"'] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, depth)]
    return "\n".join(lines) + f"\n{last_key}: *a{depth - 1}\n"


def test_alias_bombs_in_meta_files_are_refused(mlruns, tmp_path):
    run_dir = _run_dir(mlruns, "sweep-1")
    run_meta = run_dir / "meta.yaml"
    run_meta.write_text(
        run_meta.read_text().replace("run_name:", "old_run_name:") + _alias_bomb("run_name")
    )
    exp_meta = _run_dir(mlruns, "parent").parent / "meta.yaml"
    exp_meta.write_text(exp_meta.read_text().replace("name:", "old_name:") + _alias_bomb("name"))
    model_meta = next((mlruns / "models").glob("*/meta.yaml"))
    model_meta.write_text(model_meta.read_text() + _alias_bomb("bomb"))
    reading, warnings = _read_in_child(mlruns, tmp_path)
    assert _run(reading, run_dir) is None
    assert {"sweep-0", "sweep-2"} <= {r["run_name"] for r in reading["runs"]}
    for path in (run_meta, exp_meta, model_meta):
        assert _warned(warnings, str(path), "alias bomb"), warnings


def test_alias_bomb_mlmodel_is_refused(mlruns, tmp_path):
    mlmodel = next(mlruns.glob("**/MLmodel"))
    mlmodel.write_text(mlmodel.read_text() + _alias_bomb("bomb"))
    code = "import sys; from store.mlmodel import read_mlmodel; read_mlmodel(sys.argv[1])"
    done = _child(["-c", code, str(mlmodel)], tmp_path)
    assert "MLmodelError" in done.stderr and "alias bomb" in done.stderr, done.stderr[-2000:]


def test_list_where_a_scalar_belongs_is_left_out_and_named(mlruns):
    run_dir = _run_dir(mlruns, "sweep-1")
    meta = run_dir / "meta.yaml"
    # Aliases are fine while they stay small: the list is just not taken as the run's name.
    lines = [line for line in meta.read_text().splitlines() if not line.startswith("run_name:")]
    meta.write_text("\n".join([*lines, "x: &x [a, b]", "run_name: *x", ""]))
    store = FileStore(mlruns, use_cache=False)
    run = store.run(run_dir.name)
    assert run is not None and run.run_name == run.tags.get("mlflow.runName", "")
    assert _warned(store.warnings.messages, str(meta), "run_name", "not a single value")
