"""The plotext stand-ins give exactly plotext's own results, and are only in place during a build."""

from __future__ import annotations

import math
import random

import plotext._utility as ut
import pytest

from mltui.tui.widgets import plotext_fast as fast


@pytest.mark.parametrize("seed", range(5))
def test_lines_and_cells_match_plotext(seed):
    rnd = random.Random(seed)
    for _ in range(300):
        n = rnd.randint(1, 80)
        span = rnd.choice([3, 10, 300, 2000])
        # Negative and out-of-canvas pixels too: curves reduced with a point beyond the window.
        x = [rnd.randint(-span // 3, span) for _ in range(n)]
        y = [rnd.randint(-span // 3, span) for _ in range(n)]
        if rnd.random() < 0.5:
            x.sort()
        other = (["braille"] * n, [(1, 2, 3)] * n, ["default"] * n)
        assert fast.get_lines(x, y, *other) == ut.get_lines(x, y, *other)
        for down in (4, 3, 2):
            across = 2 if down > 1 else 1
            assert fast.hd_group(x, y, [across] * n, [down] * n) == ut.hd_group(
                x, y, [across] * n, [down] * n
            )


@pytest.mark.parametrize("seed", range(5))
def test_canvas_coordinates_match_plotext(seed):
    rnd = random.Random(seed)
    for _ in range(300):
        n = rnd.randint(1, 80)
        scale = rnd.choice([1e-6, 1.0, 1e6])
        data = [rnd.uniform(-1e3, 1e3) * scale for _ in range(n)]
        lim = [min(data) - rnd.random() * scale, max(data) + rnd.random() * scale]
        if rnd.random() < 0.2:
            lim.reverse()
        bins = rnd.randint(1, 500)
        assert fast.get_matrix_data(data, lim, bins) == ut.get_matrix_data(data, lim, bins)
    # Exact halves, where plotext's own rounding (halves up) decides.
    halves = [i / 8 for i in range(-20, 100)]
    assert fast.get_matrix_data(halves, [0, 10], 81) == ut.get_matrix_data(halves, [0, 10], 81)
    ints = list(range(-5, 50))
    assert fast.get_matrix_data(ints, [0, 40], 17) == ut.get_matrix_data(ints, [0, 40], 17)


def test_other_input_goes_to_plotext():
    nan = math.nan
    assert fast.get_matrix_data([1.0, nan, 3.0], [0, 4], 9) == ut.get_matrix_data(
        [1.0, nan, 3.0], [0, 4], 9
    )
    assert fast.get_matrix_data([], [None, None], 9) == []
    mixed = (["braille", "dot"], ["red", "red"], ["", ""])
    assert fast.get_lines([0, 5], [0, 3], *mixed) == ut.get_lines([0, 5], [0, 3], *mixed)
    assert fast.get_lines([0, 5.5], [0, 3], *mixed) == ut.get_lines([0, 5.5], [0, 3], *mixed)
    assert fast.hd_group([0, 5], [0, 3], [2, 1], [4, 1]) == ut.hd_group(
        [0, 5], [0, 3], [2, 1], [4, 1]
    )


def test_only_in_place_while_building():
    original = ut.get_lines, ut.hd_group, ut.get_matrix_data
    with fast.faster_plotext():
        assert (ut.get_lines, ut.hd_group, ut.get_matrix_data) == (
            fast.get_lines,
            fast.hd_group,
            fast.get_matrix_data,
        )
    assert (ut.get_lines, ut.hd_group, ut.get_matrix_data) == original
    with pytest.raises(RuntimeError), fast.faster_plotext():
        raise RuntimeError
    assert (ut.get_lines, ut.hd_group, ut.get_matrix_data) == original


def test_an_unchecked_plotext_release_draws_with_its_own_helpers(monkeypatch):
    monkeypatch.setattr(fast, "USABLE", False)
    original = ut.get_lines, ut.hd_group, ut.get_matrix_data
    with fast.faster_plotext():
        assert (ut.get_lines, ut.hd_group, ut.get_matrix_data) == original
