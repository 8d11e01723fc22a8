"""Numbers, times and durations as the screens show them: plain strings, no Rich, no Textual."""

from __future__ import annotations

from mltui.store.values import datetime_of, invalid_time


def format_time(ms: int | None) -> str:
    """Epoch milliseconds as local `YYYY-MM-DD HH:MM:SS`, or an empty string."""
    if ms is None:
        return ""
    when = datetime_of(ms)
    return invalid_time(ms) if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(ms: int | None) -> str:
    """A duration as `1h02m`, `3m05s` or `4.2s`."""
    if ms is None or ms < 0:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def format_value(value: float) -> str:
    """A metric value, compact but without losing what matters (NaN and inf spelled out)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value == 0 or 1e-4 <= abs(value) < 1e6:
        return f"{value:.6g}"
    return f"{value:.4e}"


def format_time_short(ms: int | None) -> str:
    """`MM-DD HH:MM` for times within the last year, else `YYYY-MM-DD`: narrow table cells."""
    if ms is None:
        return ""
    from mltui.tui import clock

    when = datetime_of(ms)
    if when is None:
        return "invalid"
    if abs(clock.now_ms() - ms) < 365 * 24 * 3600 * 1000:
        return when.strftime("%m-%d %H:%M")
    return when.strftime("%Y-%m-%d")
