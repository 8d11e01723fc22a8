"""`Store.metric_series`: the points of `metric_history`, in its order, as columns."""

from __future__ import annotations

import math
import random
import sqlite3
from array import array
from pathlib import Path

import pytest

from mltui.store import open_store
from mltui.store.base import Store
from mltui.store.file.layout import parse_metric_line
from mltui.store.file.metrics import complete_lines, metric_columns
from mltui.store.file.reader import FileStore
from mltui.store.series import Series
from tests.conftest import FIXTURE_IDS, FIXTURE_STORES, copy_fixture, store_path

NAN = float("nan")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))


def same_float(a: float, b: float) -> bool:
    """Equal as stored: NaN matches NaN, and 0.0 does not match -0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def assert_same_points(store: Store, run_id: str, key: str) -> int:
    series = store.metric_series(run_id, key)
    history = store.metric_history(run_id, key)
    assert isinstance(series, Series)
    assert (series.steps.typecode, series.timestamps.typecode, series.values.typecode) == (
        "q",
        "q",
        "d",
    )
    assert len(series.steps) == len(series.timestamps) == len(series.values) == len(history)
    for i, m in enumerate(history):
        got = (series.steps[i], series.timestamps[i], series.values[i])
        assert (got[0], got[1]) == (m.step, m.timestamp), (run_id, key, i)
        assert same_float(got[2], float(m.value)), (run_id, key, i, got[2], m.value)
    return len(history)


def _keys(run) -> set[str]:
    return set(run.metrics) | {"no such metric"}


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=FIXTURE_IDS)
def test_every_history_of_every_fixture_store(fixture):
    store = open_store(store_path(fixture))
    try:
        histories = points = 0
        for run in store.runs(include_deleted=True):
            for key in _keys(run):
                points += assert_same_points(store, run.run_id, key)
                histories += 1
        assert histories > 20 and points > 100
        # Unknown runs and keys give an empty series, as metric_history gives no points.
        empty = store.metric_series("0" * 32, "loss")
        assert len(empty) == 0 and empty.steps.typecode == "q"
        # The base class' default (from metric_history) agrees with the backend's own.
        run = next(r for r in store.runs() if r.metrics)
        key = next(iter(run.metrics))
        assert Store.metric_series(store, run.run_id, key) == store.metric_series(run.run_id, key)
    finally:
        store.close()


# -- bad lines in a file store ---------------------------------------------------------------------
def _file_fixture(version: str) -> str:
    names = [
        p.name
        for p in FIXTURE_STORES
        if p.name.startswith(f"mlflow-{version}") and not (p / "mlflow.db").is_file()
    ]
    if not names:
        pytest.skip(f"no MLflow {version} file fixture")
    return names[-1]


@pytest.fixture(params=["1", "3"])
def mlruns(request, tmp_path) -> Path:
    return copy_fixture(_file_fixture(request.param), tmp_path) / "mlruns"


def _metric_file(mlruns: Path, run_name: str, key: str) -> tuple[str, Path]:
    store = FileStore(mlruns, use_cache=False)
    run = next(r for r in store.runs(include_deleted=True) if r.run_name == run_name)
    return run.run_id, next(mlruns.glob(f"*/{run.run_id}")) / "metrics" / key


def test_half_written_last_line_is_left_out(mlruns):
    run_id, path = _metric_file(mlruns, "sweep-0", "rmse")
    before = FileStore(mlruns, use_cache=False).metric_series(run_id, "rmse")
    with open(path, "ab") as fh:
        fh.write(b"1795 0.")
    store = FileStore(mlruns, use_cache=False)
    assert store.metric_series(run_id, "rmse") == before
    assert_same_points(store, run_id, "rmse")
    assert store.warnings.messages == []


def test_garbage_lines_are_skipped_with_the_same_warning(mlruns):
    run_id, path = _metric_file(mlruns, "sweep-0", "loss/train")
    good = FileStore(mlruns, use_cache=False).metric_series(run_id, "loss/train")
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(3, b"this is not a metric\n")
    lines.insert(7, b"123 notafloat 4\n")
    lines.append(b"1 2 3 4\n")
    path.write_bytes(b"".join(lines))
    store = FileStore(mlruns, use_cache=False)
    assert store.metric_series(run_id, "loss/train") == good
    series_warnings = list(store.warnings.messages)
    assert [m for m in series_warnings if str(path) in m and "3 malformed line(s)" in m]
    history_store = FileStore(mlruns, use_cache=False)
    history_store.metric_history(run_id, "loss/train")
    assert history_store.warnings.messages == series_warnings
    assert_same_points(store, run_id, "loss/train")


def test_legacy_and_dataset_lines_keep_their_steps(mlruns):
    run_id, path = _metric_file(mlruns, "sweep-0", "rmse")
    with open(path, "ab") as fh:
        fh.write(b"1700000000000 0.25\n")  # pre-1.0: step 0
        fh.write(b"1700000000001 0.5 7 train abc123\n")  # 3.x, logged with a dataset
        fh.write(b"1700000000002 nan 8\n1700000000003 -inf 9\n")
    store = FileStore(mlruns, use_cache=False)
    series = store.metric_series(run_id, "rmse")
    assert list(series.steps[-4:]) == [0, 7, 8, 9]
    assert series.values[-4:-2].tolist() == [0.25, 0.5]
    assert math.isnan(series.values[-2]) and series.values[-1] == -math.inf
    assert_same_points(store, run_id, "rmse")
    assert store.warnings.messages == []


def test_long_history_file(mlruns):
    """A file far bigger than one read chunk (64 KB) comes whole, in order."""
    run_id, path = _metric_file(mlruns, "sweep-0", "rmse")
    n = 20_000
    path.write_bytes(b"".join(b"%d %r %d\n" % (1_700_000_000_000 + i, i / 3, i) for i in range(n)))
    assert path.stat().st_size > 4 * 65536
    store = FileStore(mlruns, use_cache=False)
    series = store.metric_series(run_id, "rmse")
    assert list(series.steps) == list(range(n))
    assert series.timestamps[-1] == 1_700_000_000_000 + n - 1
    assert series.values.tolist() == [i / 3 for i in range(n)]
    assert_same_points(store, run_id, "rmse")


# -- the whole-file parse against the line-by-line rules -------------------------------------------
def _line_by_line(data: bytes) -> tuple[list, list, list, int]:
    steps, timestamps, values, bad = [], [], [], 0
    for line in complete_lines(data).split(b"\n")[:-1]:
        point = parse_metric_line(line)
        if point is None:
            bad += 1
        else:
            steps.append(point[0])
            timestamps.append(point[1])
            values.append(point[2])
    return steps, timestamps, values, bad


def _assert_columns_match(data: bytes) -> tuple:
    got = metric_columns(data)
    want = _line_by_line(data)
    assert got[3] == want[3], data
    assert list(got[0]) == want[0] and list(got[1]) == want[1], data
    assert len(got[2]) == len(want[2]), data
    for a, b in zip(got[2], want[2], strict=True):
        assert type(a) is float and same_float(a, b), (data, a, b)
    return got


INTS = [b"0", b"7", b"-3", b"1700000000000", b"9223372036854775807", b"9223372036854775808"]
ODD_INTS = [b"1.0", b"1e3", b"+4", b"007", b"1_000", b"", b"x", b"-0", b"NaN"]
VALUES = [b"0.5", b"-1.25", b"3", b"1e-07", b"2.5E+20", b"nan", b"inf", b"-inf", b"-0.0", b"0"]
ODD_VALUES = [b"-0", b"1e999", b"0.", b".5", b"infinity", b"NaN", b"-nan", b"+1", b"1_0", b"x"]
ODD_VALUES += [b"true", b"[1]", b"1,2", b'"1"', b"null", b"1" * 400, b"01", b"nane", b"inff"]


def _random_line(rng: random.Random) -> bytes:
    def pick(common: list[bytes], odd: list[bytes]) -> bytes:
        return rng.choice(odd) if rng.random() < 0.08 else rng.choice(common)

    fields = [pick(INTS, ODD_INTS), pick(VALUES, ODD_VALUES), pick(INTS, ODD_INTS)]
    roll = rng.random()
    if roll < 0.03:
        fields = fields[:2]
    elif roll < 0.06:
        fields += [b"train", b"abc"]
    elif roll < 0.08:
        fields.append(b"4")
    line = b" ".join(fields)
    roll = rng.random()
    if roll < 0.02:
        line = b" " + line
    elif roll < 0.04:
        line += b"\r"
    elif roll < 0.05:
        line = line.replace(b" ", b"  ", 1)
    elif roll < 0.06:
        line = line.replace(b" ", b"\t", 1)
    return line + b"\n"


def test_whole_file_parse_matches_line_rules_on_random_files():
    rng = random.Random(20240611)
    for _ in range(1500):
        lines = [_random_line(rng) for _ in range(rng.randint(0, 6))]
        data = b"".join(lines)
        if rng.random() < 0.2:
            data += b"1795 0."  # half written
        _assert_columns_match(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"1795 0.",
        b"1 0.5 0\n2 nan 1\n3 inf 2\n4 -inf 3\n5 -0.0 4\n",
        b"1 -0 0\n",
        b"1 5 0\n2 1e999 1\n",
        b"1 0.5 1.0\n",
        b"1 true 2\n",
        b"9223372036854775808 0.5 1\n",
        b"1 0.5 2\r\n",
        b"1 0.5 2\n\n3 0.5 4\n",
    ],
)
def test_whole_file_parse_edge_cases(data):
    _assert_columns_match(data)


def test_plain_files_take_the_whole_file_path():
    data = b"".join(b"%d %r %d\n" % (1700000000000 + i, i / 7, i) for i in range(1000))
    data += b"1 nan 5\n2 inf 6\n3 -inf 7\n"
    steps, timestamps, values, bad = _assert_columns_match(data)
    assert bad == 0
    assert all(type(col) is array for col in (steps, timestamps, values))
    assert type(metric_columns(b"1 0.5 2 ds digest\n")[0]) is list  # line by line


# -- SQLite: NaN, infinity and order ---------------------------------------------------------------
def _sqlite_fixture() -> Path:
    found = [p for p in FIXTURE_STORES if (p / "mlflow.db").is_file()]
    if not found:
        pytest.skip("no SQLite fixture")
    return found[-1]


def test_sqlite_nan_inf_and_order(tmp_path):
    target = copy_fixture(_sqlite_fixture().name, tmp_path)
    db = target / "mlflow.db"
    store = open_store(db)
    run = next(r for r in store.runs() if r.metrics)
    store.close()
    with sqlite3.connect(db) as conn:
        cols = {row[1] for row in conn.execute("PRAGMA table_info(metrics)")}
        assert {"is_nan", "step"} <= cols
        rows = [
            ("odd", 0.0, 30, 2, 1),  # NaN as MLflow stores it
            ("odd", 1.5, 10, 5, 0),
            ("odd", 1.7976931348623157e308, 20, 1, 0),  # +inf as MLflow stores it
            ("odd", 2.5, 10, 3, 0),  # same timestamp, earlier step: sorts first
        ]
        conn.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(k, v, ts, run.run_id, step, nan) for k, v, ts, step, nan in rows],
        )
    store = open_store(db)
    try:
        series = store.metric_series(run.run_id, "odd")
        assert list(series.timestamps) == [10, 10, 20, 30]
        assert list(series.steps) == [3, 5, 1, 2]
        assert series.values[:3].tolist() == [2.5, 1.5, 1.7976931348623157e308]
        assert math.isnan(series.values[3])
        assert_same_points(store, run.run_id, "odd")
    finally:
        store.close()
