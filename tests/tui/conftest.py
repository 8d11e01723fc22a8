"""Shared set-up for app tests: fixed clock and time zone, and apps opened on fixture stores."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
#: 2025-01-01T00:00:00Z; fixture stores were written before it, so durations are stable.
FIXED_NOW_MS = 1_767_225_600_000


@pytest.fixture(autouse=True)
def fixed_clock_and_zone(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("tui.clock.now_ms", lambda: FIXED_NOW_MS)
    monkeypatch.setenv(
        "MLTUI_CACHE_DIR", os.environ.get("PYTEST_MLTUI_CACHE", "/tmp/mltui-test-cache")
    )
    yield
    time.tzset()


def fixture_store_path(name: str) -> Path:
    """The path to open for a committed fixture store (its mlruns or its mlflow.db)."""
    base = FIXTURES / name
    db = base / "mlflow.db"
    return db if db.exists() else base / "mlruns"


@pytest.fixture
def store_copy(tmp_path):
    """Copy a committed fixture store into a tmp dir and return the path to open."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        db = dest / "mlflow.db"
        return db if db.exists() else dest / "mlruns"

    return copy


def make_app(target, **kwargs):
    """An MltuiApp on a store path, as `mltui PATH` would open it."""
    from store import open_store
    from tui.app import MltuiApp

    return MltuiApp(open_store(target), watch=False, **kwargs)
