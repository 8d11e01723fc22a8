"""Shared set-up for app tests: fixed clock and time zone, and copies of fixture stores."""

from __future__ import annotations

import shutil
import time

import pytest
from textual.widgets import Input, TextArea

from tests.tui.helpers import FIXED_NOW_MS, FIXTURES, fixture_store_path, make_app

__all__ = ["FIXED_NOW_MS", "FIXTURES", "fixture_store_path", "make_app"]


@pytest.fixture(autouse=True)
def fixed_clock_and_zone(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("mltui.tui.clock.now_ms", lambda: FIXED_NOW_MS)
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "mltui-cache"))
    # A steady text cursor: a snapshot taken over 0.5 s after the last key (a loaded machine)
    # would otherwise catch it blinked off.
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)
    yield
    time.tzset()


@pytest.fixture
def store_copy(tmp_path):
    """Copy a committed fixture store into a tmp dir and return the path to open."""

    def copy(name: str):
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        db = dest / "mlflow.db"
        return db if db.exists() else dest / "mlruns"

    return copy
