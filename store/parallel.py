"""Long metric histories, and the first scan of a large file store, read in worker processes.

The first look at ten 100,000-point histories is spent reading them: parsing metric files
(~55 ms per 100,000 lines through json's C scanner) or building SQLite rows (~90 ms per
100,000). That is CPU work under the GIL, which threads cannot share out but processes can.
`WorkerPool.read_series` sends each long history that the series cache does not already hold to a pool
of worker processes (one per CPU, at most MAX_WORKERS) and reads the rest in the calling thread
meanwhile. The answer is the same either way; only where the work runs differs.

- Workers are forked from a fork server (multiprocessing's "forkserver": a small process that
  imported `store` and forks a worker on request), never from the app, whose other threads may
  hold locks at the moment of a fork. `warm()` starts the server ahead of need, off the caller's
  thread, as it takes a tenth of a second or more. Each Store owns its pool (`Store.workers`)
  and stops it on `close()`.
- A first scan of a file store with thousands of runs the scan cache does not hold yet is
  shared out the same way, a few hundred run folders a job (`map_in_order`); each job's records
  come back as one `marshal` string of plain values.
- A job is plain values (a metric file's path; or the database, run and key) and its result is
  the three columns as raw array bytes plus a warning sentence or None. A worker fills the
  series cache as the calling thread would.
- Whatever the pool cannot do (no fork server on this platform, a single CPU, a worker killed)
  falls back to reading in the calling thread.
- Workers never write to the terminal (their stdout and stderr are /dev/null), and run at a
  lower priority than the app, whose screen comes first where CPUs are few.
- $MLTUI_WORKERS sets the number of workers; 0 turns them off.

As with any use of multiprocessing, a worker imports the main script as `__mp_main__`: a
script reading long histories must keep its own work under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from array import array
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker
from typing import TYPE_CHECKING, Any

from .series import Series

if TYPE_CHECKING:
    from .base import Store

#: At most this many worker processes, however many CPUs there are.
MAX_WORKERS = 8
#: A metric file at least this long (~60,000 points) is worth a worker; shorter ones parse here.
MIN_JOB_BYTES = 1 << 21
#: An SQLite history whose last step is at least this is worth a worker.
MIN_JOB_STEPS = 50_000
#: Workers' niceness: below the app's priority, so that the screen stays responsive.
WORKER_NICE = 5
#: A scan with at least this many run folders left to read (after its first batch) is shared
#: out: below it, starting the workers costs about what they would save.
MIN_SCAN_RUNS = 1000
#: Run folders per scan job: sending costs little next to reading this many, and the jobs are
#: still small enough to keep every worker busy to the end.
SCAN_CHUNK = 250

#: (steps, timestamps, values as the bytes of arrays 'q', 'q', 'd'; a warning or None).
JobResult = tuple[bytes, bytes, bytes, "str | None"]
#: Modules the fork server imports once, so that each worker starts with the readers loaded
#: (named, not imported: this module imports no backend).
PRELOAD = ("mltui.store.file.reader", "mltui.store.sqlite.reader")


def worker_count() -> int:
    """How many worker processes the pool may have: the CPUs this process may run on, at most
    MAX_WORKERS, or what $MLTUI_WORKERS says (0 or 1: none, everything in the calling thread)."""
    wanted = os.environ.get("MLTUI_WORKERS", "").strip()
    if wanted.isdigit():
        return min(int(wanted), MAX_WORKERS)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_WORKERS)


def _possible() -> bool:
    """Whether a pool can be had here at all: two workers or more, and a fork server."""
    return worker_count() >= 2 and "forkserver" in multiprocessing.get_all_start_methods()


def _start_tracker() -> None:
    """Start multiprocessing's resource tracker with its stderr on /dev/null.

    The tracker passes `sys.stderr.fileno()` to its process, and inside a Textual app
    `sys.stderr` is a capture object with no real descriptor (-1), which fails the start.
    """
    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
        resource_tracker.ensure_running()


class WorkerPool:
    """The worker processes of one Store: made on first need, stopped by `shutdown()` (the
    Store's `close()`); a read after that starts them again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        #: Set once the pool proved unusable here: every later read stays in the calling thread.
        self.unusable = False
        #: Whether `warm()` has started this pool's workers already.
        self.warmed = False
        #: How many histories workers have read for this pool (benchmarks and tests report it).
        self.reads = 0
        #: How many `map_in_order` jobs workers have done for this pool (idem).
        self.jobs = 0

    @property
    def started(self) -> bool:
        return self._pool is not None

    def executor(self) -> ProcessPoolExecutor | None:
        """The pool, made on first use; None where there is no point or no way to have one."""
        with self._lock:
            if self._pool is None and not self.unusable:
                if not _possible():
                    self.unusable = True
                    return None
                try:
                    _start_tracker()
                    context = multiprocessing.get_context("forkserver")
                    context.set_forkserver_preload(list(PRELOAD))
                    self._pool = ProcessPoolExecutor(
                        worker_count(), mp_context=context, initializer=_quiet
                    )
                except Exception:  # whatever stops a pool here, reading in the thread still works
                    self.unusable = True
            return self._pool

    def give_up(self) -> None:
        """Stop using the pool (it broke); reads go on in the calling thread."""
        with self._lock:
            pool, self._pool, self.unusable, self.warmed = self._pool, None, True, False
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Start the fork server and the workers in the background, so a first chart need not
        wait."""
        with self._lock:
            if self.unusable or self.warmed:
                return
            self.warmed = True

        def start() -> None:
            pool = self.executor()
            if pool is None:
                return
            try:
                for future in [pool.submit(_ready) for _ in range(worker_count())]:
                    future.result()
            except Exception:
                self.give_up()

        threading.Thread(target=start, name="mltui-pool-warm", daemon=True).start()

    def warm_for(self, runs: Iterable[Any]) -> None:
        """`warm()` if one of `runs` has a metric long enough (judged by its latest step) for the
        workers to read: stores of short runs never start them."""
        if any(m.step >= MIN_JOB_STEPS for run in runs for m in run.metrics.values()):
            self.warm()

    def shutdown(self) -> None:
        """Stop the workers (unfinished jobs are dropped); a later read starts a new pool."""
        with self._lock:
            pool, self._pool, self.warmed = self._pool, None, False
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def read_series(
        self, store: Store, pairs: Sequence[tuple[str, str]]
    ) -> Generator[tuple[tuple[str, str], Series], None, None]:
        """`store.metric_series` of each (run_id, key), handed over as each is read, in any
        order. Closing the iterator early drops the jobs not yet started."""
        jobs: dict[tuple[str, str], tuple] = {}
        here: list[tuple[str, str]] = []
        for pair in pairs:
            job = store.series_job(*pair)
            if job is None:
                here.append(pair)
            else:
                jobs[pair] = job
        pool = self.executor() if len(jobs) >= 2 else None
        futures: dict[Future, tuple[str, str]] = {}
        if pool is not None:
            try:
                for pair, (function, *args) in jobs.items():
                    futures[pool.submit(function, *args)] = pair
            except Exception:  # a pool that cannot take work (broken, shut down, no processes)
                self.give_up()
                for future in futures:
                    future.cancel()
                futures = {}
        if not futures:
            here = list(pairs)
        try:
            for pair in here:
                yield pair, store.metric_series(*pair)
            for future in as_completed(futures):
                pair = futures[future]
                result: JobResult | None = self._result(future)
                if result is None:
                    yield pair, store.metric_series(*pair)
                    continue
                self.reads += 1
                steps, timestamps, values, warning = result
                if warning:
                    store.warnings.add(warning)
                yield (
                    pair,
                    Series(_column("q", steps), _column("q", timestamps), _column("d", values)),
                )
        finally:
            for future in futures:
                future.cancel()

    def map_in_order(
        self, function: Callable[..., Any], arg_lists: Sequence[tuple]
    ) -> Iterator[Any] | None:
        """`function(*args)` for each of `arg_lists`, computed by the workers, handed over in
        order.

        None when there can be no pool here (the caller then works as it would without one).
        The jobs are sent from a thread of their own, as starting the workers takes a moment
        that the caller can use. A job the pool fails at (a worker killed, say, or a pool that
        would not start) is computed here instead, so every result comes. Closing the iterator
        early drops the jobs not yet started.
        """
        if self.unusable or not _possible():
            return None
        futures: list[Future] = []

        def send() -> None:
            pool = self.executor()
            if pool is None:
                return
            try:
                for args in arg_lists:
                    futures.append(pool.submit(function, *args))
            except Exception:  # a pool that cannot take work (broken, shut down, no processes)
                self.give_up()

        sender = threading.Thread(target=send, name="mltui-pool-send", daemon=True)
        sender.start()
        return self._in_order(function, arg_lists, sender, futures)

    def _in_order(
        self,
        function: Callable[..., Any],
        arg_lists: Sequence[tuple],
        sender: threading.Thread,
        futures: list[Future],
    ) -> Iterator[Any]:
        try:
            sender.join()
            for index, args in enumerate(arg_lists):
                if index >= len(futures):  # never sent: the pool failed first
                    yield function(*args)
                    continue
                result = self._result(futures[index])
                if result is None:
                    result = function(*args)
                else:
                    self.jobs += 1
                yield result
        finally:
            sender.join()
            for future in futures:
                future.cancel()

    def _result(self, future: Future) -> Any | None:
        """A job's result, or None when it failed: the caller then does the job itself.

        A broken pool is given up; an error of the job itself (an unreadable database, say) is
        met again, and raised, by doing the job in the caller as without the pool.
        """
        try:
            return future.result()
        except Exception as exc:
            if isinstance(exc, BrokenProcessPool):
                self.give_up()
            return None


def _column(typecode: str, data: bytes) -> array:
    column = array(typecode)
    column.frombytes(data)
    return column


def as_result(
    steps: Sequence, timestamps: Sequence, values: Sequence, warning: str | None
) -> JobResult:
    """A job's result: the columns as raw array bytes (cheap to send between processes)."""
    return (
        _as_array("q", steps).tobytes(),
        _as_array("q", timestamps).tobytes(),
        _as_array("d", values).tobytes(),
        warning,
    )


def _as_array(typecode: str, column: Sequence) -> array:
    if type(column) is array and column.typecode == typecode:
        return column
    return array(typecode, column)


# -- in the workers -------------------------------------------------------------------------------
def _quiet() -> None:
    """Point the worker's stdout and stderr at /dev/null: the terminal belongs to the app. And
    lower its priority: where CPUs are few, the app's own thread (its screen) comes first."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICE)
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)


def _ready() -> bool:
    return True
