"""A tracking server's histories for a chart: a sample of each at once, then each one whole.

What MLflow's REST API offers for a long history (read in MLflow 3.18's server/handlers.py and
SqlAlchemyStore):
- `metrics/get-history`: pages of at most 25,000 points in (timestamp, step, value) order with
  an OFFSET, so each page has the database sort the run's rows again, then ORM objects and
  protobuf JSON: 4-7 s for a 100,000-point history on PostgreSQL.
- `get-history-bulk-interval` (under ajax-api): up to 100 runs, at most 2,500 points a run
  (MAX_RESULTS_PER_RUN), optionally only the steps in [start_step, end_step]. On a SQL store it
  cuts a run's rows, in (step, timestamp, value) order, into `max_results` NTILE buckets and
  keeps the first row of each, plus the last row: evenly spaced rows, never a bucket's minimum
  or maximum, so a spike between two kept rows is lost. No endpoint gives a minimum, a maximum
  or a count, and `runs/get` has each metric's latest point only.

So no preview cheaper than the whole history keeps every spike. What is done here:
1. A sample of each history (PREVIEW_POINTS rows, one request a run), handed over at once as a
   sample (`complete=False`). A history of fewer rows than that comes back whole, and is
   complete. Each run is asked alone and over every step: with several runs in one request, a
   file store (MLflow's AbstractStore, as older servers did) samples the union of their steps,
   and its default range starts at step 0.
2. The whole history, in step windows the server answers whole: a window answered with fewer
   rows than `max_results` is every row in it. Windows are cut at the sample's steps (each
   sample row starts a bucket of n / PREVIEW_POINTS rows), sized from the rows the first window
   held; one that comes back full is split and asked again. The server answers a window from
   its (run_uuid, key, step) index without ORM objects or an OFFSET: 0.5-0.75x get-history's
   time for the same points (bench_server_pg.py). Only on a server that says it runs a SQL
   store (server-info): on a file store every request reads the whole history, so there, and
   where the endpoint is missing or refuses a window, the whole history comes from get-history
   pages.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ..series import Series, SeriesUpdate, is_sorted
from ..series_cache import SeriesCache
from . import convert
from .errors import BadRequest, EndpointMissing, NotFound, ServerError

if TYPE_CHECKING:
    from .store import ServerStore

BULK_INTERVAL = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
SERVER_INFO = "/api/3.0/mlflow/server-info"
#: The most rows a run the bulk-interval endpoint answers (MLflow's MAX_RESULTS_PER_RUN).
MAX_PER_RUN = 2500
#: Rows of each history's sample: a few for each of a chart's columns, and small enough to
#: come at once.
PREVIEW_POINTS = 500
#: Rows aimed at per window, below MAX_PER_RUN: a window holding somewhat more rows than the
#: sample foretold still comes back whole.
WINDOW_ROWS = 2000
#: The int64 step range (every step MLflow can store).
LOWEST, HIGHEST = -(2**63), 2**63 - 1

#: Steps, timestamps and values of rows, in the order the endpoint gives them (by step).
Rows = tuple[list[int], list[int], list[float]]


def ask(store: ServerStore, run_id: str, key: str, lo: int, hi: int, points: int) -> Rows:
    """At most `points` rows of the history with steps in [lo, hi] (all of them if fewer)."""
    params = {
        "run_ids": [run_id],
        "metric_key": key,
        "start_step": lo,
        "end_step": hi,
        "max_results": points,
    }
    metrics = store.client.get_json(BULK_INTERVAL, params).get("metrics") or ()
    return (
        [convert.integer(m.get("step")) or 0 for m in metrics],
        [convert.integer(m.get("timestamp")) or 0 for m in metrics],
        [convert.number(m.get("value")) for m in metrics],
    )


def in_history_order(rows: Rows) -> Series:
    """The rows as get-history orders them, (timestamp, step, value): the step order already
    is that when timestamps never go down (the usual case); otherwise sorted (stable, so rows
    of one timestamp and step keep the server's value order)."""
    steps, timestamps, values = rows
    if not is_sorted(array("q", timestamps)):
        order = sorted(range(len(steps)), key=lambda i: (timestamps[i], steps[i]))
        steps = [steps[i] for i in order]
        timestamps = [timestamps[i] for i in order]
        values = [values[i] for i in order]
    return Series(array("q", steps), array("q", timestamps), array("d", values))


def runs_sql_store(store: ServerStore) -> bool:
    """Whether the server says it keeps runs in a SQL database (MLflow 3's server-info)."""
    try:
        return store.client.get_json(SERVER_INFO).get("store_type") == "SqlStore"
    except ServerError:
        return False


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """Where a finished run's history is kept in the series cache, and the signature that
    proves it unchanged (see `ServerStore.metric_series`)."""

    cache: SeriesCache
    name: str
    signature: list[Any]

    def holds(self) -> bool:
        return self.cache.holds(self.name, self.signature)

    def keep_or_read(
        self, read: Callable[[], tuple[array, array, array]]
    ) -> tuple[array, array, array]:
        """The cached columns, or `read()`'s, then kept (`SeriesCache.keyed`)."""
        return self.cache.keyed(self.name, self.signature, read)

    def keep(self, series: Series) -> None:
        self.keep_or_read(lambda: (series.steps, series.timestamps, series.values))


@dataclass(slots=True)
class Window:
    """Steps [lo, hi] of one history; `first`/`last` index the sample's step bounds it spans
    (None once split between two of them)."""

    lo: int
    hi: int
    first: int | None = None
    last: int | None = None


@dataclass(slots=True)
class Whole:
    """One history being read in windows."""

    pair: tuple[str, str]
    #: (step, index in the sample) of each distinct step of the sample, in step order.
    bounds: list[tuple[int, int]]
    #: Rows in the sample (each starts a bucket of rows of equal size).
    sampled: int
    #: Where it is kept in the series cache (a finished run's), or None.
    cache_entry: CacheEntry | None
    parts: list[tuple[int, Rows]] = field(default_factory=list)
    asked: int = 0
    given_up: bool = False

    def step(self, bound: int) -> int:
        return self.bounds[bound][0] if bound < len(self.bounds) else HIGHEST

    def window(self, first: int, last: int) -> Window:
        """Steps from bound `first` up to (not including) bound `last`."""
        hi = self.step(last) - 1 if last < len(self.bounds) else HIGHEST
        return Window(self.step(first), hi, first, last)

    def buckets(self, first: int, last: int) -> int:
        end = self.bounds[last][1] if last < len(self.bounds) else self.sampled
        return max(end - self.bounds[first][1], 1)

    def plan(self, first: int, rows_per_bucket: float) -> list[Window]:
        """Windows from bound `first` to the end, each of about WINDOW_ROWS rows."""
        windows = []
        while first < len(self.bounds):
            last = first + 1
            while (
                last < len(self.bounds)
                and self.buckets(first, last + 1) * rows_per_bucket <= WINDOW_ROWS
            ):
                last += 1
            windows.append(self.window(first, last))
            first = last
        return windows

    def halves(self, window: Window) -> list[Window] | None:
        """A full window cut in two; None when it cannot be (one step, or past the sample)."""
        first, last = window.first, window.last
        if first is not None and last is not None and last - first >= 2:
            middle = (first + last) // 2
            return [self.window(first, middle), self.window(middle, last)]
        hi = window.hi
        if hi == HIGHEST:
            # Open above: cut at the sample's last step (rows logged since lie past it).
            hi = self.bounds[-1][0]
            if window.lo > hi:
                return None
            if window.lo == hi:
                return [Window(hi, hi), Window(hi + 1, HIGHEST)]
            return [Window(window.lo, hi), Window(hi + 1, HIGHEST)]
        if hi <= window.lo:
            return None
        middle = (window.lo + hi) // 2
        return [Window(window.lo, middle), Window(middle + 1, hi)]

    def series(self) -> Series:
        self.parts.sort(key=lambda part: part[0])
        rows: Rows = ([], [], [])
        for _, (steps, timestamps, values) in self.parts:
            rows[0].extend(steps)
            rows[1].extend(timestamps)
            rows[2].extend(values)
        return in_history_order(rows)


def first_guess(whole: Whole) -> float:
    """Rows per bucket before any window came: one row a step (the usual logging)."""
    first, last = whole.bounds[0][0], whole.bounds[-1][0]
    return max((last - first) / max(whole.sampled - 1, 1), 1.0)


class Reading:
    """The histories of `pairs`, as `ServerStore.series_updates` hands them over."""

    def __init__(self, store: ServerStore, pairs: Iterable[tuple[str, str]]) -> None:
        self.store = store
        self.pairs = list(dict.fromkeys(pairs))
        self.pending: dict[Future, Callable[[Any], None]] = {}
        self.out: list[SeriesUpdate] = []

    def updates(self) -> Generator[SeriesUpdate, None, None]:
        for pair in self.pairs:
            self.submit(partial(self.open, pair), _call)
        try:
            while self.pending:
                done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
                for future in done:
                    then = self.pending.pop(future)
                    then(future.result())
                yield from self.out
                self.out.clear()
        finally:
            # The reader stopped (the chart was left): nothing more is asked.
            for future in self.pending:
                future.cancel()

    def submit(self, job: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self.pending[self.store.executor().submit(job)] = then

    # -- in the pool's threads ---------------------------------------------------------------
    def open(self, pair: tuple[str, str]) -> Callable[[], None]:
        """The cached history, or a sample; returns what the reader's thread does next."""
        store, (run_id, key) = self.store, pair
        entry = store.cache_entry(run_id, key)
        if entry is not None and entry.holds():
            cached = store.kept_series(entry, run_id, key)
            return partial(self.done, pair, cached)
        if not store.bulk_interval:
            return partial(self.read_pages, pair, entry)
        try:
            rows = ask(store, run_id, key, LOWEST, HIGHEST, PREVIEW_POINTS)
        except EndpointMissing:
            store.bulk_interval = False
            return partial(self.read_pages, pair, entry)
        except BadRequest:
            return partial(self.read_pages, pair, entry)
        except NotFound:
            rows = ([], [], [])
        if len(rows[2]) < PREVIEW_POINTS:  # fewer rows than asked for: every row
            whole = in_history_order(rows)
            return partial(self.done, pair, whole)
        windows = store.windows_allowed()
        return partial(self.sampled, pair, rows, entry, windows)

    # -- in the reader's thread --------------------------------------------------------------
    def done(self, pair: tuple[str, str], series: Series) -> None:
        self.out.append(SeriesUpdate(pair, series))

    def read_pages(self, pair: tuple[str, str], entry: CacheEntry | None) -> None:
        """The whole history from get-history pages (through the series cache)."""
        self.submit(
            lambda: self.store.kept_series(entry, *pair), lambda series: self.done(pair, series)
        )

    def sampled(
        self, pair: tuple[str, str], rows: Rows, entry: CacheEntry | None, windows: bool
    ) -> None:
        self.out.append(SeriesUpdate(pair, in_history_order(rows), complete=False))
        if not windows:
            self.read_pages(pair, entry)
            return
        bounds: list[tuple[int, int]] = []
        for i, step in enumerate(rows[0]):
            if not bounds or step != bounds[-1][0]:
                bounds.append((step, i))
        whole = Whole(pair, bounds, len(rows[0]), entry)
        # The first window, of half the rows aimed at by the first guess, tells the real
        # rows per bucket; the rest are planned from it.
        guess = first_guess(whole)
        last = 1
        while last < len(bounds) and whole.buckets(0, last + 1) * guess <= WINDOW_ROWS / 2:
            last += 1
        self.ask_window(whole, whole.window(0, last), first=True)

    def ask_window(self, whole: Whole, window: Window, first: bool = False) -> None:
        run_id, key = whole.pair
        whole.asked += 1

        def job() -> Rows | None:
            try:
                return ask(self.store, run_id, key, window.lo, window.hi, MAX_PER_RUN)
            except BadRequest:  # e.g. a server taking steps as 32-bit only
                return None

        def then(rows: Rows | None) -> None:
            self.window_read(whole, window, rows, first)

        self.submit(job, then)

    def window_read(self, whole: Whole, window: Window, rows: Rows | None, first: bool) -> None:
        whole.asked -= 1
        self.out.append(SeriesUpdate(whole.pair, None, complete=False))
        if whole.given_up:
            return
        full = rows is not None and len(rows[2]) >= MAX_PER_RUN
        halves = whole.halves(window) if full else None
        if rows is None or (full and halves is None):
            # Refused, or one step holds more rows than a window gives: pages instead.
            whole.given_up = True
            self.read_pages(whole.pair, whole.cache_entry)
            return
        if halves is None:
            whole.parts.append((window.lo, rows))
        else:
            for half in halves:
                self.ask_window(whole, half)
        if first and window.last is not None and window.last < len(whole.bounds):
            # A full window held more rows than it gave: twice as many are assumed.
            held = (2 if full else 1) * len(rows[2]) / whole.buckets(0, window.last)
            for later in whole.plan(window.last, held or first_guess(whole)):
                self.ask_window(whole, later)
        if whole.asked == 0:
            series = whole.series()
            if whole.cache_entry is not None:
                whole.cache_entry.keep(series)
            self.done(whole.pair, series)


def _call(step: Callable[[], None]) -> None:
    step()
