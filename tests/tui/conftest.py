"""Shared set-up for app tests: fixed clock and time zone, and copies of fixture stores."""

from __future__ import annotations

import shutil
import time

import pytest
from textual.widgets import Input, TextArea

from tests.tui.helpers import FIXED_NOW_MS, FIXTURES, fixture_store_path, make_app

__all__ = ["FIXED_NOW_MS", "FIXTURES", "fixture_store_path", "make_app"]


def _steady_cursor(init):
    """`init` of a text widget, then its cursor set not to blink."""

    def steady(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        self.cursor_blink = False

    return steady


@pytest.fixture(autouse=True)
def fixed_clock_and_zone(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr("mltui.tui.clock.now_ms", lambda: FIXED_NOW_MS)
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "mltui-cache"))
    # A steady text cursor: a snapshot taken over 0.5 s after the last key (a loaded machine)
    # would otherwise catch it blinked off. `cursor_blink` is the widgets' public setting.
    for widget in (Input, TextArea):
        monkeypatch.setattr(widget, "__init__", _steady_cursor(widget.__init__))
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
