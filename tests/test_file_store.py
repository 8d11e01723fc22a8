"""FileStore reads every fixture file store exactly as MlflowClient read it (expected.json)."""

from __future__ import annotations

import gc
import math
import os
import random
import re
import shutil
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

from mltui.store import yamlfast
from mltui.store.errors import NotAStoreError
from mltui.store.file import metrics
from mltui.store.file.metrics import (
    _latest_by_lines,
    _latest_of_mlflow_lines,
    latest_point,
    latest_point_of_file,
)
from mltui.store.file.reader import FileStore
from tests.conftest import FIXTURE_STORES, copy_fixture, expected_reading
from tests.readings import assert_same_reading as check_reading

FILE_FIXTURES = [p for p in FIXTURE_STORES if not (p / "mlflow.db").is_file()]


def assert_same_reading(store: FileStore, fixture_dir: Path) -> None:
    check_reading(store, expected_reading(fixture_dir))


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))


def test_there_are_file_fixtures():
    versions = {p.name.split("-")[1].split(".")[0] for p in FILE_FIXTURES}
    assert {"1", "2", "3"} <= versions, FILE_FIXTURES


@pytest.mark.parametrize("fixture_dir", FILE_FIXTURES, ids=[p.name for p in FILE_FIXTURES])
def test_reading_matches_mlflow(fixture_dir):
    store = FileStore(fixture_dir / "mlruns", use_cache=False)
    assert_same_reading(store, fixture_dir)
    assert store.warnings.messages == []


@pytest.mark.parametrize("fixture_dir", FILE_FIXTURES, ids=[p.name for p in FILE_FIXTURES])
def test_reading_through_the_cache_matches_mlflow(fixture_dir, monkeypatch):
    # The fixtures are small; force the cache on to check that cached records read the same.
    monkeypatch.setattr("mltui.store.file.runs.CACHE_MIN_RUNS", 1)
    monkeypatch.setattr("mltui.store.file.scan_cache.RACY_NS", 0)
    FileStore(fixture_dir / "mlruns").runs(include_deleted=True)  # fills the cache
    store = FileStore(fixture_dir / "mlruns")
    assert_same_reading(store, fixture_dir)


def test_fresh_store_written_by_installed_mlflow(fresh_mlflow_stores):
    fixture_dir = fresh_mlflow_stores["file"]
    store = FileStore(fixture_dir / "mlruns", use_cache=False)
    assert_same_reading(store, fixture_dir)


def _store(version: str) -> FileStore:
    found = [p for p in FILE_FIXTURES if p.name.startswith(f"mlflow-{version}")]
    if not found:
        pytest.skip(f"no MLflow {version} file fixture")
    return FileStore(found[-1] / "mlruns", use_cache=False)


def test_deleted_things_only_when_asked():
    store = _store("3")
    active = {e.name for e in store.experiments()}
    everything = {e.name for e in store.experiments(include_deleted=True)}
    assert "deleted experiment" not in active
    assert everything - active == {"deleted experiment"}
    names = {r.run_name for r in store.runs()}
    assert "deleted-run" not in names and "old-finished" not in names
    all_names = {r.run_name for r in store.runs(include_deleted=True)}
    assert {"deleted-run", "old-finished", "old-failed"} <= all_names
    # Asking for a deleted experiment by id gives its runs (all deleted) only with deleted ones.
    gone = store.experiment_by_name_or_id("deleted experiment")
    assert store.runs([gone.experiment_id]) == []
    assert {r.run_name for r in store.runs([gone.experiment_id], include_deleted=True)} == {
        "old-finished",
        "old-failed",
    }


def test_mlflow1_trash_experiment_is_deleted():
    # MLflow 1.x leaves lifecycle_stage: active in the moved meta.yaml; .trash means deleted.
    store = _store("1.")
    gone = store.experiment_by_name_or_id("deleted experiment")
    assert gone is not None and gone.lifecycle_stage == "deleted"


def test_run_by_id_and_unknown_ids():
    store = _store("3")
    some = store.runs()[0]
    full = store.run(some.run_id)
    assert full is not None and full.inputs is not None and full.outputs is not None
    assert store.run("0" * 32) is None
    assert store.run("../../etc") is None
    assert store.metric_history(some.run_id, "../meta.yaml") == []
    assert store.metric_history(some.run_id, "no-such-metric") == []
    assert store.model_versions("../models") == []


@pytest.mark.parametrize("fixture_dir", FILE_FIXTURES, ids=[p.name for p in FILE_FIXTURES])
def test_dataset_inputs_alone_are_the_full_runs_inputs(fixture_dir):
    """`dataset_inputs` reads only the inputs folders; they must be what `run()` reads (which
    test_reading_matches_mlflow compares with MLflow's reading)."""
    store = FileStore(fixture_dir / "mlruns", use_cache=False)
    ids = [r.run_id for r in store.runs(include_deleted=True)]
    assert store.dataset_inputs([*ids, "0" * 32, "../x"]) == {i: store.run(i).inputs for i in ids}


def test_latest_is_not_the_last_line_and_history_keeps_file_order():
    store = _store("3")
    run = next(r for r in store.runs() if r.run_name == "[bold]x[/bold]")
    assert run.metrics["out_of_order"].value == 0.5  # step 3 beats the later step 1 line
    assert run.metrics["tie"].value == 0.7  # equal step and time: the greater value
    assert run.metrics["repeat"].value == 1.6
    assert math.isnan(run.metrics["nan_last"].value)
    history = store.metric_history(run.run_id, "out_of_order")
    assert [(m.step, m.value) for m in history] == [(3, 1.0), (3, 0.5), (1, 9.0), (2, 2.0)]
    assert len(store.metric_history(run.run_id, "repeat")) == 4  # the duplicate line is kept


def test_keys_with_slashes_are_walked():
    store = _store("2")
    run = next(r for r in store.runs() if r.run_name == "sweep-0")
    assert {"loss/train", "loss/val"} <= set(run.metrics)
    assert len(store.metric_history(run.run_id, "loss/train")) == 40


def test_iter_runs_hands_over_batches(tmp_path, monkeypatch):
    monkeypatch.setattr("mltui.store.file.runs.BATCH_SIZE", 3)
    monkeypatch.setattr("mltui.store.file.runs.FIRST_BATCH", 2)
    fixture = copy_fixture(_store("3").location.parent.name, tmp_path)
    batches = list(FileStore(fixture / "mlruns", use_cache=False).iter_runs(include_deleted=True))
    assert len(batches) > 2
    assert len(batches[0]) == 2  # a screenful first
    assert all(len(b) <= 3 for b in batches)
    ids = [r.run_id for b in batches for r in b]
    assert len(ids) == len(set(ids)) == len(expected_reading(fixture)["runs"])


def test_iter_runs_hands_over_a_batch_when_reading_is_slow(tmp_path, monkeypatch):
    """Runs slow to read (long metric files) come as read, not once a batch is full."""
    monkeypatch.setattr("mltui.store.file.runs.BATCH_SECONDS", 0.0)
    fixture = copy_fixture(_store("3").location.parent.name, tmp_path)
    batches = list(FileStore(fixture / "mlruns", use_cache=False).iter_runs(include_deleted=True))
    assert [len(b) for b in batches] == [1] * len(expected_reading(fixture)["runs"])


def test_registry_latest_versions_and_hidden_deleted_version():
    store = _store("3")
    wine = next(m for m in store.registered_models() if m.name == "wine-classifier")
    assert {(v.current_stage, v.version) for v in wine.latest_versions} == {
        ("Archived", "1"),
        ("Production", "2"),
        ("Staging", "4"),
        ("None", "5"),
    }
    versions = store.model_versions("wine-classifier")
    assert [v.version for v in versions] == ["5", "4", "2", "1"]  # 3 deleted, newest first
    assert wine.aliases == {"champion": "2", "challenger": "4"}
    assert next(v for v in versions if v.version == "2").aliases == ["champion"]


def test_run_folder_without_metrics_params_artifacts_is_shown(tmp_path):
    # MLflow 3.12+ hides such runs; git drops empty folders, so we show them.
    fixture = copy_fixture(_store("3").location.parent.name, tmp_path)
    store = FileStore(fixture / "mlruns", use_cache=False)
    run = next(r for r in store.runs() if r.run_name == "sweep-0")
    run_dir = next((fixture / "mlruns").glob(f"*/{run.run_id}"))
    shutil.rmtree(run_dir / "artifacts")
    shutil.rmtree(run_dir / "params")
    again = FileStore(fixture / "mlruns", use_cache=False).run(run.run_id)
    assert again is not None and again.params == {} and again.metrics.keys() == run.metrics.keys()


def test_not_a_store(tmp_path):
    with pytest.raises(NotAStoreError):
        FileStore(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hi")
    (tmp_path / "plain" / "sub").mkdir()
    with pytest.raises(NotAStoreError):
        FileStore(tmp_path / "plain")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotAStoreError):
        FileStore(tmp_path / "file")


# -- the latest-point rule ------------------------------------------------------------------
def _mlflow_latest(lines: list[str]):
    """MLflow's rule, written out: max over (step, timestamp, value) tuples, first one wins."""
    points = []
    for line in lines:
        parts = line.strip().split(" ")
        step = int(parts[2]) if len(parts) == 3 else 0
        points.append((step, int(parts[0]), float(parts[1])))
    return max(points, key=lambda p: p)


@pytest.mark.parametrize(
    "lines",
    [
        ["1 0.5 0"],
        ["5 0.5 3", "6 0.1 1"],
        ["5 0.5 3", "5 0.7 3"],
        ["5 nan 3", "5 0.7 3"],
        ["5 0.7 3", "5 nan 3"],
        ["5 inf 3", "5 -inf 3", "5 1.0 2"],
        ["10 1.0", "5 2.0"],  # legacy two-field lines: step 0
        ["1 1.0 0", "2 nan 1"],
        ["3 0.0 1", "3 -0.0 1"],
        ["7 1.0 -2", "7 2.0 -3"],
        ["1 1 1", "1 1 1"],
        ["9 1.5 " + str(10**12), "9 1.0 2"],
        ["1 0.1 0", "2 0.2 1", "3 0.3 2"],
        ["1 0.1 2", "2 0.2 2", "3 0.3 1"],  # tied steps: the later timestamp
        ["4 0.1 2", "4 nan 2", "1 0.3 1"],  # tied step and time: NaN never wins
        ["4 nan 2", "4 0.1 2", "1 0.3 1"],  # ...nor loses to a later line
    ],
)
def test_latest_point_follows_mlflow(lines):
    data = ("\n".join(lines) + "\n").encode()
    point, bad = latest_point(data)
    expected = _mlflow_latest(lines)
    assert bad == 0
    assert point[:2] == expected[:2]
    assert repr(point[2]) == repr(expected[2])  # nan and -0.0 compared by their spelling


def test_latest_point_skips_partial_and_garbage_lines():
    assert latest_point(b"1 0.5 0\n2 0.9 1\n3 0.") == ((1, 2, 0.9), 0)
    assert latest_point(b"1 0.5 0\nbanana\n2 x 1\n") == ((0, 1, 0.5), 2)
    # A bad value on a line that is not the latest still counts (the fast path checks all).
    assert latest_point(b"1 0.5 0\n2 abc 1\n3 0.1 5\n") == ((5, 3, 0.1), 1)
    assert latest_point(b"3 0.") == (None, 0)
    assert latest_point(b"") == (None, 0)
    # 3.x points logged with a dataset keep their step here (MLflow reads them as step 0).
    assert latest_point(b"1 0.5 4 train abc123\n2 0.2 1\n") == ((4, 1, 0.5), 0)


#: Field spellings int() or float() may take or refuse: signs, underscores, other blanks
#: around a field, an empty field, non-ASCII digits, special floats.
_FIELDS = [
    b"0",
    b"7",
    b"-3",
    b"+5",
    b"1_000",
    b"12",
    b"99999",
    b"1735689660020",
    b"\t4",
    b"4\r",
    b"",
    b"x",
    b"1.5",
    b"-0",
    b"-0.0",
    b"nan",
    b"inf",
    b"-inf",
    b"1e5",
    b"0x10",
    b"\xd9\xa3",
    b"2\x0c",
    b"\x0b3",
    b"9" * 25,
]


def test_latest_point_whole_file_path_reads_as_line_by_line():
    """The columns-at-once path finds what parsing each line on its own finds, bad lines too."""
    rng = random.Random(5)
    for _ in range(3000):
        lines = [
            b" ".join(rng.choice(_FIELDS) for _ in range(rng.choice((3, 3, 3, 2, 5))))
            for _ in range(rng.randint(1, 6))
        ]
        body = b"\n".join(lines) + b"\n"
        got, expected = latest_point(body), _latest_by_lines(body)
        assert got[1] == expected[1], body
        assert repr(got[0]) == repr(expected[0]), body  # nan and -0.0 by their spelling


def _latest_streamed(path: Path) -> tuple:
    fd = os.open(path, os.O_RDONLY)
    try:
        return latest_point_of_file(os.read(fd, metrics.CHUNK), fd, path.stat().st_size)
    finally:
        os.close(fd)


def _assert_streamed_as(path: Path, body: bytes, expected: tuple, monkeypatch, block: int) -> None:
    """`body`, written to `path` and read in blocks of `block` bytes, gives `expected` (the
    latest point, compared by its spelling as nan and -0.0 have one, and the bad lines)."""
    monkeypatch.setattr("mltui.store.file.metrics.STREAM_BLOCK", block)
    path.write_bytes(body)
    point, bad, _ = _latest_streamed(path)
    assert (bad, repr(point)) == (expected[1], repr(expected[0])), body


def test_latest_point_read_in_blocks_is_that_of_the_whole_file(tmp_path, monkeypatch):
    """Cut into blocks anywhere (inside lines, between NaN ties), the answer is the same."""
    monkeypatch.setattr("mltui.store.file.metrics.CHUNK", 16)
    rng = random.Random(7)
    path = tmp_path / "metric"
    for _ in range(400):
        block = rng.choice((16, 23, 40, 64))
        lines = [
            b" ".join(rng.choice(_FIELDS) for _ in range(rng.choice((3, 3, 3, 2, 5))))
            for _ in range(rng.randint(1, 30))
        ]
        body = b"\n".join(lines) + rng.choice((b"\n", b"", b"\n12 0."))
        _assert_streamed_as(path, body, latest_point(body), monkeypatch, block)


#: Values as MLflow spells them (repr of a float), and spellings near them that float() may
#: take or refuse; a damaged line.
_MLFLOW_VALUES = [0.0, -0.0, 1.0, 0.1, -2.5, 1e-05, -3.2e-07, 1.5e20, 2.0, 123456.789]
_ODD_VALUES = [b"nan", b"inf", b"-inf", b"NaN", b"5", b"-5", b".5", b"5.", b"-.5", b".", b"-"]
_ODD_VALUES += [b"e-5", b"5e-", b"1e5", b"1.2.3", b"5-3.2", b"+1.5", b"1_0.5", b"--1.0", b"x"]
_ODD_LINES = [b"", b"12 0.5", b"12 0.5 3 train d1", b"12  0.5 3", b" 12 0.5 3", b"12 0.5 3 "]
_ODD_LINES += [b"12 0.5 -", b"12 0.5 +3", b"12 0.5 -3", b"-12 0.5 3", b"1" * 19 + b" 0.5 3"]
_ODD_LINES += [b"12 0.5 " + b"9" * 19, b"12 0.5 3\r", b"12\t0.5 3", b"012 0.5 03", b"1234 0.25"]
_ODD_LINES += [b"1x 0.5 3", b"1.5 0.5 3", b"12 0.5 x", b"12 0.5 1e3", b"+12 0.5 3", b"1_2 0.5 3_0"]


def _mlflow_like_lines(rng: random.Random) -> list[bytes]:
    """A metric file as MLflow writes one (steps in order, repeated, shuffled or all 0; ties
    on time), sometimes with an odd spelling or a damaged line somewhere."""
    n = rng.randint(2, 60)
    order = rng.choice(("increasing", "repeated", "shuffled", "zero"))
    steps = list(range(n)) if order != "zero" else [0] * n
    if order == "repeated":
        steps = sorted(rng.randrange(n // 2 + 1) for _ in range(n))
    elif order == "shuffled":
        rng.shuffle(steps)
    lines = []
    for i, step in enumerate(steps):
        ts = 1735689600000 + rng.choice((i, i // 3, 0))
        value = rng.choice((rng.random(), rng.random() * 1e-6, -rng.random(), *_MLFLOW_VALUES))
        lines.append(f"{ts} {value!r} {step}".encode())
    for _ in range(rng.choice((0, 0, 0, 1, 2))):
        i = rng.randrange(n)
        parts = lines[i].split(b" ")
        if rng.random() < 0.5 and len(parts) == 3:
            lines[i] = b" ".join((parts[0], rng.choice(_ODD_VALUES), parts[2]))
        else:
            lines[i] = rng.choice(_ODD_LINES)
    return lines


@pytest.mark.parametrize("guess_from", [0, 1 << 30])  # by guessing the step, or not
def test_latest_point_fast_path_reads_as_line_by_line(tmp_path, monkeypatch, guess_from):
    """MLflow-like files, clean (read by `_latest_by_guess` or `_latest_of_mlflow_lines`),
    with NaN/inf or odd spellings and damaged lines (read as before): the latest point and the
    count of bad lines are those of parsing each line on its own, whole or read in blocks cut
    anywhere."""
    rng = random.Random(13)
    monkeypatch.setattr("mltui.store.file.metrics.CHUNK", 16)
    monkeypatch.setattr("mltui.store.file.metrics.GUESS_MIN_BYTES", guess_from)
    path = tmp_path / "metric"
    fast = 0
    for _ in range(600):
        body = b"\n".join(_mlflow_like_lines(rng)) + b"\n"
        expected = _latest_by_lines(body)
        fast += _latest_of_mlflow_lines(body, body.count(b"\n"), None) is not None
        got = latest_point(body)
        assert got[1] == expected[1], body
        assert repr(got[0]) == repr(expected[0]), body  # nan and -0.0 by their spelling
        _assert_streamed_as(path, body, expected, monkeypatch, rng.choice((40, 64, 200)))
    assert 250 < fast < 550  # both paths were taken, many times


def _guess_attacking_lines(rng: random.Random) -> list[bytes]:
    """Lines in MLflow's spelling whose greatest (step, time) a guess from the last line
    misses: steps shuffled, the greatest first, rising to a smallest last line, negative, near
    10**18, all one step (times rising, shuffled, falling, the latest first; ties on time with
    other values, -0.0 against 0.0, NaN at the greatest step), and steps or times int() reads
    that the guess leaves to the other paths (007, -0, -5, 19 digits)."""
    n = rng.randint(1, 90)
    order = rng.choice(("shuffled", "greatest first", "rising", "negative", "huge", "tied"))
    steps = [rng.randrange(-3, 40) for _ in range(n)]
    if order == "greatest first":
        steps[0] = max(steps) + rng.choice((0, 1, 10**6))
    elif order == "rising":
        steps = [*range(1, n), -1]
    elif order == "negative":
        steps = [rng.randrange(-(10 ** rng.randint(1, 18)) + 1, 0) for _ in range(n)]
    elif order == "huge":
        steps = [rng.choice((10**18 - 1, 10**17, 99 * 10**16, -(10**18) + 1, 0)) for _ in range(n)]
    elif order == "tied":
        steps = [rng.choice((7, 7, 7, 6))] * n
    times = rng.choice((range(n), range(n, 0, -1), [n, *range(n - 1)], [0, 1] * n))
    times = rng.sample(times, n) if rng.random() < 0.2 else list(times)
    lines = []
    for i, step in enumerate(steps):
        ts = rng.choice((1735689600000, 0, 5)) + rng.choice((times[i], times[i], 0))
        value = rng.choice((0.0, -0.0, 1.0, 0.5, -2.5, 1e-05, 2.0e20, rng.random()))
        lines.append(f"{ts} {value!r} {step}".encode())
    for _ in range(rng.choice((0, 0, 1))):
        i = rng.randrange(n)
        ts, value, step = lines[i].split(b" ")
        odd = (b"nan", b"007", b"-0", b"9" * 19, b"-" + b"9" * 19, b"00", b"+3")
        if rng.random() < 0.3:
            lines[i] = b" ".join((ts, b"nan", step))
        elif rng.random() < 0.4:
            lines[i] = b" ".join((rng.choice((b"012", b"-5", b"00", b"9" * 19)), value, step))
        else:
            lines[i] = b" ".join((ts, value, rng.choice(odd)))
    return lines


@pytest.mark.parametrize("max_ties", [2, 64])  # lines at one step matched by time, or not
def test_latest_point_by_guess_finds_what_line_by_line_finds(tmp_path, monkeypatch, max_ties):
    """The greatest (step, time) guessed wrong, ties at it, NaN or odd steps or times: the
    answer (and count of bad lines) is that of parsing each line, whole and read in blocks (a
    greater `best`)."""
    rng = random.Random(29)
    monkeypatch.setattr("mltui.store.file.metrics.CHUNK", 16)
    monkeypatch.setattr("mltui.store.file.metrics.GUESS_MIN_BYTES", 0)
    monkeypatch.setattr("mltui.store.file.metrics._MAX_TIES", max_ties)
    path = tmp_path / "metric"
    guessed = 0
    for _ in range(1500):
        body = b"\n".join(_guess_attacking_lines(rng)) + b"\n"
        expected = _latest_by_lines(body)
        guessed += metrics._latest_by_guess(body, None) is not None
        got = latest_point(body)
        assert (got[1], repr(got[0])) == (expected[1], repr(expected[0])), body
        _assert_streamed_as(path, body, expected, monkeypatch, rng.choice((40, 64, 300)))
    assert 400 < guessed < 1200  # the guess was taken, and refused, many times


@pytest.mark.parametrize(
    "n",
    [0, 1, 5, 8, 9, 10, 19, 20, 89, 99, 100, 101, 4980, 70000, 10**17 - 1, 10**18 - 1, 2**63 - 1],
)
def test_step_regex_takes_the_steps_up_to_n(n):
    """`_at_most(n)` (and its negative) against int comparison, at every boundary near n; no
    step of more than 18 digits (`_STEP`'s, which fit 64 bits)."""
    for bound in (n, -n):
        pattern = re.compile(b"(?:" + metrics._at_most(bound) + b")\n")
        near = {bound + d for d in range(-12, 13)} | {0, 1, -1, 10**18 - 1, 1 - 10**18}
        near |= {bound * 10, bound // 10, 10 ** len(str(abs(bound))), -(10 ** len(str(bound)))}
        for step in near:
            taken = pattern.fullmatch(b"%d\n" % step) is not None
            assert taken == (step <= bound and abs(step) < 10**18), (bound, step)


#: Numbers near the widths `_Columns` reads in 8-byte words (8, 16, 18 digits; 19 is refused),
#: spelled with leading zeros too (the same number as without).
_WIDE = [9, 10**7, 10**8 - 1, 10**8, 10**15, 10**16 - 1, 10**16, 10**17, 10**18 - 1, 10**18]
#: Values that put a sign, point or exponent where `_VALUE` has none, or leave a number
#: without digits; and lines in other spellings.
_BAD_MARKS = [b"5-.3", b"1e-5.3", b"1e+5e+3", b"1.2.3", b"-", b"1e5", b"1.e5", b".e5", b"--1"]
_BAD_MARKS += [b"1-", b"+1", b"1e-", b"e+5", b"-1.", b"1.-5", b"nan", b"inf", b"-inf", b"1_0.5"]
_BAD_MARKS += [b"5-3", b"1e5-3", b"2.5+1"]


def _columns_attacking_lines(rng: random.Random) -> list[bytes]:
    """Lines in MLflow's spelling that `_Columns` reads, ordered to hide the greatest (step,
    time) (steps rising with a few out of order, the greatest first, all one step with times
    rising, falling, shuffled or tied, with other values, -0.0 against 0.0), numbers of 1-19
    digits and leading zeros; sometimes a negative step, NaN/inf at the greatest step, a
    misplaced sign or point, CRLF or another damaged line, which it must refuse."""
    n = rng.randint(1, 80)
    order = rng.choice(("rising", "greatest first", "one step", "shuffled", "wide"))
    steps = list(range(n))
    if order == "rising":
        for _ in range(rng.randint(0, 3)):
            steps[rng.randrange(n)] = rng.randrange(n)
    elif order == "greatest first":
        steps[0] = n + rng.choice((0, 1, 10**6))
    elif order == "one step":
        steps = [rng.choice((0, 0, 7, 10**8))] * n
    elif order == "shuffled":
        rng.shuffle(steps)
    else:
        steps = [rng.choice(_WIDE) + rng.choice((0, 0, 1)) for _ in range(n)]
    base = rng.choice((1735689600000, 0, 5, *_WIDE))
    times = rng.choice((range(n), range(n, 0, -1), [n, *range(n - 1)], [0] * n, [0, 1] * n))
    times = rng.sample(list(times), n) if rng.random() < 0.2 else list(times)
    lines = []
    for i, step in enumerate(steps):
        value = rng.choice((0.0, -0.0, 1.0, 0.5, -2.5, 1e-05, -2.0e20, 1e16, rng.random()))
        stamp, step_text = b"%d" % (base + times[i]), b"%d" % step
        if rng.random() < 0.05:  # leading zeros: the same number
            stamp, step_text = b"00" + stamp, b"0" + step_text
        lines.append(b"%s %s %s" % (stamp, repr(value).encode(), step_text))
    for _ in range(rng.choice((0, 0, 0, 1, 2))):
        i = rng.choice((rng.randrange(n), steps.index(max(steps))))
        if len(lines[i].split(b" ")) != 3:
            continue  # damaged already
        stamp, value, step = lines[i].split(b" ")
        damage = rng.randrange(6)
        if damage == 5:  # no timestamp, often on the first line
            lines[rng.choice((i, 0))] = b" ".join((b"", value, step))
        elif damage == 0:
            lines[i] = b" ".join((stamp, value, b"-" + step))
        elif damage == 1:
            lines[i] = b" ".join((stamp, rng.choice(_BAD_MARKS), step))
        elif damage == 2:
            lines[i] = b" ".join((stamp, value, step + b"\r"))
        elif damage == 3:
            lines[i] = b" ".join((b"1" * rng.choice((18, 19)), value, b"2" * rng.choice((18, 19))))
        else:
            lines[i] = rng.choice(_ODD_LINES)
    return lines


def _latest_by_columns(body: bytes, best: tuple | None) -> tuple | None:
    """`_Columns.latest` of `body` read into a buffer, after bytes that are not a line."""
    np = pytest.importorskip("numpy")
    buffer = bytearray(b"9 -" * 20 + body)
    return metrics._Columns(np, buffer).latest(60, len(buffer), best)


#: The lines `_Columns` reads: `_LINE` with steps of 1-18 digits, leading zeros allowed.
_COLUMNS_LINE = re.compile(rb"[0-9]{1,18} -?[0-9]+(?:\.[0-9]+)?(?:e[-+][0-9]+)? [0-9]{1,18}")


def test_latest_point_by_columns_reads_as_line_by_line():
    """`_Columns` takes a block exactly when all its lines are spelled as `_COLUMNS_LINE`, and
    reads it as parsing each line on its own (no line bad, the same greatest point after the
    same `best`)."""
    rng = random.Random(31)
    taken = 0
    for _ in range(3000):
        lines = _columns_attacking_lines(rng)
        body = b"\n".join(lines) + b"\n"
        best = rng.choice((None, None, (0, 0, 0.5), (7, 10, -1.0), (10**8, 5, 0.0)))
        got = _latest_by_columns(body, best)
        assert (got is not None) == all(map(_COLUMNS_LINE.fullmatch, lines)), body
        if got is not None:
            taken += 1
            expected = _latest_by_lines(body, best)
            assert (0, repr(got)) == (expected[1], repr(expected[0])), (body, best)
    assert 800 < taken < 2200  # taken, and refused, many times


@pytest.mark.parametrize("numpy", [True, False])
def test_long_file_read_by_columns_reads_as_line_by_line(tmp_path, monkeypatch, numpy):
    """A file read in blocks cut anywhere, by `_Columns` (or without numpy): the latest point
    and the count of bad lines are those of parsing each line on its own."""
    rng = random.Random(37)
    monkeypatch.setattr("mltui.store.file.metrics.CHUNK", 16)
    monkeypatch.setattr("mltui.store.file.metrics.COLUMNS_MIN_SIZE", 0)
    if not numpy:
        monkeypatch.setattr("mltui.store.file.metrics._numpy", lambda: None)
    path = tmp_path / "metric"
    for _ in range(400):
        body = b"\n".join(_columns_attacking_lines(rng)) + rng.choice((b"\n", b"", b"\n12 0."))
        expected = _latest_by_lines(metrics.complete_lines(body))
        _assert_streamed_as(path, body, expected, monkeypatch, rng.choice((40, 64, 300)))


def test_overlong_metric_line_is_one_bad_line(tmp_path, monkeypatch):
    monkeypatch.setattr("mltui.store.file.metrics.CHUNK", 16)
    monkeypatch.setattr("mltui.store.file.metrics.STREAM_BLOCK", 32)
    monkeypatch.setattr("mltui.store.file.metrics.MAX_LINE", 100)
    path = tmp_path / "metric"
    path.write_bytes(b"1 0.5 0\n" + b"9" * 1000 + b" 1 1\n2 0.7 1\n" + b"3" * 500)
    assert _latest_streamed(path) == ((1, 2, 0.7), 1, False)


def test_long_metric_file_is_listed_in_bounded_memory(tmp_path, monkeypatch):
    """A run's latest point of a long history takes a few blocks of memory, not the file's."""
    monkeypatch.setattr("mltui.store.file.metrics.STREAM_BLOCK", 256 << 10)
    mlruns = copy_fixture("mlflow-3.17.2-file", tmp_path) / "mlruns"
    store = FileStore(mlruns, use_cache=False)
    run = next(r for r in store.runs() if r.run_name == "sweep-1")
    path = next(mlruns.glob(f"*/{run.run_id}/metrics")) / "long"
    lines = (f"{1735689660000 + i} {i / 7!r} {i}\n" for i in range(300_000))
    path.write_text("".join(lines))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        run = FileStore(mlruns, use_cache=False).run(run.run_id)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.metrics["long"].step == 299_999
    assert run.metrics["long"].value == 299_999 / 7
    assert peak < size / 2, (peak, size)


# -- the fast meta.yaml reader --------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        "yes",
        "No",
        "on",
        "null",
        "~",
        "true",
        "1:20",
        "0123",
        "0x1f",
        "1e3",
        "1.5",
        ".nan",
        "2020-01-01",
        "-",
        "- a",
        "-1",
        "a: b",
        "a #b",
        "it's",
        '"q"',
        " lead",
        "trail ",
        "[x]",
        "@z",
        "ñ日本",
        "\x1b[31mred\x1b[0m",
        "line\nbreak",
        "x" * 90 + " " + "y" * 90,
        "tab\there",
        "nel\x85x",
    ],
)
def test_yamlfast_reads_what_mlflow_reads(value):
    for doc in ({"a_key": value, "n": 3, "z": None}, {"tags": [], "name": value}):
        text = yaml.safe_dump(doc, default_flow_style=False, allow_unicode=True)
        assert yamlfast.loads(text) == yaml.load(text, Loader=yaml.CSafeLoader)
    raw = f"k: {value}\n"
    try:
        expected = yaml.load(raw, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        with pytest.raises(yaml.YAMLError):
            yamlfast.loads(raw)
    else:
        assert repr(yamlfast.loads(raw)) == repr(expected)


def test_yamlfast_fixture_meta_files_match_pyyaml():
    count = 0
    for fixture in FILE_FIXTURES:
        for meta in (fixture / "mlruns").rglob("meta.yaml"):
            data = meta.read_bytes()
            assert yamlfast.loads(data) == yaml.load(data, Loader=yaml.CSafeLoader), meta
            count += 1
    assert count > 50


def test_scans_leave_the_garbage_collector_as_they_found_it():
    store = _store("3")
    assert gc.isenabled()
    runs = store.iter_runs(include_deleted=True)
    next(runs)
    assert gc.isenabled()  # never paused while the caller holds a batch
    runs.close()
    assert gc.isenabled()
    gc.disable()
    try:
        store.runs()
        run = store.runs()[0]
        store.metric_history(run.run_id, next(iter(run.metrics)))
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- a value caught while MLflow rewrites it (its write_to truncates, then writes) -------------

EMPTY_TAG_RUN = "a2bd1fa69e2548e4a2d66467a3650169"  # the fixture's tag "empty" holds ""


def test_an_empty_tag_written_long_ago_is_read_at_once(tmp_path, monkeypatch):
    def no_sleep(seconds):
        raise AssertionError(f"an old empty value was waited for ({seconds} s)")

    monkeypatch.setattr("mltui.store.rawread.time.sleep", no_sleep)
    fixture = copy_fixture("mlflow-3.17.2-file", tmp_path)  # copies keep the files' mtimes
    store = FileStore(fixture / "mlruns", use_cache=False)
    assert store.run(EMPTY_TAG_RUN).tags["empty"] == ""
    (run,) = [r for r in store.runs(include_deleted=True) if r.run_id == EMPTY_TAG_RUN]
    assert run.tags["empty"] == ""
    # Nor one written a second ago: a writer's truncate is followed by its write within that.
    param = fixture / "mlruns" / run.experiment_id / run.run_id / "params" / "blank"
    param.write_text("")
    second_ago = time.time_ns() - 1_000_000_000
    os.utime(param, ns=(second_ago, second_ago))
    assert store.run(EMPTY_TAG_RUN).params["blank"] == ""


@pytest.mark.parametrize("how", ["run", "scan"])
def test_a_tag_read_between_truncate_and_write_reads_whole(tmp_path, how):
    fixture = copy_fixture("mlflow-3.17.2-file", tmp_path)
    store = FileStore(fixture / "mlruns", use_cache=False)
    run = store.run(EMPTY_TAG_RUN)
    key = next(k for k, v in sorted(run.tags.items()) if v and "/" not in k)
    path = fixture / "mlruns" / run.experiment_id / run.run_id / "tags" / key
    truncated = threading.Event()

    def rewrite() -> None:  # as MLflow's write_to: open with "w", then write
        with open(path, "w", encoding="utf-8") as fh:
            truncated.set()
            time.sleep(0.1)  # a writer held up between the two (it gets 0.3 s)
            fh.write("rewritten value")

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        assert truncated.wait(10)
        if how == "run":
            got = store.run(run.run_id).tags[key]
        else:
            (got,) = [
                r.tags[key] for r in store.runs([run.experiment_id]) if r.run_id == run.run_id
            ]
    finally:
        writer.join()
    assert got == "rewritten value"


def test_yamlfast_refuses_an_alias_bomb_before_building_it():
    bomb = "a0: &a0 [" + ",".join(["lol"] * 9) + "]\n"
    bomb += "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
    bomb += "name: *a8\n"
    with pytest.raises(yamlfast.TooLargeError, match="alias bomb"):
        yamlfast.loads(bomb)
    # Aliases MLflow's own dumper may write (a repeated object) still read.
    assert yamlfast.loads("a: &x [1, {b: 2}]\nc: *x\n") == {"a": [1, {"b": 2}], "c": [1, {"b": 2}]}


@pytest.mark.parametrize("fixture_dir", FILE_FIXTURES, ids=[p.name for p in FILE_FIXTURES])
def test_logged_models_in_mlflows_order_with_their_metrics(fixture_dir):
    """search_logged_models' order (newest first, then by id), not the folders' order; each
    metric with the run it was logged in (these fixtures log none with a dataset)."""
    want = sorted(
        expected_reading(fixture_dir)["logged_models"],
        key=lambda m: (-m["creation_timestamp"], m["model_id"]),
    )
    got = FileStore(fixture_dir / "mlruns").logged_models()
    assert [m.model_id for m in got] == [m["model_id"] for m in want]
    for model in got:
        for metric in model.metrics:
            assert metric.run_id == model.source_run_id
            assert (metric.dataset_name, metric.dataset_digest) == (None, None)
