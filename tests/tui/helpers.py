"""Helpers for app tests: fixture store paths and apps opened on them."""

from __future__ import annotations

import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores"
#: 2027-01-01T00:00:00Z; fixture stores were written before it, so durations are stable.
FIXED_NOW_MS = 1_798_761_600_000


def fixture_store_path(name: str) -> Path:
    """The path to open for a committed fixture store (its mlruns or its mlflow.db)."""
    base = FIXTURES / name
    db = base / "mlflow.db"
    return db if db.exists() else base / "mlruns"


def screen_text(app) -> str:
    """The text of the screen on top as last drawn, one line a row. Textual has no public way
    to read it, so its compositor is read here, in one place."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def make_app(target, **kwargs):
    """An MltuiApp on a store path, as `mltui PATH` would open it."""
    from mltui.store import open_store
    from mltui.tui.app import MltuiApp

    return MltuiApp(open_store(target), watch=False, **kwargs)


async def settle(pilot) -> None:
    """Let workers finish and the messages they posted be handled (three rounds: a read may
    start another)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def record_notices(app) -> list[str]:
    """Every notification's text from now on. The app's own list drops a notice once it has
    timed out (seconds), which a loaded machine can reach before the test looks."""
    seen: list[str] = []
    notify = app.notify

    def recording(message: str, **kwargs) -> None:
        seen.append(message)
        notify(message, **kwargs)

    app.notify = recording
    return seen


async def eventually(pilot, check, seconds: float = 20.0) -> bool:
    """Wait for `check()` to hold (True), or give up after `seconds` (False): a state waited for,
    not a fixed pause."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await pilot.pause(0.2)
    return check()


async def press_together(pilot, *keys: str, until, timeout: float = 10.0) -> None:
    """Send keys in one burst, as a fast typist or a paste delivers them, then wait for `until()`.

    `pilot.press` lets the app settle after each key; here every key is queued before the app
    handles the first, so a key must not depend on work the one before left for later.
    """
    from textual import events

    for key in keys:
        char = {"space": " ", "enter": "\r"}.get(key, key if len(key) == 1 else None)
        pilot.app._driver.send_message(events.Key(key, char))
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        await pilot.pause(0.05)
