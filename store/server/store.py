"""`ServerStore`: an MLflow tracking server read through its REST API (`mltui http://host:5000`)."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import posixpath
import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..artifacts import preview_text
from ..base import Store
from ..entities import (
    TERMINAL_STATUSES,
    ArtifactEntry,
    ArtifactRoot,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    logged_model_order,
)
from ..errors import FilterError, StoreError
from ..search import parse_filter, parse_order_by
from ..series import Series, SeriesUpdate, series_from_history
from ..traces import Trace, TraceInfo
from . import convert
from .errors import BadRequest, EndpointMissing, NotFound, ServerFailed
from .http import ServerClient
from .series import CacheEntry, Reading, runs_sql_store

if TYPE_CHECKING:
    from .follow import ServerFollower
    from .registry import RestBackend

API = "/api/2.0/mlflow"
EXPERIMENTS_SEARCH = f"{API}/experiments/search"
RUNS_SEARCH = f"{API}/runs/search"
RUNS_GET = f"{API}/runs/get"
METRIC_HISTORY = f"{API}/metrics/get-history"
LOGGED_MODELS_SEARCH = f"{API}/logged-models/search"
REGISTERED_MODELS_SEARCH = f"{API}/registered-models/search"
REGISTERED_MODEL_GET = f"{API}/registered-models/get"
MODEL_VERSIONS_SEARCH = f"{API}/model-versions/search"
ARTIFACT_PROXY = "/api/2.0/mlflow-artifacts/artifacts"
TRACES_SEARCH = "/api/3.0/mlflow/traces/search"
TRACE_GET = "/api/3.0/mlflow/traces/get"
#: The most traces search_traces answers per page.
TRACE_PAGE = 500

#: Runs per page: a small first page puts rows on screen at once. Where the server's page token
#: is MLflow's offset, the rest comes in pages of the second size, PAGES_IN_FLIGHT at once
#: (`_offset_pages`): pages of 1,000 shared the server's workers out more evenly than 2,500 on
#: the 10,000-run sweep (bench_server_pg.py --listing-rounds). Otherwise one page after the
#: other, growing to MLflow's largest; a file-store-backed server reads every run for each
#: page, so after a slow page the rest comes in one.
RUN_PAGE_SIZES = (100, 1000, 50_000)
#: Pages asked for at once after the first, each of the second size, when the server's page
#: token is MLflow's offset (`_offset_pages`): `mlflow server` runs 4 workers by default, and
#: its time per listing (turning rows into entities, then protobuf and JSON) is spread over
#: them. One worker left for a chart's or a run page's requests meanwhile. 1: one at a time.
PAGES_IN_FLIGHT = 3
#: Pages when runs are only counted (the experiments list): few requests, but a small first
#: page, so that a runs page opened while the counts start shares the server with little (the
#: counts' later pages wait for its listing: see `_wait_for_listings`).
COUNT_PAGE_SIZES = (500, 2500, 50_000)
#: The longest a count's page waits for run listings to end (a listing left unfinished and
#: not closed would otherwise hold the counts back until collected).
COUNTS_WAIT_SECONDS = 120.0
#: A page slower than this says the server scans every run per page.
SLOW_PAGE_SECONDS = 2.0
#: The server's largest page of metric history (MLflow's GET_METRIC_HISTORY_MAX_RESULTS).
HISTORY_PAGE = 25_000
#: Requests in flight at once for histories and run details: enough to hide round trips,
#: few enough not to swamp a shared server (MLflow's default server has few workers).
POOL_SIZE = 4
#: Threads counting the experiments list's runs: a pool of their own, so that counts queued
#: for many experiments (each waiting while runs are listed) never hold up a chart's or a run
#: page's requests in the shared pool.
COUNT_POOL_SIZE = 2
PROMPT_FILTER = "tags.`mlflow.prompt.is_prompt` = 'true'"


@dataclass(slots=True)
class ServerArtifactRoot(ArtifactRoot):
    """A run's or model's artifacts as the server's artifact proxy serves them."""

    #: The path under the proxy (`mlflow-artifacts:/<this>`); None when not proxied.
    proxy_path: str | None = None


class ServerStore(Store):
    """An MLflow tracking server, read over HTTP; its registry is written only through
    `RegistryWriter` (the plan-and-confirm flow), never by reading."""

    kind = "server"
    #: The server's URL, without credentials.
    location: str
    #: Finished runs' long histories are kept in the series cache (see `metric_series`).
    use_cache = True

    def __init__(self, url: str, *, client: ServerClient | None = None) -> None:
        super().__init__()
        self.client = client or ServerClient(url)
        self.location = self.client.location
        #: Thread pools by name (`_pool_of`), each made when first needed.
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._pools_lock = threading.Lock()
        #: Whether the server has the bulk-interval endpoint (False once it said it has not),
        #: and whether histories may be read in its windows (None: not asked yet).
        self.bulk_interval = True
        self._windows: bool | None = None
        #: Run listings in flight (`iter_runs`): the experiments list's counts wait for them.
        self._listings = 0
        self._listings_over = threading.Condition()
        # One small request now, so a wrong URL, a refused connection or refused credentials
        # is said on opening rather than on the first screen.
        self.client.get_json(EXPERIMENTS_SEARCH, {"max_results": 1})

    def __repr__(self) -> str:
        return f"ServerStore({self.location!r})"

    # -- paging ------------------------------------------------------------------------------
    def _pages(
        self, fetch: Callable[[str | None], dict[str, Any]], key: str, token: str | None = None
    ) -> Iterator[list]:
        """Each page's `key` list from `token` on, following next_page_token until the last."""
        seen = {token}
        while True:
            page = fetch(token)
            yield page.get(key) or []
            token = page.get("next_page_token") or None
            if token is None or token in seen:  # a repeated token would loop forever
                return
            seen.add(token)

    def _get_pages(self, endpoint: str, params: dict[str, Any], key: str) -> Iterator[list]:
        return self._pages(
            lambda token: self.client.get_json(endpoint, {**params, "page_token": token}), key
        )

    # -- experiments -------------------------------------------------------------------------
    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        params = {"max_results": 1000, "view_type": "ALL" if include_deleted else "ACTIVE_ONLY"}
        return [
            convert.experiment(e)
            for page in self._get_pages(EXPERIMENTS_SEARCH, params, "experiments")
            for e in page
        ]

    # -- runs --------------------------------------------------------------------------------
    def _experiment_ids(self, experiment_ids: Sequence[str] | None, include_deleted: bool):
        if experiment_ids is None:
            return [e.experiment_id for e in self.experiments(include_deleted)]
        return [str(i) for i in experiment_ids]

    def _search(
        self,
        experiment_ids: list[str],
        include_deleted: bool,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        page_sizes: Sequence[int] | None = None,
        after_listings: bool = False,
    ) -> Iterator[list[Run]]:
        """Pages of runs (of RUN_PAGE_SIZES unless given); after the first, several at once
        where the server's page token is an offset (`_offset_pages`). With `after_listings`,
        one at a time, each asked for only while no run listing is in flight (counts: the
        server's time goes to the listing on screen first)."""
        if not experiment_ids:
            return
        page_sizes = page_sizes or RUN_PAGE_SIZES
        body: dict[str, Any] = {
            "experiment_ids": experiment_ids,
            "run_view_type": "ALL" if include_deleted else "ACTIVE_ONLY",
            "filter": filter_string,
            "order_by": list(order_by),
        }
        sizes = list(page_sizes)

        def fetch(token: str | None) -> dict[str, Any]:
            size = sizes.pop(0) if sizes else page_sizes[-1]
            if after_listings:
                self._wait_for_listings()
            started = time.monotonic()
            page = self._runs_page(body, size, token)
            if time.monotonic() - started > SLOW_PAGE_SECONDS:
                # The server scans every run for each page (a file-store backend): the rest
                # comes in one page rather than several scans.
                sizes.clear()
            return page

        first = fetch(None)
        runs = [convert.run(r) for r in first.get("runs") or ()]
        yield runs
        token = first.get("next_page_token") or None
        if token is None:
            return
        if (
            not after_listings  # counts: one page at a time, behind the listings
            and PAGES_IN_FLIGHT > 1
            and sizes  # a second size, and not a server that scans every run per page
            and _offset_of(token) == page_sizes[0]
        ):
            seen = {r.run_id for r in runs}
            yield from self._offset_pages(body, page_sizes[0], page_sizes[1], seen)
            return
        for page in self._pages(fetch, "runs", token):
            yield [convert.run(r) for r in page]

    def _runs_page(self, body: dict[str, Any], size: int, token: str | None) -> dict[str, Any]:
        """One runs/search page; a filter the server refuses is a FilterError."""
        try:
            return self.client.post_json(
                RUNS_SEARCH, {**body, "max_results": size, "page_token": token}
            )
        except BadRequest as exc:
            raise FilterError(str(exc)) from None

    def _offset_pages(
        self, body: dict[str, Any], start: int, size: int, seen: set[str]
    ) -> Iterator[list[Run]]:
        """The runs from offset `start` on, in pages of `size` asked for PAGES_IN_FLIGHT at a
        time with page tokens made here (MLflow's offsets), handed over in order. It ends at
        the first short page. A run already handed over is dropped (runs created meanwhile
        shift the offsets). Pages in their own pool: a chart's or a run page's requests in the
        shared one never queue behind them. Stopped early, the pages not yet sent are cancelled
        and those in flight left to end (at most PAGES_IN_FLIGHT), never waited for.

        A page that failed (5xx) is asked for once more, from this thread: an MLflow server
        without Flask-WTF (no `mlflow[auth]`) imports its auth module afresh in every
        runs/search, and two at once in one worker may find it half imported (HTTP 500)."""
        pool = self._pool_of("pages")
        offsets = itertools.count(start, size)
        closed = f"{self.location} was closed while its runs were listed"

        def ask() -> tuple[str, Future]:
            self.client.count_for_thread()  # a follower's rate bound counts its listing's pages
            token = _offset_token(next(offsets))
            try:
                return token, pool.submit(self._runs_page, body, size, token)
            except RuntimeError:  # the pool is shut down: the store was closed
                raise StoreError(closed) from None

        in_flight = deque(ask() for _ in range(PAGES_IN_FLIGHT))
        try:
            while True:
                token, future = in_flight.popleft()
                try:
                    page = future.result()
                except ServerFailed:
                    page = self._runs_page(body, size, token)
                except CancelledError:  # by close()
                    raise StoreError(closed) from None
                found = page.get("runs") or []
                last = len(found) < size or not page.get("next_page_token")
                if not last:
                    in_flight.append(ask())
                runs = [run for run in map(convert.run, found) if run.run_id not in seen]
                seen.update(run.run_id for run in runs)
                if runs:
                    yield runs
                if last:
                    return
        finally:
            for _, future in in_flight:
                future.cancel()

    @contextmanager
    def _listing(self) -> Iterator[None]:
        with self._listings_over:
            self._listings += 1
        try:
            yield
        finally:
            with self._listings_over:
                self._listings -= 1
                self._listings_over.notify_all()

    def _wait_for_listings(self) -> None:
        with self._listings_over:
            self._listings_over.wait_for(lambda: self._listings == 0, COUNTS_WAIT_SECONDS)

    def experiment_activity_stream(
        self,
        include_deleted: bool = False,
        deleted_runs: bool | None = None,
        experiments: Sequence[Experiment] | None = None,
    ) -> Generator[tuple[dict[str, tuple[int, int | None]], set[str]], None, None]:
        """Each experiment's runs counted apart, several at once, each handed over when done:
        the REST API has no count, so a count is a listing of that experiment's runs (only the
        active ones unless `deleted_runs`), in large pages. Small experiments come first. A
        count waits while runs are listed (`iter_runs`: the runs page opened meanwhile): the
        server, often on few cores, gives its time to the rows wanted on screen first."""
        count_deleted = include_deleted if deleted_runs is None else deleted_runs
        if experiments is None:
            experiments = self.experiments(include_deleted)
        ids = [e.experiment_id for e in experiments]
        done: dict[str, tuple[int, int | None]] = {}
        pending = set(ids)
        if not ids:
            yield done, pending
        counts = self._in_pool(
            lambda i: self._activity_of(i, count_deleted),
            ids,
            ordered=False,
            pool=self._pool_of("count"),
        )
        for exp_id, activity in counts:
            done[exp_id] = activity
            pending.discard(exp_id)
            yield dict(done), set(pending)

    def _activity_of(self, experiment_id: str, deleted_runs: bool) -> tuple[int, int | None]:
        """The number of runs of one experiment and the latest start or end among them."""
        count, last = 0, None
        pages = self._search(
            [experiment_id], deleted_runs, page_sizes=COUNT_PAGE_SIZES, after_listings=True
        )
        for page in pages:
            count += len(page)
            times = [t for r in page for t in (r.start_time, r.end_time) if t is not None]
            if times:
                last = max(times) if last is None else max(last, *times)
        return count, last

    def iter_runs(
        self, experiment_ids: Sequence[str] | None = None, include_deleted: bool = False
    ) -> Iterator[list[Run]]:
        """Runs, a page at a time as each arrives (the first page is small: rows show at once);
        the experiments list's counts wait meanwhile."""
        ids = self._experiment_ids(experiment_ids, include_deleted)
        with self._listing():
            yield from self._search(ids, include_deleted)

    def search_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        filter_string: str = "",
        order_by: Sequence[str] = (),
        include_deleted: bool = False,
    ) -> list[Run]:
        """Filtered and ordered by the server; the expression is checked here first, so a
        mistake reads as it does on a local store."""
        parse_filter(filter_string)
        parse_order_by(order_by)
        ids = self._experiment_ids(experiment_ids, include_deleted)
        out: list[Run] = []
        for batch in self._search(ids, include_deleted, filter_string, order_by):
            out.extend(batch)
        return out

    def newest_runs(self, experiment_ids: Sequence[str], count: int) -> list[Run]:
        """The `count` most recently started active runs of these experiments: one request."""
        if not experiment_ids:
            return []
        body = {
            "experiment_ids": list(experiment_ids),
            "run_view_type": "ACTIVE_ONLY",
            "order_by": ["attributes.start_time DESC"],
            "max_results": count,
        }
        return [convert.run(r) for r in self.client.post_json(RUNS_SEARCH, body).get("runs") or ()]

    def run(self, run_id: str) -> Run | None:
        try:
            data = self.client.get_json(RUNS_GET, {"run_id": run_id})
        except (NotFound, BadRequest):
            return None
        return convert.run(data.get("run") or {})

    def dataset_inputs(self, run_ids: Iterable[str]) -> dict[str, list[DatasetInput]]:
        out: dict[str, list[DatasetInput]] = {}
        for run in self._in_pool(self.run, list(run_ids)):
            if run is not None and run.inputs is not None:
                out[run.run_id] = run.inputs
        return out

    # -- metric histories --------------------------------------------------------------------
    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        params = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
        try:
            return [
                convert.metric(m)
                for page in self._get_pages(METRIC_HISTORY, params, "metrics")
                for m in page
            ]
        except NotFound:
            return []

    def metric_series(self, run_id: str, key: str) -> Series:
        """The full history. A finished run's long histories are kept in the series cache
        (user's cache folder), keyed by the run's end and the metric's latest point: reopened,
        a chart costs one `runs/get` a run instead of the server's slow history pages. (A point
        logged into a finished run later, at a step below its latest, is not seen until then.)"""
        return self.kept_series(self.cache_entry(run_id, key), run_id, key)

    def cache_entry(self, run_id: str, key: str) -> CacheEntry | None:
        """Where the series cache keeps this history: only a finished run's (one `runs/get`)."""
        cache = self._series_cache()
        run = self.run(run_id) if cache is not None else None
        if cache is None or run is None or run.status not in TERMINAL_STATUSES:
            return None
        latest = run.metrics.get(key)
        signature = [
            run.status,
            run.end_time,
            None if latest is None else [latest.step, latest.timestamp, repr(latest.value)],
        ]
        return CacheEntry(cache, "server\0" + "\0".join((self.location, run_id, key)), signature)

    def kept_series(self, entry: CacheEntry | None, run_id: str, key: str) -> Series:
        """The full history from get-history pages, or from the cache `entry` when it holds it."""

        def read() -> tuple[array, array, array]:
            series = series_from_history(self.metric_history(run_id, key))
            return series.steps, series.timestamps, series.values

        return Series(*(read() if entry is None else entry.keep_or_read(read)))

    def series_updates(
        self, pairs: Iterable[tuple[str, str]]
    ) -> Generator[SeriesUpdate, None, None]:
        """A sample of each history at once, then each whole, several requests in flight
        (store/server/series.py says what the REST API offers and why this way). Pending
        requests are cancelled when the caller stops."""
        return Reading(self, pairs).updates()

    def metric_series_many(
        self, pairs: Iterable[tuple[str, str]]
    ) -> Generator[tuple[tuple[str, str], Series], None, None]:
        """Full histories, handed over as each is whole (`series_updates` without samples)."""
        updates = self.series_updates(pairs)
        try:
            for update in updates:
                if update.complete and update.series is not None:
                    yield update.pair, update.series
        finally:
            updates.close()

    def windows_allowed(self) -> bool:
        """Whether whole histories may be read in bulk-interval windows: only from a SQL store,
        which answers each from an index (asked once)."""
        if self._windows is None:
            self._windows = runs_sql_store(self)
        return self._windows

    def executor(self) -> ThreadPoolExecutor:
        """The pool for requests in flight at once (POOL_SIZE threads)."""
        return self._pool_of("server")

    def _pool_of(self, name: str) -> ThreadPoolExecutor:
        """The pool `name` ("server", "count" or "pages"; its threads' names say it), made
        when first needed, of the size its constant has then."""
        with self._pools_lock:
            if name not in self._pools:
                size = {"server": POOL_SIZE, "count": COUNT_POOL_SIZE, "pages": PAGES_IN_FLIGHT}
                self._pools[name] = ThreadPoolExecutor(size[name], f"mltui-{name}")
            return self._pools[name]

    def _in_pool(
        self,
        func: Callable[[Any], Any],
        items: list,
        *,
        ordered: bool = True,
        pool: ThreadPoolExecutor | None = None,
    ):
        """func(item) of each item in `pool` (the shared one unless given); in order, or (item,
        result) as each completes with `ordered=False`. Pending calls are cancelled if the
        caller stops."""
        if not items:
            return
        pool = pool or self.executor()
        pending: dict[Future, Any] = {pool.submit(func, item): item for item in items}
        try:
            if ordered:
                for future in list(pending):
                    yield future.result()
                    del pending[future]
                return
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    item = pending.pop(future)
                    yield (item, future.result())
        finally:
            for future in pending:
                future.cancel()

    # -- logged models and registry ----------------------------------------------------------
    def logged_models(
        self, experiment_ids: Iterable[str] | None = None, include_deleted: bool = False
    ) -> list[LoggedModel]:
        """MLflow 3 logged models (the server never lists deleted ones); [] from MLflow 2."""
        del include_deleted
        ids = (
            [e.experiment_id for e in self.experiments(include_deleted=True)]
            if experiment_ids is None
            else [str(i) for i in experiment_ids]
        )
        if not ids:
            return []
        body = {"experiment_ids": ids, "max_results": 1000}
        try:
            models = [
                convert.logged_model(m)
                for page in self._pages(
                    lambda token: self.client.post_json(
                        LOGGED_MODELS_SEARCH, {**body, "page_token": token}
                    ),
                    "models",
                )
                for m in page
            ]
        except EndpointMissing:
            return []
        return sorted(models, key=logged_model_order)

    def registered_models(self, include_prompts: bool = False) -> list[RegisteredModel]:
        """Registered models by name; prompts only with `include_prompts` (as MLflow's search)."""
        filters = [""] + ([PROMPT_FILTER] if include_prompts else [])
        models = [
            convert.registered_model(m)
            for wanted in filters
            for page in self._get_pages(
                REGISTERED_MODELS_SEARCH,
                {"max_results": 1000, "filter": wanted or None},
                "registered_models",
            )
            for m in page
        ]
        return sorted(models, key=lambda m: m.name)

    def registry_signature(self) -> tuple[Any, ...]:
        """What the registry's pages show, compared from one look to the next (two searches:
        every registered model, with its tags, aliases and latest versions, and every version,
        with its stage, tags, description and update time)."""
        models = [
            (
                m.name,
                m.last_updated_timestamp,
                m.description,
                tuple(sorted(m.tags.items())),
                tuple(sorted(m.aliases.items())),
            )
            for m in self.registered_models()
        ]
        params = {"max_results": 10_000}
        versions = [
            (
                v.get("name"),
                v.get("version"),
                v.get("current_stage"),
                v.get("status"),
                v.get("description"),
                v.get("last_updated_timestamp"),
                tuple(sorted((t.get("key"), t.get("value")) for t in v.get("tags") or ())),
            )
            for page in self._get_pages(MODEL_VERSIONS_SEARCH, params, "model_versions")
            for v in page
        ]
        return tuple(sorted(models, key=repr)), tuple(sorted(versions, key=repr))

    def model_versions(self, name: str, workspace: str | None = None) -> list[ModelVersion]:
        """Versions newest first, each with its aliases (the search leaves them out)."""
        del workspace  # a server answers for its own workspace
        params = {"filter": f"name={_quoted(name)}", "max_results": 10_000}
        versions = [
            convert.model_version(v)
            for page in self._get_pages(MODEL_VERSIONS_SEARCH, params, "model_versions")
            for v in page
        ]
        try:
            model = self.client.get_json(REGISTERED_MODEL_GET, {"name": name})
        except NotFound:
            model = {}
        by_version: dict[str, list[str]] = {}
        for alias in (model.get("registered_model") or {}).get("aliases") or ():
            by_version.setdefault(str(alias.get("version")), []).append(str(alias.get("alias")))
        for version in versions:
            version.aliases = sorted(
                set(version.aliases) | set(by_version.get(version.version, ()))
            )
        return sorted(versions, key=lambda v: -int(v.version) if v.version.isdigit() else 0)

    # -- traces ------------------------------------------------------------------------------
    def traces(self, experiment_ids: Iterable[str]) -> list[TraceInfo]:
        """MLflow 3 traces, oldest first; [] from a server older than MLflow 3."""
        body = _trace_search(experiment_ids)
        if body is None:
            return []
        body["max_results"] = TRACE_PAGE
        try:
            infos = [
                convert.trace_info(t)
                for page in self._pages(
                    lambda token: self.client.post_json(
                        TRACES_SEARCH, {**body, "page_token": token}
                    ),
                    "traces",
                )
                for t in page
            ]
        except EndpointMissing:
            return []
        return sorted(infos, key=lambda t: (t.request_time or 0, t.trace_id))

    def newest_traces(self, experiment_ids: Iterable[str], count: int) -> list[TraceInfo]:
        """The `count` newest traces of these experiments, newest first: one request."""
        body = _trace_search(experiment_ids)
        if body is None:
            return []
        body.update(max_results=min(count, TRACE_PAGE), order_by=["timestamp_ms DESC"])
        try:
            page = self.client.post_json(TRACES_SEARCH, body)
        except EndpointMissing:
            return []
        return [convert.trace_info(t) for t in page.get("traces") or ()]

    def trace(self, trace_id: str) -> Trace | None:
        try:
            data = self.client.get_json(TRACE_GET, {"trace_id": trace_id})
        except (NotFound, EndpointMissing):
            return None
        return convert.trace(data.get("trace") or {})

    # -- artifacts ---------------------------------------------------------------------------
    def artifact_root(self, run: Run) -> ArtifactRoot:
        return self.artifact_root_of(run.artifact_uri)

    def logged_model_artifact_root(self, model: LoggedModel) -> ArtifactRoot:
        return self.artifact_root_of(model.artifact_location)

    def artifact_root_of(self, uri: str) -> ServerArtifactRoot:
        """Where the proxy serves `uri`; a root it does not serve is named, never fetched."""
        proxy = self._proxy_path(uri)
        if proxy is not None:
            return ServerArtifactRoot(uri, None, None, proxy)
        note = (
            f"{uri} is not served through the tracking server's artifact proxy "
            "(start it with --artifacts-destination); mltui does not fetch it"
            if uri
            else "no artifact location was recorded"
        )
        return ServerArtifactRoot(uri, None, note, None)

    def _proxy_path(self, uri: str) -> str | None:
        parts = urlsplit(uri)
        if parts.scheme == "mlflow-artifacts":
            return parts.path.strip("/")
        own = urlsplit(self.location)
        marker = self.client.prefix + ARTIFACT_PROXY
        if (
            parts.scheme in ("http", "https")
            and parts.netloc == own.netloc
            and parts.path.startswith(marker)
        ):
            return parts.path[len(marker) :].strip("/")
        return None

    def can_browse_artifacts(self, root: ArtifactRoot) -> bool:
        return isinstance(root, ServerArtifactRoot) and root.proxy_path is not None

    def list_artifacts(self, root: ArtifactRoot, rel: str = "") -> list[ArtifactEntry]:
        """The proxy's listing of folder `rel`, folders first, then by name."""
        base, rel = self._proxied(root, rel)
        data = self.client.get_json(ARTIFACT_PROXY, {"path": _join(base, rel)})
        entries = []
        for item in data.get("files") or ():
            name = str(item.get("path", "")).strip("/").rsplit("/", 1)[-1]
            if not name or name in (".", ".."):
                continue
            is_dir = bool(item.get("is_dir"))
            size = None if is_dir else convert.integer(item.get("file_size"))
            entries.append(ArtifactEntry(_join(rel, name), is_dir, size))
        entries.sort(key=lambda e: (not e.is_dir, e.path))
        return entries

    def read_text_preview(self, root: ArtifactRoot, rel: str, limit: int) -> str | None:
        """The first `limit` bytes through the proxy (a range request: no whole download)."""
        base, rel = self._proxied(root, rel)
        path = f"{ARTIFACT_PROXY}/{quote(_join(base, rel))}"
        response = self.client.request(
            "GET",
            path,
            headers={"Range": f"bytes=0-{limit}"},
            endpoint=ARTIFACT_PROXY,
            limit=limit + 1,
        )
        self.client.raise_for_status(ARTIFACT_PROXY, response)
        return preview_text(response.body, limit)

    def _proxied(self, root: ArtifactRoot, rel: str) -> tuple[str, str]:
        if not self.can_browse_artifacts(root):
            raise StoreError(root.note or f"{root.recorded} cannot be browsed through the server")
        rel = (rel or "").replace("\\", "/").strip("/")
        if rel and (posixpath.normpath(rel) != rel or rel.split("/", 1)[0] == ".."):
            raise StoreError(f"refusing {rel!r}: it leads outside the artifact folder")
        assert isinstance(root, ServerArtifactRoot) and root.proxy_path is not None
        return root.proxy_path, rel

    def registry_backend(self, **options: Any) -> RestBackend:
        """What `RegistryWriter` writes through: the server's REST API (no options)."""
        from .registry import RestBackend

        return RestBackend(self)

    # -- live --------------------------------------------------------------------------------
    def follower(
        self,
        *,
        poll_seconds: float | None = None,
        max_rate_hz: float = 4,
        since_ns: int | None = None,
    ) -> ServerFollower:
        """A follower polling the server (it has no push), backing off when nothing changes."""
        from .follow import ServerFollower

        return ServerFollower(
            self, poll_seconds=poll_seconds, max_rate_hz=max_rate_hz, since_ns=since_ns
        )

    def close(self) -> None:
        super().close()
        with self._pools_lock:
            pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()


def _trace_search(experiment_ids: Iterable[str]) -> dict[str, Any] | None:
    """The body of a traces search of these experiments; None for no experiment."""
    locations = [
        {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": str(i)}}
        for i in experiment_ids
    ]
    return {"locations": locations} if locations else None


def _offset_token(offset: int) -> str:
    """MLflow's page token for `offset` (SearchUtils.create_page_token)."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset_of(token: str) -> int | None:
    """The offset in MLflow's page token; None for any other token (opaque to us)."""
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, TypeError, ValueError):
        return None
    if not isinstance(decoded, dict) or set(decoded) != {"offset"}:
        return None
    offset = decoded["offset"]
    return offset if type(offset) is int else None


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and rel else base or rel


def _quoted(value: str) -> str:
    """A string literal for MLflow's registry filter."""
    if "'" in value and '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("'", "\\'") + "'"
