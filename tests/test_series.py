"""mltui.store.series: reduction keeping every bucket's extremes, TensorBoard's EMA, axis ticks."""

from __future__ import annotations

import json
import math
import random
import time
from array import array

import pytest

from mltui.store import open_store
from mltui.store.entities import Metric
from mltui.store.series import (
    Series,
    ema,
    finite_range,
    format_duration_tick,
    format_step,
    format_tick,
    format_wall_tick,
    is_sorted,
    nice_ticks,
    reduce_series,
    series_from_history,
    sort_by_x,
    tick_decimals,
    time_ticks,
    x_values,
)
from tests.conftest import STORES_DIR, expected_reading, store_path

NAN = math.nan
INF = math.inf


def walk(n: int, seed: int = 1) -> array:
    rng = random.Random(seed)
    value, out = 3.0, array("d")
    for _ in range(n):
        value = value * 0.9999 + rng.gauss(0.0, 0.01)
        out.append(value)
    return out


def bucket_of(x: float, x0: float, x1: float, width: int) -> int:
    """The bucket reduce_series puts x in: [x0 + span*k/width, x0 + span*(k+1)/width)."""
    span = x1 - x0
    k = 0
    while k < width - 1 and x >= x0 + span * (k + 1) / width:
        k += 1
    return k


# -- reduce_series --------------------------------------------------------------------------------
def test_every_bucket_keeps_its_minimum_and_maximum_in_x_order():
    n, width = 10_000, 50
    xs = list(range(n))
    ys = list(walk(n))
    # Spikes a sampler would miss: one point up, one down, in the middle of buckets.
    ys[1234], ys[7777] = 50.0, -50.0
    xs_out, ys_out = reduce_series(xs, ys, width)
    assert len(xs_out) <= 2 * width
    assert xs_out == sorted(xs_out)
    assert max(ys_out) == 50.0 and min(ys_out) == -50.0
    expected: dict[int, list[tuple[int, float]]] = {}
    for x, y in zip(xs, ys, strict=True):
        expected.setdefault(bucket_of(x, 0, n - 1, width), []).append((x, y))
    kept = list(zip(xs_out, ys_out, strict=True))
    want = []
    for points in expected.values():
        low = min(points, key=lambda p: p[1])
        high = max(points, key=lambda p: p[1])
        want.extend(sorted({low, high}))
    # Exactly each bucket's extremes, nothing else.
    assert kept == want


def test_short_series_come_back_whole_in_x_order():
    xs = [3, 1, 2, 0]
    ys = [30.0, 10.0, 20.0, 0.0]
    reduced = reduce_series(xs, ys, width=100)
    assert reduced.xs == [0, 1, 2, 3]
    assert reduced.ys == [0.0, 10.0, 20.0, 30.0]
    assert reduced.points == 4


def test_unsorted_x_is_sorted_stably_before_bucketing():
    n = 5_000
    xs = list(range(n))
    ys = list(walk(n, seed=3))
    order = list(range(n))
    random.Random(5).shuffle(order)
    shuffled_x = [xs[i] for i in order]
    shuffled_y = [ys[i] for i in order]
    assert reduce_series(shuffled_x, shuffled_y, 40) == reduce_series(xs, ys, 40)


def test_equal_x_keep_logged_order():
    # Repeated steps (MLflow allows them): the sort keeps the order they were logged in.
    assert sort_by_x([1, 0, 1], [5.0, 7.0, 6.0]) == (array("d", [0, 1, 1]), array("d", [7, 5, 6]))


def test_presorted_skips_the_check_but_gives_the_same():
    xs, ys = list(range(1000)), list(walk(1000))
    assert reduce_series(xs, ys, 10, presorted=True) == reduce_series(xs, ys, 10)


def test_empty_series():
    reduced = reduce_series([], [], 80)
    assert (reduced.xs, reduced.ys, reduced.points) == ([], [], 0)
    assert not reduced.pos_inf_xs and not reduced.nan


def test_one_point():
    reduced = reduce_series([7], [0.5], 80)
    assert (reduced.xs, reduced.ys) == ([7], [0.5])
    assert list(reduce_series([7], [NAN], 80)) == [[], []]


def test_all_points_at_one_x():
    xs = [5] * 1000
    ys = list(walk(1000))
    xs_out, ys_out = reduce_series(xs, ys, 10)
    assert sorted(ys_out) == [min(ys), max(ys)]
    assert xs_out == [5, 5]


def test_nan_is_dropped_and_an_all_nan_bucket_gives_nothing():
    n, width = 1000, 10
    xs = list(range(n))
    ys = [float(i % 7) for i in range(n)]
    for i in range(300, 400):  # bucket 3 entirely NaN
        ys[i] = NAN
    ys[50] = NAN  # one NaN in bucket 0
    reduced = reduce_series(xs, ys, width)
    assert reduced.nan == 101
    assert not any(math.isnan(y) for y in reduced.ys)
    assert not [x for x in reduced.xs if 300 <= x < 400]
    assert min(reduced.ys) == 0.0 and max(reduced.ys) == 6.0


def test_infinities_are_counted_located_and_kept_out_of_the_values():
    n, width = 1000, 10
    xs = list(range(n))
    ys = [1.0 + (i % 3) for i in range(n)]
    ys[10] = ys[20] = INF  # same bucket: one location
    ys[555] = INF
    ys[900] = -INF
    reduced = reduce_series(xs, ys, width)
    assert (reduced.pos_inf, reduced.neg_inf) == (3, 1)
    assert reduced.pos_inf_xs == [10, 555]
    assert reduced.neg_inf_xs == [900]
    assert all(math.isfinite(y) for y in reduced.ys)
    assert finite_range(reduced.ys) == (1.0, 3.0)


def test_short_series_with_non_finite_values():
    reduced = reduce_series([0, 1, 2, 3], [1.0, NAN, INF, 2.0], 80)
    assert (reduced.xs, reduced.ys) == ([0, 3], [1.0, 2.0])
    assert (reduced.nan, reduced.pos_inf, reduced.pos_inf_xs) == (1, 1, [2])


def test_window_keeps_inside_points_and_one_neighbour_each_side():
    xs = list(range(100))
    ys = [float(x) for x in xs]
    reduced = reduce_series(xs, ys, 50, lo=10, hi=20)
    assert reduced.xs == list(range(9, 22))
    assert reduced.points == 11
    # Nothing inside: just the neighbours, so a line can still cross the window.
    gap = reduce_series([0, 10], [0.0, 1.0], 50, lo=3, hi=6)
    assert (gap.xs, gap.points) == ([0, 10], 0)


def test_width_larger_than_the_series():
    xs, ys = list(range(30)), list(walk(30))
    assert list(reduce_series(xs, ys, 1000)) == [xs, ys]


def test_lengths_must_match():
    with pytest.raises(ValueError):
        reduce_series([1, 2], [1.0], 10)


def test_hundred_thousand_points_reduce_fast():
    n = 100_000
    xs = array("q", range(n))
    ys = walk(n)
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        reduced = reduce_series(xs, ys, 240)
        best = min(best, time.perf_counter() - start)
    assert len(reduced) <= 480
    # Typically 5-10 ms; the bound leaves room for two shared, busy cores.
    assert best < 0.25, f"reduce_series took {best:.3f}s for 100k points"


# -- ema ------------------------------------------------------------------------------------------
def tensorboard_smooth(ys: list[float], weight: float) -> list[float]:
    """TensorBoard's resmoothDataset, transcribed (vz_line_chart2/line-chart.ts)."""
    last, count = 0.0, 0
    constant = all(y == ys[0] for y in ys)
    out = []
    for y in ys:
        if constant or not math.isfinite(y):
            out.append(y)
        else:
            last = last * weight + (1 - weight) * y
            count += 1
            out.append(last / (1 - math.pow(weight, count)))
    return out


@pytest.mark.parametrize("weight", [0.3, 0.6, 0.9, 0.99])
def test_ema_matches_tensorboard(weight):
    ys = list(walk(5000, seed=11))
    got = ema(ys, weight)
    want = tensorboard_smooth(ys, weight)
    assert all(
        math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(got, want, strict=True)
    )
    # Debiased: the first point is the first value, not pulled towards zero.
    assert got[0] == pytest.approx(ys[0])


def test_ema_passes_non_finite_values_through_without_advancing():
    ys = [1.0, NAN, 3.0, INF, 2.0]
    got = ema(ys, 0.5)
    want = tensorboard_smooth(ys, 0.5)
    assert math.isnan(got[1]) and got[3] == INF
    assert [got[i] for i in (0, 2, 4)] == pytest.approx([want[i] for i in (0, 2, 4)])


def test_ema_edge_cases():
    assert list(ema([1.0, 2.0, 3.0], 0.0)) == [1.0, 2.0, 3.0]
    assert list(ema([4.0, 4.0, 4.0], 0.9)) == [4.0, 4.0, 4.0]
    assert list(ema([], 0.6)) == []
    assert list(ema([2.5], 0.6)) == [2.5]
    for bad in (-0.1, 1.0, 2):
        with pytest.raises(ValueError):
            ema([1.0, 2.0], bad)


def test_ema_of_hundred_thousand_points():
    ys = walk(100_000)
    start = time.perf_counter()
    smoothed = ema(ys, 0.9)
    took = time.perf_counter() - start
    assert len(smoothed) == len(ys)
    assert took < 0.5, f"ema took {took:.3f}s"


# -- columns and x modes --------------------------------------------------------------------------
def test_series_from_history_and_x_modes():
    history = [
        Metric("loss", 1.0, 1_700_000_000_000, 0),
        Metric("loss", 0.5, 1_700_000_001_500, 1),
        Metric("loss", NAN, 1_700_000_000_500, 2),
    ]
    series = series_from_history(history)
    assert list(series.steps) == [0, 1, 2]
    assert list(series.timestamps) == [1_700_000_000_000, 1_700_000_001_500, 1_700_000_000_500]
    assert series.values[:2].tolist() == [1.0, 0.5] and math.isnan(series.values[2])
    assert len(series) == 3
    assert list(x_values(series, "step")) == [0, 1, 2]
    assert list(x_values(series, "wall")) == [1_700_000_000.0, 1_700_000_001.5, 1_700_000_000.5]
    # Relative time counts from the earliest point, not the first logged.
    assert list(x_values(series, "relative")) == [0.0, 1.5, 0.5]
    empty = Series(array("q"), array("q"), array("d"))
    assert list(x_values(empty, "relative")) == []


@pytest.mark.parametrize(
    "name",
    ["mlflow-3.18.0-file", "mlflow-3.18.0-sqlite", "mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"],
)
def test_columns_hold_what_mlflow_reports(name):
    fixture = STORES_DIR / name
    reading = expected_reading(fixture)
    store = open_store(store_path(fixture))
    try:
        checked = 0
        for run_id, metrics in reading["metric_history"].items():
            for key, points in metrics.items():
                series = series_from_history(store.metric_history(run_id, key))
                want = sorted((int(s), int(t), float(v)) for s, t, v in points)
                got = sorted(zip(series.steps, series.timestamps, series.values, strict=True))
                assert len(got) == len(want), (run_id, key)
                for (gs, gt, gv), (ws, wt, wv) in zip(got, want, strict=True):
                    assert (gs, gt) == (ws, wt)
                    assert (math.isnan(gv) and math.isnan(wv)) or gv == wv
                checked += 1
        assert checked > 20
    finally:
        store.close()


def test_is_sorted():
    assert is_sorted([]) and is_sorted([1]) and is_sorted([1, 1, 2])
    assert not is_sorted([2, 1])


# -- ticks ----------------------------------------------------------------------------------------
def test_nice_ticks():
    assert nice_ticks(0, 100, 5) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0.0123, 0.0456, 4) == [0.02, 0.03, 0.04]
    assert nice_ticks(0.1, 0.7, 6) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    assert nice_ticks(3, 3) == [3]
    assert nice_ticks(0, math.inf) == []
    # Steps are whole numbers: a short range gets fewer ticks, never 0.25.
    assert nice_ticks(-1, 1, 8, whole=True) == [-1, 0, 1]
    assert nice_ticks(0, 39, 8, whole=True) == [0, 5, 10, 15, 20, 25, 30, 35]


def test_tick_labels():
    assert tick_decimals([0.0, 0.25, 0.5]) == 2
    assert tick_decimals([0, 5, 10]) == 0
    assert tick_decimals([0.1, 0.2]) == 1
    assert [format_tick(v, 2) for v in (0.0, 0.25, -1.5)] == ["0.00", "0.25", "-1.50"]
    assert format_tick(2_500_000.0, 0) == "2.5e6"
    assert [format_step(v) for v in (950, 12_000, 1_500_000, 3e9)] == ["950", "12k", "1.5M", "3G"]


def test_time_ticks_fall_on_round_times():
    assert time_ticks(0, 2000, 6) == [0, 600, 1200, 1800]
    assert time_ticks(10, 50, 4) == [10, 20, 30, 40, 50]
    day = 86400
    assert time_ticks(0, 10 * day, 5) == [0, 2 * day, 4 * day, 6 * day, 8 * day, 10 * day]
    assert time_ticks(0, 0.5, 5) == [0, 0.1, 0.2, 0.3, 0.4, 0.5]


def test_duration_and_wall_labels_are_utc():
    assert [format_duration_tick(s) for s in (0, 45, 150, 3600, 11700, 2 * 86400)] == [
        "0",
        "45s",
        "2m30s",
        "1h",
        "3h15m",
        "2d",
    ]
    moment = 1_798_761_600 + 14 * 3600 + 5 * 60 + 30  # 2027-01-01T14:05:30Z
    assert format_wall_tick(moment, 10) == "14:05:30"
    assert format_wall_tick(moment, 300) == "14:05"
    assert format_wall_tick(moment, 86400) == "01-01"
    assert format_wall_tick(moment, 365 * 86400) == "2027"


def test_fixture_sweep_reduces_like_mlflow_reads_it():
    fixture = STORES_DIR / "mlflow-3.17.2-file"
    runs = json.loads((fixture / "expected.json").read_text())["runs"]
    run = next(r for r in runs if r["run_name"] == "sweep-1")
    store = open_store(store_path(fixture))
    series = series_from_history(store.metric_history(run["run_id"], "loss/val"))
    reduced = reduce_series(series.steps, series.values, 4)
    # Nine points, the last (step 45) NaN: eight drawn, the NaN counted.
    assert reduced.points == 9 and reduced.nan == 1
    assert len(reduced.xs) == 8 and max(reduced.xs) == 35
