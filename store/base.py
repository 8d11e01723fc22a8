"""The one API every backend offers; `FileStore` and `SqliteStore` implement it."""

from __future__ import annotations

import abc
import time
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .entities import (
    ACTIVE,
    ArtifactEntry,
    ArtifactRoot,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
)
from .errors import StoreError
from .parallel import WorkerPool
from .process import GcPause
from .series import Series, SeriesUpdate, series_from_history
from .series_cache import SeriesCache
from .traces import Trace, TraceInfo

if TYPE_CHECKING:
    from .follow import Follower, FollowerBackend
    from .registry import RegistryBackend, RegistryWriter


@dataclass
class StoreWarnings:
    """Problems met while reading (malformed files and the like), each said once."""

    messages: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    def add(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            self.messages.append(message)


class Store(abc.ABC):
    """A local MLflow store, read as MLflow reads it. Never writes unless asked to."""

    #: "file", "sqlite", "server" or "postgres"
    kind: str
    #: The directory or database file opened; a server's URL or a database URI (a str, with no
    #: credentials).
    location: Path | str
    #: Whether reads may use (and fill) the caches in the user's cache folder.
    use_cache: bool = True

    def __init__(self) -> None:
        self.warnings = StoreWarnings()
        #: Sentences worth showing once on opening (e.g. "opened the database beside ...").
        self.notes: list[str] = []
        #: When this store was opened (wall clock, ns): everything read through it was read
        #: after, so following it from here loses nothing (`StoreFollower(since_ns=...)`).
        self.opened_ns = time.time_ns()
        self._series: SeriesCache | None = None
        self._workers: WorkerPool | None = None

    def _series_cache(self) -> SeriesCache | None:
        """The cache of parsed long histories (store/series_cache.py), unless `use_cache` is off."""
        if not self.use_cache:
            return None
        if self._series is None:
            self._series = SeriesCache()
        return self._series

    # -- experiments -------------------------------------------------------------------------
    @abc.abstractmethod
    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Experiments, active ones only unless `include_deleted`."""

    def experiment(self, experiment_id: str) -> Experiment | None:
        for exp in self.experiments(include_deleted=True):
            if exp.experiment_id == str(experiment_id):
                return exp
        return None

    def experiment_names(self, experiment_ids: Iterable[str]) -> list[str]:
        """The name of each experiment, in order; its id when there is no such experiment."""
        # One listing of the experiments, not one per id (each is a folder scan on a file store).
        by_id = {e.experiment_id: e.name for e in self.experiments(include_deleted=True)}
        return [by_id.get(str(i), str(i)) for i in experiment_ids]

    def experiment_by_name_or_id(self, name_or_id: str) -> Experiment | None:
        exps = self.experiments(include_deleted=True)
        for exp in exps:
            if exp.name == name_or_id:
                return exp
        for exp in exps:
            if exp.experiment_id == name_or_id:
                return exp
        return None

    def experiment_activity(
        self, include_deleted: bool = False, deleted_runs: bool | None = None
    ) -> dict[str, tuple[int, int | None]]:
        """Per experiment id: the number of runs and the latest start or end time among them.

        `include_deleted` takes in deleted experiments and deleted runs; `deleted_runs=False`
        leaves deleted runs out all the same (the runs screen does not list them by default).
        """
        count_deleted = include_deleted if deleted_runs is None else deleted_runs
        out: dict[str, tuple[int, int | None]] = {}
        for run in self.runs(None, include_deleted=include_deleted):
            if not count_deleted and run.lifecycle_stage != ACTIVE:
                continue
            count, last = out.get(run.experiment_id, (0, None))
            times = [t for t in (last, run.start_time, run.end_time) if t is not None]
            out[run.experiment_id] = (count + 1, max(times) if times else None)
        return out

    def experiment_activity_stream(
        self,
        include_deleted: bool = False,
        deleted_runs: bool | None = None,
        experiments: Sequence[Experiment] | None = None,
    ) -> Generator[tuple[dict[str, tuple[int, int | None]], set[str]], None, None]:
        """`experiment_activity` as it comes: (the experiments counted so far, those still
        being counted), until none is left. A local store counts them all at once; a tracking
        server one experiment at a time (each is a listing of its runs over the network), of
        `experiments` when the caller has just read them."""
        yield self.experiment_activity(include_deleted, deleted_runs), set()

    # -- runs --------------------------------------------------------------------------------
    @abc.abstractmethod
    def iter_runs(
        self, experiment_ids: Sequence[str] | None = None, include_deleted: bool = False
    ) -> Iterator[list[Run]]:
        """Runs with params, latest metrics and tags, handed over in batches as they are read.

        `experiment_ids=None` means every experiment (deleted experiments' runs only with
        `include_deleted`). Runs come in no particular order; `inputs`/`outputs` may be None.
        """

    def runs(
        self, experiment_ids: Sequence[str] | None = None, include_deleted: bool = False
    ) -> list[Run]:
        out: list[Run] = []
        # Nobody else's code runs between the batches here: collection stays paused throughout.
        with GcPause():
            for batch in self.iter_runs(experiment_ids, include_deleted):
                out.extend(batch)
        return out

    @abc.abstractmethod
    def run(self, run_id: str) -> Run | None:
        """One run in full, `inputs` and `outputs` included; None when there is no such run."""

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        include_deleted: bool = False,
    ) -> list[Run]:
        """Runs matching MLflow's filter syntax, ordered as MLflow orders them."""
        from .search import order_runs, parse_filter, parse_order_by

        predicate = parse_filter(filter_string)
        keys = parse_order_by(order_by)
        runs = self.runs(experiment_ids, include_deleted)
        if getattr(predicate, "needs_inputs", False):
            # `datasets.*` clauses need each run's inputs, which bulk reads may leave unread.
            inputs = self.dataset_inputs(r.run_id for r in runs if r.inputs is None)
            for run in runs:
                if run.inputs is None:
                    run.inputs = inputs.get(run.run_id)
        runs = [r for r in runs if predicate(r)]
        return order_runs(runs, keys)

    def dataset_inputs(self, run_ids: Iterable[str]) -> dict[str, list[DatasetInput]]:
        """The dataset inputs of each run, for runs read without them (see `iter_runs`).

        Runs that no longer exist are left out.
        """
        out: dict[str, list[DatasetInput]] = {}
        for run_id in run_ids:
            run = self.run(run_id)
            if run is not None and run.inputs is not None:
                out[run_id] = run.inputs
        return out

    @abc.abstractmethod
    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric of one run, in the order MLflow returns them."""

    def metric_series(self, run_id: str, key: str) -> Series:
        """`metric_history` as columns: the same points in the same order, no Metric objects.

        Backends read the columns straight from the file or database, several times faster.
        """
        return series_from_history(self.metric_history(run_id, key))

    def metric_series_many(
        self, pairs: Iterable[tuple[str, str]]
    ) -> Generator[tuple[tuple[str, str], Series], None, None]:
        """`metric_series` of each (run_id, key), handed over as each is read, in any order.

        Long histories that the series cache does not hold are read in worker processes, several
        at once (store/parallel.py); the rest in this thread meanwhile.
        """
        return self.workers.read_series(self, list(pairs))

    def series_updates(
        self, pairs: Iterable[tuple[str, str]]
    ) -> Generator[SeriesUpdate, None, None]:
        """`metric_series_many` for a chart: a backend whose whole histories are slow to come
        (a tracking server) first hands over samples (`complete=False`), each replaced later
        by the whole history. Here every history comes whole, as `metric_series_many` reads it.
        """
        histories = self.metric_series_many(pairs)
        try:
            for pair, series in histories:
                yield SeriesUpdate(pair, series)
        finally:
            histories.close()

    def series_job(self, run_id: str, key: str) -> tuple | None:
        """(function, *arguments) reading this history in a worker process, which returns
        `parallel.JobResult`; None to read it in the calling thread (backends say when not)."""
        return None

    # -- logged models and registry ----------------------------------------------------------
    @abc.abstractmethod
    def logged_models(self, experiment_ids: Iterable[str] | None = None) -> list[LoggedModel]:
        """MLflow 3 logged models; empty for stores older than MLflow 3."""

    @abc.abstractmethod
    def registered_models(self, include_prompts: bool = False) -> list[RegisteredModel]:
        """Registered models with tags, aliases and latest versions per stage; prompts (which
        MLflow's model search leaves out) only with `include_prompts`."""

    @abc.abstractmethod
    def model_versions(self, name: str, workspace: str | None = None) -> list[ModelVersion]:
        """All versions of a registered model (not deleted ones), newest first.

        `workspace`: that workspace's model of this name (SQL stores of MLflow 3.12+ may hold
        one per workspace); None for all of them."""

    # -- traces ------------------------------------------------------------------------------
    def traces(self, experiment_ids: Iterable[str]) -> list[TraceInfo]:
        """MLflow 3 traces of these experiments, oldest first, without spans; [] if none."""
        return []

    def trace(self, trace_id: str) -> Trace | None:
        """One trace with its spans and assessments; None when there is no such trace."""
        return None

    def traces_linked_to_run(self, run_id: str) -> set[str]:
        """Ids of traces linked to `run_id` other than by their `mlflow.sourceRun` metadata:
        MLflow's SQL stores also link a trace to a run by an `entity_associations` row (and
        only so when genai.evaluate scores traces that were logged before it)."""
        return set()

    # -- artifacts ---------------------------------------------------------------------------
    @property
    def folder(self) -> Path | None:
        """The local folder the store's files are shown relative to (`mlruns/1/...`): the
        mlruns folder, or the database's folder; None for a store on a server."""
        return None

    @abc.abstractmethod
    def artifact_root(self, run: Run) -> ArtifactRoot:
        """The local folder of a run's artifacts, resolved relative to the store if moved."""

    def logged_model_artifact_root(self, model: LoggedModel) -> ArtifactRoot:
        """A logged model's artifact folder (MLflow 3), found again under the store when the
        store moved: an SQL store's artifacts sit beside the database."""
        from .artifacts import resolve_artifact_root

        return resolve_artifact_root(model.artifact_location, self.folder or Path.cwd())

    def can_browse_artifacts(self, root: ArtifactRoot) -> bool:
        """Whether `list_artifacts` can list this root (a local folder, here)."""
        return root.path is not None

    def list_artifacts(self, root: ArtifactRoot, rel: str = "") -> list[ArtifactEntry]:
        """The entries of folder `rel` under the artifact root, folders first, then by name."""
        from .artifacts import list_artifacts

        return list_artifacts(root, rel)

    def read_text_preview(self, root: ArtifactRoot, rel: str, limit: int) -> str | None:
        """Up to `limit` bytes of a file as text; None when the file looks binary."""
        from .artifacts import read_text_preview

        return read_text_preview(root, rel, limit)

    # -- following and writing ---------------------------------------------------------------
    def follower(
        self,
        *,
        poll_seconds: float | None = None,
        max_rate_hz: float = 4,
        since_ns: int | None = None,
    ) -> Follower:
        """A follower of this store's changes (not started: `start(callback)`); see
        store/follow/follower.py. A backend that finds changes another way overrides this."""
        from .follow import StoreFollower

        return StoreFollower(
            self, poll_seconds=poll_seconds, max_rate_hz=max_rate_hz, since_ns=since_ns
        )

    def change_source(self) -> FollowerBackend:
        """What `StoreFollower` asks about this store's changes (store/follow/backend.py)."""
        raise ValueError(f"cannot follow a {self.kind!r} store")

    def registry_writer(self, *, read_only: bool = False, **options: Any) -> RegistryWriter:
        """The writer of this store's model registry (store/registry/writer.py): it plans each
        write, and applies a plan through this store's `registry_backend`."""
        from .registry import RegistryWriter

        return RegistryWriter(self, read_only=read_only, **options)

    def registry_backend(
        self, *, busy_timeout: float | None = None, workspace: str | None = None
    ) -> RegistryBackend:
        """How this store's registry is snapshotted and written (store/registry/backend.py).

        The options mean something to the SQLite and PostgreSQL backends only: `busy_timeout`
        (seconds a write waits for another writer's lock; None: its default) and `workspace`
        (MLflow 3.12+)."""
        raise StoreError(f"cannot write to a {self.kind} store")

    @property
    def workers(self) -> WorkerPool:
        """This store's worker processes (store/parallel.py): none run until a long read needs
        them or `workers.warm()` is called; `close()` stops them."""
        if self._workers is None:
            self._workers = WorkerPool()
        return self._workers

    def close(self) -> None:
        """Release anything held open, and stop this store's worker processes."""
        if self._workers is not None:
            self._workers.shutdown()
