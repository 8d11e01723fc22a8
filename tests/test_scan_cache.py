"""The scan cache: reopening an unchanged store reads no run again, and every change is seen."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest

from mltui.store.file import scan_cache
from mltui.store.file.reader import FileStore
from tests.conftest import FIXTURE_STORES, copy_fixture

HOUR_NS = 3600 * 10**9


def _fixture_name() -> str:
    found = [
        p.name
        for p in FIXTURE_STORES
        if p.name.startswith("mlflow-3") and not (p / "mlflow.db").is_file()
    ]
    if not found:
        pytest.skip("no MLflow 3 file fixture")
    return found[-1]


def _age(root: Path) -> None:
    """Date every file and folder an hour back, so that none is too recent to be trusted."""
    then = time.time_ns() - HOUR_NS
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), ns=(then, then), follow_symlinks=False)
    os.utime(root, ns=(then, then))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(path))
    monkeypatch.setattr("mltui.store.file.runs.CACHE_MIN_RUNS", 1)
    return path


@pytest.fixture
def mlruns(tmp_path, cache_dir) -> Path:
    root = copy_fixture(_fixture_name(), tmp_path) / "mlruns"
    _age(root)
    return root


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Run folders parsed from disk (not served from the cache), in order."""
    seen: list[str] = []
    original = FileStore._run_record

    def counting(self, run_dir, want_sig):
        seen.append(os.path.basename(run_dir))
        return original(self, run_dir, want_sig)

    monkeypatch.setattr(FileStore, "_run_record", counting)
    return seen


class _Same:
    """A run compared by its fields' spelling, so that NaN equals NaN."""

    def __init__(self, run):
        self.run = run
        self.key = repr(dataclasses.asdict(run))

    def __eq__(self, other):
        return isinstance(other, _Same) and self.key == other.key

    def __getattr__(self, name):
        return getattr(self.run, name)


def _runs(mlruns: Path, use_cache: bool = True) -> dict:
    store = FileStore(mlruns, use_cache=use_cache)
    return {r.run_id: _Same(r) for r in store.runs(include_deleted=True)}


def _run_dir(mlruns: Path, name: str) -> Path:
    run = next(r for r in _runs(mlruns, use_cache=False).values() if r.run_name == name)
    return next(mlruns.glob(f"*/{run.run_id}"))


def test_unchanged_store_is_served_from_the_cache(mlruns, cache_dir, reads):
    first = _runs(mlruns)
    assert len(reads) >= len(first) > 10
    assert len(list(cache_dir.glob("scan-*.marshal"))) == 1
    reads.clear()
    second = _runs(mlruns)
    assert reads == []
    assert second == first
    assert second == _runs(mlruns, use_cache=False)


def _change_and_compare(mlruns: Path, reads: list[str], change) -> dict:
    _runs(mlruns)  # fill the cache
    touched = change()
    reads.clear()
    cached = _runs(mlruns)
    read_again = set(reads)
    assert cached == _runs(mlruns, use_cache=False)
    assert read_again == {touched.name}  # that run was read again, and no other
    return cached


def test_metric_append_is_seen(mlruns, reads):
    run_dir = _run_dir(mlruns, "sweep-0")

    def change():
        with open(run_dir / "metrics" / "rmse", "a") as fh:
            fh.write(f"{int(time.time() * 1000)} 0.125 99\n")
        return run_dir

    runs = _change_and_compare(mlruns, reads, change)
    assert runs[run_dir.name].metrics["rmse"].value == 0.125


def test_tag_rewritten_in_place_with_the_same_size_is_seen(mlruns, reads):
    run_dir = _run_dir(mlruns, "sweep-0")
    tag = run_dir / "tags" / "sweep.index"

    def change():
        assert tag.read_text() == "0"
        tag.write_text("9")  # same size, same folder: only the file's mtime tells
        return run_dir

    runs = _change_and_compare(mlruns, reads, change)
    assert runs[run_dir.name].tags["sweep.index"] == "9"


@pytest.mark.parametrize("what", ["new param", "new nested metric", "deleted tag", "meta"])
def test_other_changes_are_seen(mlruns, reads, what):
    run_dir = _run_dir(mlruns, "sweep-1")

    def change():
        if what == "new param":
            (run_dir / "params" / "extra").write_text("1")
        elif what == "new nested metric":
            (run_dir / "metrics" / "loss" / "test").write_text("1 0.5 0\n")
        elif what == "deleted tag":
            (run_dir / "tags" / "sweep.index").unlink()
        else:  # MLflow rewrites meta.yaml through a temporary file and a rename
            meta = run_dir / "meta.yaml"
            tmp = run_dir / "meta.yaml.tmp"
            tmp.write_text(meta.read_text().replace("status: 3", "status: 4"))
            os.replace(tmp, meta)
        return run_dir

    run = _change_and_compare(mlruns, reads, change)[run_dir.name]
    if what == "new param":
        assert run.params["extra"] == "1"
    elif what == "new nested metric":
        assert run.metrics["loss/test"].value == 0.5
    elif what == "deleted tag":
        assert "sweep.index" not in run.tags
    else:
        assert run.status == "FAILED"


def test_run_without_a_params_folder_is_cached_and_its_first_param_seen(mlruns, cache_dir, reads):
    """A folder recorded as missing is checked to be still missing (MLflow 1.x runs lack empty
    folders), and its appearance is a change."""
    import shutil

    run_dir = _run_dir(mlruns, "sweep-1")
    shutil.rmtree(run_dir / "params")
    _age(mlruns)
    first = _runs(mlruns)
    assert first[run_dir.name].params == {}
    reads.clear()
    assert _runs(mlruns) == first
    assert reads == []

    (run_dir / "params").mkdir()
    (run_dir / "params" / "alpha").write_text("0.5")
    cached = _runs(mlruns)
    assert reads == [run_dir.name]
    assert cached[run_dir.name].params == {"alpha": "0.5"}
    assert cached == _runs(mlruns, use_cache=False)


def test_runs_added_and_removed_are_seen(mlruns, reads):
    import shutil

    src = _run_dir(mlruns, "sweep-2")
    gone = _run_dir(mlruns, "sweep-3")
    new_id = "f" * 32

    def change():
        dst = src.parent / new_id
        shutil.copytree(src, dst)
        meta = dst / "meta.yaml"
        meta.write_text(meta.read_text().replace(src.name, new_id))
        shutil.rmtree(gone)
        return dst

    runs = _change_and_compare(mlruns, reads, change)
    assert new_id in runs and gone.name not in runs


def test_recently_modified_runs_are_not_trusted(mlruns, cache_dir, reads):
    run_dir = _run_dir(mlruns, "sweep-0")
    now = time.time_ns()
    os.utime(run_dir / "metrics" / "rmse", ns=(now, now))
    _runs(mlruns)
    reads.clear()
    _runs(mlruns)
    assert reads == [run_dir.name]  # re-read until its files have settled


def test_runs_read_with_warnings_warn_again(mlruns, reads):
    run_dir = _run_dir(mlruns, "sweep-0")
    with open(run_dir / "metrics" / "r2", "a") as fh:
        fh.write("garbage\n")
    _age(mlruns)
    FileStore(mlruns).runs()
    again = FileStore(mlruns)
    again.runs()
    assert any("r2" in m for m in again.warnings.messages)


@pytest.mark.parametrize("garbage", [b"", b"\x00" * 10, b"not marshal at all", b"\xe9\x01\x02"])
def test_corrupt_cache_is_ignored_and_replaced(mlruns, cache_dir, reads, garbage):
    expected = _runs(mlruns)
    (path,) = cache_dir.glob("scan-*.marshal")
    path.write_bytes(garbage)
    assert _runs(mlruns) == expected
    assert path.read_bytes() != garbage
    reads.clear()
    assert _runs(mlruns) == expected and reads == []


def test_cache_from_another_format_is_ignored(mlruns, cache_dir, monkeypatch):
    expected = _runs(mlruns)
    monkeypatch.setattr(scan_cache, "FORMAT", scan_cache.FORMAT + 1)
    cache = scan_cache.ScanCache(mlruns)
    cache.load()
    assert cache.entries == {}
    assert _runs(mlruns) == expected


def test_small_stores_and_opt_out_write_no_cache(mlruns, cache_dir, monkeypatch):
    _runs(mlruns, use_cache=False)
    assert not cache_dir.exists()
    monkeypatch.setattr("mltui.store.file.runs.CACHE_MIN_RUNS", 10**6)
    monkeypatch.setattr("mltui.store.file.runs.SLOW_SCAN_SECONDS", 3600)
    _runs(mlruns)
    assert not cache_dir.exists()


def test_few_runs_never_load_the_store_cache(mlruns, cache_dir, monkeypatch, reads):
    """A large store's cache is one big file: reading a few runs does without it."""
    first = _runs(mlruns)  # CACHE_MIN_RUNS is 1 here: the store's cache is written
    monkeypatch.setattr("mltui.store.file.runs.CACHE_MIN_RUNS", 10**6)
    monkeypatch.setattr("mltui.store.file.runs.SLOW_SCAN_SECONDS", 3600)
    reads.clear()
    assert _runs(mlruns) == first
    assert len(reads) == len(first)  # read from the folders, not from that file
    assert len(list(cache_dir.glob("scan-*.marshal"))) == 1


def test_a_slow_scan_of_few_runs_is_cached_all_the_same(mlruns, cache_dir, monkeypatch, reads):
    """Few runs with long metric files are slow to read: kept, and the file is kept up to date."""
    monkeypatch.setattr("mltui.store.file.runs.CACHE_MIN_RUNS", 10**6)
    monkeypatch.setattr("mltui.store.file.runs.SLOW_SCAN_SECONDS", 0.0)
    first = _runs(mlruns)
    assert len(list(cache_dir.glob("scan-*.marshal"))) == 1
    # Fast from now on: served from the file, which later scans keep (a changed run re-read).
    monkeypatch.setattr("mltui.store.file.runs.SLOW_SCAN_SECONDS", 3600)
    reads.clear()
    assert _runs(mlruns) == first
    assert reads == []
    changed = _run_dir(mlruns, "sweep-0")
    with open(changed / "params" / "added", "w") as fh:
        fh.write("1")
    _age(mlruns)
    reads.clear()
    assert _runs(mlruns) == _runs(mlruns, use_cache=False)
    reads.clear()
    _runs(mlruns)
    assert reads == []  # the changed run was saved again


def test_cache_dir_location(tmp_path):
    assert scan_cache.cache_dir({"MLTUI_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert scan_cache.cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/mltui")
    assert scan_cache.cache_dir({}) == Path(os.path.expanduser("~")) / ".cache" / "mltui"


def test_well_formed_cache_with_odd_records_is_not_trusted(mlruns, cache_dir):
    import marshal

    expected = _runs(mlruns)
    (path,) = cache_dir.glob("scan-*.marshal")
    header, entries = marshal.loads(scan_cache.unseal(path.read_bytes()))
    odd = [("x",), None, (1, 2), {"a": 1}]
    for i, entry in enumerate(entries.values()):
        entry[2] = odd[i % len(odd)]
    path.write_bytes(scan_cache.seal(marshal.dumps([header, entries])))
    assert _runs(mlruns) == expected


def test_a_damaged_cache_is_dropped_never_served(mlruns, cache_dir):
    """Each bit of a sample of bytes flipped: the cache loads as it was written, or not at all."""
    expected = _runs(mlruns)
    (path,) = cache_dir.glob("scan-*.marshal")
    original = path.read_bytes()
    cache = scan_cache.ScanCache(mlruns)
    cache.load()
    written = repr(cache.entries)
    assert cache.found and cache.entries
    # The first and last bytes and 60 spread between them: headers, keys, paths, records.
    offsets = sorted({0, 1, len(original) - 1, *range(2, len(original) - 1, len(original) // 60)})
    served_wrong = []
    for offset in offsets:
        for bit in range(8):
            damaged = bytearray(original)
            damaged[offset] ^= 1 << bit
            path.write_bytes(damaged)
            cache = scan_cache.ScanCache(mlruns)
            cache.load()
            if cache.entries and repr(cache.entries) != written:
                served_wrong.append((offset, bit))
    assert served_wrong == [], f"{len(served_wrong)} of {len(offsets) * 8} flips served"
    path.write_bytes(damaged)
    assert _runs(mlruns) == expected
