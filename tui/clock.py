"""The app's idea of "now", in one place so tests can fix it."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Current time in epoch milliseconds (durations of running runs tick from this)."""
    return int(time.time() * 1000)
