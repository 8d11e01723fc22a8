"""Metric histories as compact columns, reduced for drawing, smoothed, and labelled on an x axis.

A terminal chart is a few hundred braille dots wide, while a history can hold millions of points.
MLflow's UI samples a few hundred points of a long history (`get_metric_history_bulk_interval`),
which can hide a spike or the start of a divergence. `reduce_series` instead keeps, for every
bucket of the x range, both the smallest and the largest value: every extreme stays visible.

Pure Python (the stdlib `array`, `bisect`, `math`): no numpy, usable without an app.
"""

from __future__ import annotations

import math
import operator
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from itertools import accumulate, islice, pairwise
from typing import Literal

from .entities import Metric
from .values import datetime_of

#: What the x axis shows: the logged step, the wall-clock time of each point (UTC), or the time
#: since the first point of each history (as MLflow's metric page counts "relative time").
XMode = Literal["step", "wall", "relative"]
X_MODES: tuple[XMode, ...] = ("step", "wall", "relative")

INF = math.inf
#: Typecodes of integer arrays (`is_sorted` has a faster way for those).
_INT_CODES = frozenset("bBhHiIlLqQ")


@dataclass(slots=True)
class Series:
    """One metric history of one run, as three columns in the order the store returned it."""

    steps: array
    timestamps: array
    values: array

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True, slots=True)
class SeriesUpdate:
    """One hand-over of `Store.series_updates`: a history of (run_id, key), whole or sampled."""

    pair: tuple[str, str]
    #: The history; with `complete` False, a sample of it (points between samples missing, so
    #: a spike may not show) that a later update of the same pair replaces. None: no curve,
    #: only a sign of progress (a reader may stop between two requests).
    series: Series | None
    complete: bool = True


def series_from_history(history: Sequence[Metric]) -> Series:
    """Columns of a `Store.metric_history` answer (8 bytes a point each, not a Metric object)."""
    return Series(
        steps=array("q", [m.step for m in history]),
        timestamps=array("q", [m.timestamp for m in history]),
        values=array("d", [m.value for m in history]),
    )


def x_values(series: Series, mode: XMode) -> Sequence[float]:
    """The x coordinate of every point: steps, epoch seconds, or seconds since the first point."""
    if mode == "step":
        return series.steps
    ts = series.timestamps
    if not ts:
        return array("d")
    origin = min(ts) if mode == "relative" else 0
    return array("d", [(t - origin) / 1000.0 for t in ts])


def is_sorted(xs: Sequence[float]) -> bool:
    """Whether `xs` never decreases."""
    if isinstance(xs, array) and xs.typecode in _INT_CODES:
        # Integers (steps, timestamps): sorting an ordered list is one pass in C, over objects
        # made once, where comparing neighbours in an array makes two objects per point.
        values = xs.tolist()
        return sorted(values) == values
    return all(map(operator.le, xs, islice(xs, 1, None)))


def sort_by_x(xs: Sequence[float], ys: Sequence[float]) -> tuple[Sequence[float], Sequence[float]]:
    """Both columns in x order (stable, so equal x keep the logged order); unchanged if sorted."""
    if is_sorted(xs):
        return xs, ys
    order = sorted(range(len(xs)), key=xs.__getitem__)
    return array("d", [xs[i] for i in order]), array("d", [ys[i] for i in order])


# -- reduction ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Reduced:
    """What `reduce_series` keeps; unpacks as `xs, ys`.

    Points that cannot be drawn are counted, and infinities are located (one x per bucket that
    holds one) so a chart can mark them: they never stretch the y range.
    """

    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    #: Points in the x window before reduction (NaN and infinities included).
    points: int = 0
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    pos_inf_xs: list[float] = field(default_factory=list)
    neg_inf_xs: list[float] = field(default_factory=list)

    def __iter__(self) -> Iterator[list[float]]:
        return iter((self.xs, self.ys))

    def __len__(self) -> int:
        return len(self.xs)


def reduce_series(
    xs: Sequence[float],
    ys: Sequence[float],
    width: int,
    lo: float | None = None,
    hi: float | None = None,
    *,
    presorted: bool = False,
) -> Reduced:
    """About `width` buckets of the x range, each giving its minimum and maximum in x order.

    Only points with `lo <= x <= hi` count (default: all); when a bound cuts the series, the
    nearest finite point beyond it is kept too, so a drawn line runs on to the edge. NaN points
    are dropped (a bucket of NaN only gives nothing); infinities are counted and located but
    never returned as values. A series of at most `2 * width` points comes back whole. `xs` need
    not be sorted (`presorted=True` skips the check when the caller knows it is).
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} != {len(ys)})")
    width = max(int(width), 1)
    if not presorted:
        xs, ys = sort_by_x(xs, ys)
    n = len(xs)
    start = 0 if lo is None else bisect_left(xs, lo)
    end = n if hi is None else bisect_right(xs, hi)
    out = Reduced(points=max(end - start, 0))
    if start >= end:
        # Nothing inside: still hand over the points either side so a line can cross the window.
        _add_edges(out, xs, ys, start, end, n)
        return out
    x0 = xs[start] if lo is None else lo
    x1 = xs[end - 1] if hi is None else hi
    whole = start == 0 and end == n
    window_x: Sequence[float] = xs if whole else xs[start:end]
    window_y: Sequence[float] = ys if whole else ys[start:end]
    total = sum(window_y)
    if not math.isfinite(total):
        # Slow path, only for series holding NaN or infinities (or sums overflowing).
        window_x, window_y = _finite_points(out, window_x, window_y, x0, x1, width)
    if len(window_x) <= 2 * width:
        out.xs.extend(window_x)
        out.ys.extend(window_y)
    else:
        _buckets(out, window_x, window_y, x0, x1, width)
    _add_edges(out, xs, ys, start, end, n)
    return out


def _finite_points(
    out: Reduced,
    xs: Sequence[float],
    ys: Sequence[float],
    x0: float,
    x1: float,
    width: int,
) -> tuple[list[float], list[float]]:
    fx: list[float] = []
    fy: list[float] = []
    pos: dict[int, float] = {}
    neg: dict[int, float] = {}
    scale = width / (x1 - x0) if x1 > x0 else 0.0
    isfinite = math.isfinite
    for x, y in zip(xs, ys, strict=True):
        if isfinite(y):
            fx.append(x)
            fy.append(y)
        elif y != y:
            out.nan += 1
        else:
            bucket = min(int((x - x0) * scale), width - 1)
            if y > 0:
                out.pos_inf += 1
                pos.setdefault(bucket, x)
            else:
                out.neg_inf += 1
                neg.setdefault(bucket, x)
    out.pos_inf_xs = list(pos.values())
    out.neg_inf_xs = list(neg.values())
    return fx, fy


def _buckets(
    out: Reduced, xs: Sequence[float], ys: Sequence[float], x0: float, x1: float, width: int
) -> None:
    """Min and max of each of `width` equal x intervals; xs sorted and ys all finite."""
    n = len(xs)
    span = x1 - x0
    append_x = out.xs.append
    append_y = out.ys.append
    a = 0
    for k in range(1, width + 1):
        b = n if k == width or span <= 0 else bisect_left(xs, x0 + span * k / width, a, n)
        if b > a:
            segment = ys[a:b]
            low = min(segment)
            high = max(segment)
            i = segment.index(low)
            j = segment.index(high)
            if i == j:
                append_x(xs[a + i])
                append_y(low)
            else:
                first, second = (i, j) if i < j else (j, i)
                append_x(xs[a + first])
                append_y(segment[first])
                append_x(xs[a + second])
                append_y(segment[second])
        a = b
        if b >= n:
            break


def _add_edges(
    out: Reduced, xs: Sequence[float], ys: Sequence[float], start: int, end: int, n: int
) -> None:
    before = next((i for i in range(start - 1, -1, -1) if math.isfinite(ys[i])), None)
    after = next((i for i in range(end, n) if math.isfinite(ys[i])), None)
    if before is not None:
        out.xs.insert(0, xs[before])
        out.ys.insert(0, ys[before])
    if after is not None:
        out.xs.append(xs[after])
        out.ys.append(ys[after])


def finite_range(ys: Sequence[float]) -> tuple[float, float] | None:
    """The smallest and largest finite value, or None when there is none."""
    if not ys:
        return None
    total = sum(ys)
    if math.isfinite(total):
        return min(ys), max(ys)
    finite = [y for y in ys if math.isfinite(y)]
    return (min(finite), max(finite)) if finite else None


# -- smoothing ------------------------------------------------------------------------------------
def ema(ys: Sequence[float], strength: float) -> array:
    """Exponential moving average with debiasing, as TensorBoard smooths scalars.

    Mirrors tensorboard/plugins/scalar/tf_scalar_dashboard (vz_line_chart2 `resmoothDataset`),
    which MLflow's chart smoothing also follows: `last = last * w + (1 - w) * y`, divided by
    `1 - w ** n` (n = finite points so far) so the first points are not pulled towards zero.
    Non-finite values pass through unchanged and do not advance the average; a constant series
    is returned as it is. `strength` is w, from 0 (none) to just below 1.
    """
    w = float(strength)
    if not 0.0 <= w < 1.0:
        raise ValueError(f"smoothing strength must be in [0, 1), not {strength!r}")
    if w == 0.0 or len(ys) <= 1:
        return array("d", ys)
    c = 1.0 - w
    total = sum(ys)
    if math.isfinite(total):
        if min(ys) == max(ys):
            return array("d", ys)
        smoothed = array("d", accumulate(ys, lambda last, y: last * w + c * y, initial=0.0))
        del smoothed[0]
        # w ** n vanishes below double precision after a few thousand points at most.
        n = 0
        for n in range(len(smoothed)):
            debias = 1.0 - w ** (n + 1)
            if debias == 1.0:
                break
            smoothed[n] /= debias
        return smoothed
    finite = [y for y in ys if math.isfinite(y)]
    if finite and min(finite) == max(finite):
        return array("d", ys)
    out = array("d", ys)
    last = 0.0
    count = 0
    for i, y in enumerate(ys):
        if math.isfinite(y):
            last = last * w + c * y
            count += 1
            out[i] = last / (1.0 - w**count)
    return out


# -- axis ticks -----------------------------------------------------------------------------------
def nice_ticks(lo: float, hi: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """Round tick positions (1, 2, 2.5 or 5 times a power of ten) inside [lo, hi], about `count`.

    `whole` keeps to whole numbers (steps), so a short range gets fewer ticks, not 0.25 steps.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    step = _nice_step((hi - lo) / max(count, 1), (1, 2, 2.5, 5, 10))
    if whole:
        step = max(1.0, step if step != 2.5 * 10 ** math.floor(math.log10(step)) else step * 2)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [_tidy(k * step) for k in range(first, last + 1)]


def _nice_step(raw: float, mantissas: Sequence[float]) -> float:
    power = 10 ** math.floor(math.log10(raw))
    for m in mantissas:
        if m * power >= raw * 0.999:
            return m * power
    return 10 * power


def _tidy(value: float) -> float:
    # 0.1 * 3 is 0.30000000000000004: round away the binary noise so labels come out clean.
    return 0.0 if value == 0 else round(value, 12 - math.floor(math.log10(abs(value))))


def tick_decimals(ticks: Sequence[float]) -> int:
    """Decimals that tell neighbouring ticks apart (0 for whole numbers)."""
    if len(ticks) < 2:
        value = abs(ticks[0]) if ticks else 0.0
        return 0 if value == int(value) else min(6, max(0, 3 - math.floor(math.log10(value))))
    step = min(abs(b - a) for a, b in pairwise(ticks) if b != a)
    return max(0, -math.floor(math.log10(step) + 1e-9) + (0 if _is_whole(step) else 1))


def _is_whole(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    return abs(mantissa - round(mantissa)) < 1e-9


def format_tick(value: float, decimals: int) -> str:
    """A tick label: fixed decimals, or compact scientific notation for very large or small."""
    magnitude = abs(value)
    if magnitude >= 1e6 or (0 < magnitude < 1e-4 and decimals > 6):
        return f"{value:.2g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    return f"{value:.{min(decimals, 8)}f}"


def format_step(value: float) -> str:
    """A step tick: `950`, `12k`, `1.5M`."""
    magnitude = abs(value)
    for limit, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if magnitude >= limit:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:g}"


#: Tick spacings for time axes, in seconds.
_TIME_STEPS = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000,
)  # fmt: skip


def time_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Tick positions in seconds on round times (whole minutes, hours, days), about `count`."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    if raw < 1:
        return nice_ticks(lo, hi, count)
    step: float | None = next((s for s in _TIME_STEPS if s >= raw * 0.999), None)
    if step is None:
        step = _nice_step(raw / 31536000, (1, 2, 5, 10)) * 31536000
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [float(k * step) for k in range(first, last + 1)]


def format_duration_tick(seconds: float) -> str:
    """Relative time: `0`, `45s`, `2m30s`, `1h`, `3h15m`, `2d`."""
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s == 0:
        return "0"
    if s < 60:
        return f"{sign}{s:g}s"
    whole = round(s)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{v}{u}" for v, u in parts if v][:2]
    return sign + "".join(shown)


def format_wall_tick(seconds: float, step: float) -> str:
    """Wall time in UTC, as precise as the tick spacing needs: `14:05:30`, `14:05`, `03-18`."""
    when = datetime_of(seconds * 1000, UTC)
    if when is None:  # past year 9999: no date to show
        return f"{seconds:.3g}s"
    if step < 60:
        return when.strftime("%H:%M:%S")
    if step < 86400:
        return when.strftime("%H:%M")
    if step < 31536000:
        return when.strftime("%m-%d")
    return when.strftime("%Y")
