"""The series cache: long histories come back as parsed, and every change to their source is seen."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from array import array
from pathlib import Path

import pytest

from mltui.store import series_cache
from mltui.store.file.metrics import metric_columns
from mltui.store.file.reader import FileStore
from mltui.store.series_cache import SeriesCache
from mltui.store.sqlite.reader import SqliteStore
from tests.conftest import FIXTURE_STORES, copy_fixture

HOUR_NS = 3600 * 10**9


def _lines(start: int, count: int) -> bytes:
    return b"".join(
        f"{1_700_000_000_000 + i * 10} {1.0 / (i + 1)!r} {i}\n".encode()
        for i in range(start, start + count)
    )


def _age(path: Path) -> None:
    """Date a file an hour back, so that its signature is trusted."""
    then = time.time_ns() - HOUR_NS
    os.utime(path, ns=(then, then))


def _as_arrays(columns) -> tuple[array, array, array, int]:
    steps, timestamps, values, bad = columns
    return array("q", steps), array("q", timestamps), array("d", values), bad


class Parser:
    """`metric_columns`, remembering what it was given."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []

    def __call__(self, data: bytes):
        self.calls.append(data)
        return metric_columns(data)


@pytest.fixture
def cache(tmp_path) -> SeriesCache:
    return SeriesCache(tmp_path / "cache", min_file_bytes=0)


@pytest.fixture
def metric(tmp_path) -> Path:
    path = tmp_path / "store" / "loss"
    path.parent.mkdir()
    path.write_bytes(_lines(0, 2000))
    _age(path)
    return path


def read(cache: SeriesCache, path: Path, parser: Parser | None = None):
    got = cache.metric_file(str(path), parser or Parser())
    fresh = metric_columns(path.read_bytes())
    assert _as_arrays(got) == _as_arrays(fresh)
    assert [type(c) for c in got[:3]] == [array, array, array]
    return got


# -- file store ------------------------------------------------------------------------------------
def test_a_hit_returns_the_parsed_columns_without_reading_the_file(cache, metric):
    first = Parser()
    read(cache, metric, first)
    assert first.calls == [metric.read_bytes()]
    again = Parser()
    got = read(cache, metric, again)
    assert again.calls == []
    assert len(got[0]) == 2000


def test_a_recent_file_is_checked_not_trusted(cache, metric):
    os.utime(metric)  # modified just now: its signature could miss a second write
    read(cache, metric)
    # Rewritten in place within the same timestamp: same size, same mtime, same inode.
    stat = metric.stat()
    with open(metric, "r+b") as fh:
        fh.seek(30)
        fh.write(b"9" if metric.read_bytes()[30:31] != b"9" else b"8")
    os.utime(metric, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    parser = Parser()
    read(cache, metric, parser)
    assert parser.calls == [metric.read_bytes()]  # the prefix no longer matches: parsed whole


def test_an_appended_file_parses_only_its_new_lines_half_written_line_included(cache, metric):
    read(cache, metric)
    with open(metric, "ab") as fh:
        fh.write(_lines(2000, 5) + b"1700000020050 0.")  # a point being written
    parser = Parser()
    got = read(cache, metric, parser)
    assert parser.calls == [_lines(2000, 5) + b"1700000020050 0."]
    assert len(got[0]) == 2005
    with open(metric, "ab") as fh:
        fh.write(b"5 2005\n" + _lines(2006, 3))  # the point completed, then more
    parser = Parser()
    got = read(cache, metric, parser)
    assert parser.calls == [b"1700000020050 0.5 2005\n" + _lines(2006, 3)]
    assert (got[0][-4], got[2][-4]) == (2005, 0.5)
    assert len(got[0]) == 2009
    parser = Parser()
    read(cache, metric, parser)
    assert parser.calls == []


def test_malformed_lines_count_the_same_from_the_cache(cache, metric):
    with open(metric, "ab") as fh:
        fh.write(b"not a metric\n")
    _age(metric)
    assert read(cache, metric)[3] == 1
    with open(metric, "ab") as fh:
        fh.write(_lines(2000, 2) + b"1 2\n3 garbage 4\n")
    assert read(cache, metric)[3] == 2  # plus a 2-field line (a point), and one more bad
    assert read(cache, metric)[3] == 2


def test_a_file_replaced_by_another_inode_is_parsed_whole(cache, metric):
    read(cache, metric)
    other = metric.with_name("new")
    other.write_bytes(_lines(0, 2000).replace(b" 0.5 1\n", b" 0.25 1\n") + _lines(2000, 1))
    os.replace(other, metric)
    _age(metric)
    parser = Parser()
    got = read(cache, metric, parser)
    assert parser.calls == [metric.read_bytes()]
    assert got[2][1] == 0.25


def test_a_shrunk_or_rewritten_file_is_parsed_whole(cache, metric):
    read(cache, metric)
    with open(metric, "r+b") as fh:  # same inode, fewer lines
        fh.truncate(0)
        fh.write(_lines(0, 10))
    _age(metric)
    parser = Parser()
    assert len(read(cache, metric, parser)[0]) == 10
    assert parser.calls == [metric.read_bytes()]
    with open(metric, "r+b") as fh:  # same inode, grown, but the first lines differ
        fh.write(_lines(100, 3000))
    _age(metric)
    parser = Parser()
    got = read(cache, metric, parser)
    assert parser.calls == [metric.read_bytes()]
    assert got[0][0] == 100


def test_a_corrupt_or_foreign_cache_file_is_ignored_and_replaced(cache, metric):
    read(cache, metric)
    (entry,) = cache.directory.glob("series-*")
    good = entry.read_bytes()
    for damage in (b"", b"garbage", good[:-8], good[:40] + b"\xff" * 16 + good[56:], good + b"x"):
        entry.write_bytes(damage)
        parser = Parser()
        read(cache, metric, parser)
        assert parser.calls == [metric.read_bytes()]
        assert entry.read_bytes() == good


def test_an_unusable_cache_folder_only_costs_the_parse(tmp_path, metric):
    blocked = tmp_path / "not-a-folder"
    blocked.write_bytes(b"")
    cache = SeriesCache(blocked / "cache", min_file_bytes=0)
    for _ in range(2):
        parser = Parser()
        read(cache, metric, parser)
        assert len(parser.calls) == 1


def test_short_files_are_not_cached(tmp_path, metric):
    cache = SeriesCache(tmp_path / "cache", min_file_bytes=1 << 20)
    read(cache, metric)
    assert not (tmp_path / "cache").exists()


def test_the_least_recently_used_go_over_the_size_cap(tmp_path, metric):
    paths = [metric]
    for name in ("a", "b"):
        paths.append(metric.with_name(name))
        shutil.copyfile(metric, paths[-1])
        _age(paths[-1])
    size = 24 * 2000 + 500
    cache = SeriesCache(tmp_path / "cache", min_file_bytes=0, max_bytes=2 * size)
    read(cache, paths[0])
    time.sleep(0.01)
    read(cache, paths[1])
    time.sleep(0.01)
    read(cache, paths[0])  # a hit: now the most recently used
    time.sleep(0.01)
    read(cache, paths[2])  # over the cap: paths[1]'s entry goes
    assert len(list(cache.directory.glob("series-*"))) == 2
    for path, cached in ((paths[0], True), (paths[2], True), (paths[1], False)):
        parser = Parser()
        read(cache, path, parser)
        assert (parser.calls == []) is cached, path.name


# -- the stores ------------------------------------------------------------------------------------
def _fixture(sqlite: bool) -> str:
    found = [
        p.name
        for p in FIXTURE_STORES
        if p.name.startswith("mlflow-3") and (p / "mlflow.db").is_file() == sqlite
    ]
    if not found:
        pytest.skip("no MLflow 3 fixture of that backend")
    return found[-1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(path))
    monkeypatch.setattr(series_cache, "MIN_FILE_BYTES", 0)
    monkeypatch.setattr(series_cache, "MIN_POINTS", 1)
    return path


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def test_file_store_reads_every_history_the_same_from_the_cache(tmp_path, cache_dir, monkeypatch):
    mlruns = copy_fixture(_fixture(sqlite=False), tmp_path) / "mlruns"
    for path in mlruns.rglob("metrics/**/*"):
        if path.is_file():
            _age(path)
    before = _tree(mlruns)
    plain = FileStore(mlruns, use_cache=False)
    pairs = [(r.run_id, k) for r in plain.runs(include_deleted=True) for k in r.metrics]
    assert len(pairs) > 20
    expected = {p: _bits(plain.metric_series(*p)) for p in pairs}
    histories = {p: _points(plain.metric_history(*p)) for p in pairs}
    parsed = Parser()
    monkeypatch.setattr("mltui.store.file.metrics.metric_columns", parsed)
    for _ in range(2):  # filling the cache, then from it
        parsed.calls.clear()
        store = FileStore(mlruns)
        assert {p: _bits(store.metric_series(*p)) for p in pairs} == expected
        assert {p: _points(store.metric_history(*p)) for p in pairs} == histories
        assert store.warnings.messages == plain.warnings.messages
    assert parsed.calls == []
    assert len(list(cache_dir.glob("series-*"))) == len(pairs)
    assert _tree(mlruns) == before  # nothing written into the store


def _bits(series) -> tuple:
    """A Series as comparable data: NaN equals NaN (the values' bytes are compared)."""
    return (series.steps, series.timestamps, series.values.tobytes())


def _points(history) -> list[tuple]:
    return [(m.key, m.step, m.timestamp, array("d", [m.value]).tobytes()) for m in history]


def _sqlite_pairs(store):
    return [(r.run_id, k) for r in store.runs(include_deleted=True) for k in r.metrics]


def test_sqlite_store_reads_the_cache_until_the_database_changes(tmp_path, cache_dir):
    db = copy_fixture(_fixture(sqlite=True), tmp_path) / "mlflow.db"
    _age(db)
    plain = SqliteStore(db)
    plain.use_cache = False
    pairs = _sqlite_pairs(plain)
    expected = {p: _bits(plain.metric_series(*p)) for p in pairs}
    plain.close()
    store = SqliteStore(db)
    assert {p: _bits(store.metric_series(*p)) for p in pairs} == expected
    cached = len(list(cache_dir.glob("series-*")))
    assert cached == len(pairs)
    queries = []
    store._metric_rows = lambda *args: queries.append(args) or []
    assert {p: _bits(store.metric_series(*p)) for p in pairs} == expected
    assert queries == []
    store.close()

    run_id, key = pairs[0]
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES (?, 42.5, 4102444800000, ?, 123456, 0)",
            (key, run_id),
        )
    conn.close()
    store = SqliteStore(db)
    series = store.metric_series(run_id, key)
    assert (series.steps[-1], series.timestamps[-1], series.values[-1]) == (
        123456,
        4102444800000,
        42.5,
    )
    assert len(series) == len(expected[(run_id, key)][0]) + 1
    store.close()
