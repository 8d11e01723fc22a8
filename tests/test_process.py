"""One policy for process-wide state (store/process.py): importing mltui changes nothing; readers
pause the garbage collector only when the process's owner allows it, as one count across
threads; the umask is read, not flipped."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from mltui.store import open_store, process
from mltui.store.process import GcPause
from tests.conftest import copy_fixture

ROOT = Path(__file__).resolve().parents[1]
FILE, SQLITE = "mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"


@pytest.fixture
def pauses_allowed():
    """Restores the process's choice after a test that changes it."""
    before = process.gc_pauses_allowed()
    yield
    process.allow_gc_pauses(before)


def collector_calls(read) -> list[str]:
    """The calls `read()` makes (in this thread) that change the collector or the umask."""
    watched = {gc.disable: "gc.disable", gc.freeze: "gc.freeze", os.umask: "os.umask"}
    seen: list[str] = []

    def profile(frame, event, arg) -> None:
        if event == "c_call" and arg in watched:
            seen.append(watched[arg])

    sys.setprofile(profile)
    try:
        read()
    finally:
        sys.setprofile(None)
    return seen


def read_everything(store) -> None:
    runs = store.runs(include_deleted=True)
    for batch in store.iter_runs(include_deleted=True):
        assert batch
    run = next(r for r in runs if r.metrics)
    store.metric_history(run.run_id, next(iter(run.metrics)))


@pytest.mark.parametrize("name", [FILE, SQLITE])
def test_readers_pause_the_collector_only_when_the_owner_allows(name, tmp_path, pauses_allowed):
    path = copy_fixture(name, tmp_path)
    process.allow_gc_pauses(False)
    assert collector_calls(lambda: read_everything(open_store(path))) == []
    assert gc.isenabled()

    process.allow_gc_pauses(True)
    assert "gc.disable" in collector_calls(lambda: read_everything(open_store(path)))
    assert gc.isenabled()


def test_pauses_from_threads_share_one_count(pauses_allowed):
    """The collector comes back when the last pause ends, not when the first one does."""
    process.allow_gc_pauses(True)
    assert gc.isenabled()
    inside, leave = threading.Event(), threading.Event()

    def reader() -> None:
        with GcPause():
            inside.set()
            leave.wait(60)

    mine = GcPause()
    mine.start()
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert inside.wait(60)
        mine.stop()
        assert not gc.isenabled()  # the other thread is still reading
    finally:
        leave.set()
        thread.join(60)
    assert gc.isenabled()


def test_a_pause_leaves_a_collector_the_owner_turned_off_off(pauses_allowed):
    process.allow_gc_pauses(True)
    gc.disable()
    try:
        with GcPause():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_objects_stay_frozen_while_any_owner_wants_them():
    first, second = object(), object()
    process.freeze(first)
    process.freeze(second)
    process.unfreeze(first)
    assert gc.get_freeze_count() > 0
    process.unfreeze(second)
    assert gc.get_freeze_count() == 0


def test_umask_is_read_without_setting_it():
    before = os.umask(0o027)
    try:
        assert collector_calls(process.umask) == []
        assert process.umask() == 0o027
    finally:
        os.umask(before)


IMPORT_EVERYTHING = """
import gc, os, pkgutil, sys, warnings
import mltui.store, mltui.tui
filters = list(warnings.filters)
calls = []
def profile(frame, event, arg):
    if event == "c_call" and arg in (os.umask, gc.disable, gc.freeze):
        calls.append(arg.__name__)
    elif event == "call" and frame.f_code.co_name in ("filterwarnings", "simplefilter"):
        calls.append(frame.f_code.co_name)
sys.setprofile(profile)
for package in (mltui.store, mltui.tui):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        __import__(module.name)
sys.setprofile(None)
print(calls, gc.isenabled(), warnings.filters == filters)
"""


def test_importing_mltui_changes_no_process_state():
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[] True True"


def test_following_a_store_adds_no_warnings_filter(tmp_path):
    from mltui.store.follow import StoreFollower

    store = open_store(copy_fixture(FILE, tmp_path))
    with warnings.catch_warnings():
        filters = list(warnings.filters)
        follower = StoreFollower(store)
        follower.start(lambda changes: None)
        try:
            assert follower.wait_ready(60)
            assert warnings.filters == filters
        finally:
            follower.stop()


def test_the_app_makes_its_decisions_when_built(pauses_allowed):
    from tests.tui.helpers import fixture_store_path, make_app

    process.allow_gc_pauses(False)
    with warnings.catch_warnings():
        make_app(fixture_store_path(FILE))
        assert process.gc_pauses_allowed()
        quiet = [f for f in warnings.filters if f[0] == "ignore" and f[2] is RuntimeWarning]
        assert any(f[3] is not None and "watchdog" in f[3].pattern for f in quiet)
