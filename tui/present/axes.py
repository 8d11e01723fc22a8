"""A chart's axes without Textual: tick positions and labels, and zoom ranges typed by hand.

The number and time formats themselves are store/series.py's (shared with `mltui export`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from mltui.store.series import (
    XMode,
    format_duration_tick,
    format_step,
    format_tick,
    format_wall_tick,
    nice_ticks,
    tick_decimals,
    time_ticks,
)
from mltui.tui.present.formats import format_value

# -- zoom ranges typed by hand ------------------------------------------------------------------
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d*)?)d)?(?:(\d+(?:\.\d*)?)h)?(?:(\d+(?:\.\d*)?)m)?(?:(\d+(?:\.\d*)?)s?)?"
)
_STEP = re.compile(r"(-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)([kmg]?)")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


def _parse_bound(text: str, mode: XMode, day: float) -> float:
    text = text.strip().lower()
    if mode == "step":
        match = _STEP.fullmatch(text)
        if not match:
            raise ValueError(f"not a step: {text!r}")
        return float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[match.group(2)]
    if mode == "wall":
        clock = _CLOCK.fullmatch(text)
        if clock:
            hh, mm, ss = (int(g or 0) for g in clock.groups())
            return day + hh * 3600 + mm * 60 + ss
        try:
            return datetime.fromisoformat(text.upper()).replace(tzinfo=UTC).timestamp()
        except ValueError:
            raise ValueError(f"not a UTC time (HH:MM or YYYY-MM-DDTHH:MM): {text!r}") from None
    match = _DURATION.fullmatch(text)
    if not text or not match:
        raise ValueError(f"not a duration (90, 90s, 5m, 1h30m): {text!r}")
    d, h, m, s = (float(g or 0) for g in match.groups())
    return d * 86400 + h * 3600 + m * 60 + s


def parse_x_range(text: str, mode: XMode, day: float = 0.0) -> tuple[float | None, float | None]:
    """`from-to` (or `from..to`) in the x axis' units; either end may be left out.

    Steps take `k`/`M` suffixes; relative time takes durations (`90`, `5m`, `1h30m`); wall time
    takes UTC clock times on the day starting at `day` (epoch seconds), or ISO date-times
    (written `a..b` or `a to b`, as dates hold dashes).
    """
    text = text.strip()
    for separator in ("..", "–", " to ", ","):
        if separator in text:
            left, right = text.split(separator, 1)
            break
    else:
        # A single dash; a leading one is a minus sign (steps can be negative).
        dash = text.find("-", 1)
        if dash < 0:
            raise ValueError("write a range as from-to, e.g. 100-500")
        left, right = text[:dash], text[dash + 1 :]
    lo = _parse_bound(left, mode, day) if left.strip() else None
    hi = _parse_bound(right, mode, day) if right.strip() else None
    if lo is not None and hi is not None and hi < lo:
        if mode == "wall" and _CLOCK.fullmatch(right.strip()):
            hi += 86400  # 23:00-01:00 runs past midnight
        else:
            lo, hi = hi, lo
    return lo, hi


# -- ticks ----------------------------------------------------------------------------------------
def axis_label(value: float, span: float, mode: XMode) -> str:
    """An x value as the status line writes it (`span`: the range it is shown in)."""
    if mode == "step":
        return format_step(round(value, 6))
    if mode == "relative":
        return format_duration_tick(round(value, 3))
    return format_wall_tick(value, 1 if span < 600 else 60)


def y_ticks(lo: float, hi: float, count: int, log: bool) -> tuple[list[float], list[str]]:
    """About `count` ticks and their labels over lo..hi (log10 units when `log`)."""
    if not log:
        ticks = nice_ticks(lo, hi, count)
        decimals = tick_decimals(ticks)
        return ticks, [format_tick(t, decimals) for t in ticks]
    if hi - lo >= 1:
        # Decades, with 2x and 5x in between when they fit, else thinned to fit.
        first, last = math.floor(lo), math.ceil(hi)
        marks = [
            (e + math.log10(m), decade(e, m))
            for e in range(first, last + 1)
            for m in (1, 2, 5)
            if lo <= e + math.log10(m) <= hi
        ]
        if len(marks) > count + 1:
            every = max(1, math.ceil((last - first + 1) / max(count, 1)))
            marks = [(float(e), decade(e)) for e in range(first, last + 1, every) if lo <= e <= hi]
        return [t for t, _ in marks], [label for _, label in marks]
    values = nice_ticks(10**lo, 10**hi, count)
    values = [v for v in values if v > 0]
    decimals = tick_decimals(values)
    return [math.log10(v) for v in values], [format_tick(v, decimals) for v in values]


def x_ticks(lo: float, hi: float, count: int, mode: XMode) -> tuple[list[float], list[str]]:
    """About `count` ticks and their labels over lo..hi in the x axis' units."""
    if mode == "step":
        ticks = nice_ticks(lo, hi, count, whole=True)
        return ticks, [format_step(t) for t in ticks]
    ticks = time_ticks(lo, hi, count)
    if mode == "relative":
        return ticks, [format_duration_tick(t) for t in ticks]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else hi - lo
    return ticks, [format_wall_tick(t, step) for t in ticks]


def decade(exponent: int, multiple: int = 1) -> str:
    value = multiple * 10.0**exponent
    return format_value(value) if -3 <= exponent <= 5 else f"{multiple}e{exponent}"
