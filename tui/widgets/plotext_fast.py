"""Faster stand-ins for plotext's three costliest drawing helpers, with exactly their results.

A chart of 10 curves reduced to 216 buckets is ~4,300 points, which plotext joins by lines
(`get_lines`, a list slice, a `join` and two `linspace` calls per segment) and groups into
braille cells (`hd_group`, a small matrix per point): ~70 of the ~100 ms a draw takes. The
versions here do the same arithmetic (the same float expressions, so the same pixels) in one
loop, for the case the chart gives them: integer pixel coordinates, one marker, colour and
style per curve, one marker size. Anything else goes to plotext's own function.

`faster_plotext()` swaps them into plotext's `_utility` module for the duration of a build (on
the UI thread, where every plotext figure of the app is built) and puts the originals back.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Iterator
from contextlib import contextmanager

import plotext._utility as ut

_get_lines = ut.get_lines
_hd_group = ut.hd_group
_get_matrix_data = ut.get_matrix_data
_floor = math.floor
_ceil = math.ceil
_isnan = math.isnan


def _all_ints(values: list) -> bool:
    return all(type(v) is int for v in values)


def get_lines(x, y, *other):
    """plotext's `get_lines` (points on the lines between consecutive points), one loop."""
    n = len(x)
    if (
        n == 0
        or len(y) != n
        or not all(len(o) == n and o.count(o[0]) == n for o in other)
        or not (_all_ints(x) and _all_ints(y))
    ):
        return _get_lines(x, y, *other)
    xl: list[int] = []
    yl: list[int] = []
    add_x = xl.append
    add_y = yl.append
    x0, y0 = x[0], y[0]
    for i in range(1, n):
        x1, y1 = x[i], y[i]
        dx, dy = x1 - x0, y1 - y0
        # linspace(x0, x1, a + 1) without its last point, truncated by int() as plotext does.
        a = max(abs(dx), abs(dy))
        if a:
            sx, sy = dx / a, dy / a
            for k in range(a):
                add_x(int(x0 + k * sx))
                add_y(int(y0 + k * sy))
        x0, y0 = x1, y1
    add_x(x0)
    add_y(y0)
    count = len(xl)
    return [xl, yl, *([o[0]] * count for o in other)]


#: Braille cell bits -> the marker tuple plotext's `hd_group` gives (rows bottom first).
_CELL_CODES: dict[tuple[int, int, int], tuple[int, ...]] = {}


def _cell_code(bits: int, across: int, down: int) -> tuple[int, ...]:
    key = (bits, across, down)
    code = _CELL_CODES.get(key)
    if code is None:
        code = tuple(
            (bits >> (row * across + col)) & 1
            for row in range(down - 1, -1, -1)
            for col in range(across)
        )
        _CELL_CODES[key] = code
    return code


def hd_group(x, y, xf, yf):
    """plotext's `hd_group` (points grouped into high-definition cells), one loop."""
    n = len(x)
    if (
        n == 0
        or len(y) != n
        or len(xf) != n
        or len(yf) != n
        or xf.count(xf[0]) != n
        or yf.count(yf[0]) != n
        or not (_all_ints(x) and _all_ints(y))
    ):
        return _hd_group(x, y, xf, yf)
    across, down = xf[0], yf[0]
    cells: dict[tuple[int, int], int] = {}
    get = cells.get
    for xi, yi in zip(x, y, strict=True):
        cell = (xi // across, yi // down)
        cells[cell] = get(cell, 0) | (1 << ((yi % down) * across + xi % across))
    return (
        [c[0] for c in cells],
        [c[1] for c in cells],
        [_cell_code(bits, across, down) for bits in cells.values()],
    )


def get_matrix_data(data, lim, bins):
    """plotext's `get_matrix_data` (data to canvas coordinates), without a call per point."""
    if (
        not data
        or not all(type(v) is float or type(v) is int for v in data)
        or any(map(_isnan, data))
    ):
        return _get_matrix_data(data, lim, bins)
    low, span, scale = lim[0], lim[1] - lim[0], bins - 1
    out: list[int] = []
    add = out.append
    for el in data:
        # plotext: floor(round(0.5 + (bins - 1) * (el - low) / span, 8)), with its own round
        # (halves up): n * 10**8, floor or ceil, times 10**-8.
        v = (0.5 + scale * (el - low) / span) * 100000000
        f = _floor(v)
        add(_floor((f if v - f < 0.5 else _ceil(v)) * 1e-08))
    return out


#: plotext releases whose helpers the stand-ins were checked against (tests/tui/test_plotext_fast.py).
#: Under any other release plotext draws with its own helpers: slower, never different.
CHECKED_RELEASES = frozenset({"5.3.2"})


def _plotext_release() -> str:
    try:
        return importlib.metadata.version("plotext")
    except importlib.metadata.PackageNotFoundError:
        return ""


USABLE = _plotext_release() in CHECKED_RELEASES


@contextmanager
def faster_plotext() -> Iterator[None]:
    """Use the stand-ins while building a plotext figure (originals put back after)."""
    if not USABLE:
        yield
        return
    saved = ut.get_lines, ut.hd_group, ut.get_matrix_data
    ut.get_lines, ut.hd_group, ut.get_matrix_data = get_lines, hd_group, get_matrix_data
    try:
        yield
    finally:
        ut.get_lines, ut.hd_group, ut.get_matrix_data = saved
