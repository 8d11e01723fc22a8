"""What a follower reports: the experiments, runs and points that changed since its last report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..entities import Metric


@dataclass
class StoreChanges:
    """What changed in the store since the previous callback."""

    #: Experiment ids, new or changed (name, tags, lifecycle back to active).
    experiments: set[str] = field(default_factory=set)
    #: Run ids, new or changed (meta.yaml: status, end time, name; params; tags).
    runs: set[str] = field(default_factory=set)
    #: Only the points logged since the last look, in the order they were written.
    metric_points: dict[tuple[str, str], list[Metric]] = field(default_factory=dict)
    deleted_runs: set[str] = field(default_factory=set)
    deleted_experiments: set[str] = field(default_factory=set)
    #: The model registry changed: a model or version added or deleted, a stage, alias,
    #: tag or description set (compared whole: registries are small).
    registry: bool = False
    #: Experiment ids whose traces changed: a trace added, finished (state, duration), deleted,
    #: or given tags, assessments or spans. Screens read those experiments' traces again.
    traces: set[str] = field(default_factory=set)
    #: The store folder or database file disappeared (or was replaced).
    store_gone: bool = False
    notices: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.experiments
            or self.runs
            or self.metric_points
            or self.deleted_runs
            or self.deleted_experiments
            or self.registry
            or self.traces
            or self.store_gone
            or self.notices
        )

    @property
    def point_count(self) -> int:
        return sum(len(points) for points in self.metric_points.values())

    def run_changed(self, run_id: str) -> None:
        self.deleted_runs.discard(run_id)
        self.runs.add(run_id)

    def run_deleted(self, run_id: str) -> None:
        self.runs.discard(run_id)
        self.deleted_runs.add(run_id)

    def experiment_changed(self, experiment_id: str) -> None:
        self.deleted_experiments.discard(experiment_id)
        self.experiments.add(experiment_id)

    def experiment_deleted(self, experiment_id: str) -> None:
        self.experiments.discard(experiment_id)
        self.deleted_experiments.add(experiment_id)

    def add_points(self, run_id: str, key: str, points: list[Metric]) -> None:
        if points:
            self.metric_points.setdefault((run_id, key), []).extend(points)

    def merge(self, later: StoreChanges) -> None:
        """Take in `later`, a change set reported after this one (a page not on show keeps
        what it missed this way, and hears of it once, when it is shown again)."""
        for run_id in later.deleted_runs:
            self.run_deleted(run_id)
        for run_id in later.runs:
            self.run_changed(run_id)
        for exp_id in later.deleted_experiments:
            self.experiment_deleted(exp_id)
        for exp_id in later.experiments:
            self.experiment_changed(exp_id)
        for (run_id, key), points in later.metric_points.items():
            self.add_points(run_id, key, points)
        self.registry = self.registry or later.registry
        self.traces |= later.traces
        self.store_gone = self.store_gone or later.store_gone
        self.notices.extend(later.notices)


@dataclass(frozen=True)
class Shown:
    """What the pages on show need followed live. A tracking server's follower polls only this
    (each look costs requests); a local store's follower sees every change anyway, but for a
    tag rewritten in place in a database, which it finds by comparing the tags shown here."""

    #: The experiments list: experiments, and new runs (their counts).
    experiments: bool = False
    #: Experiments whose runs are listed.
    runs_of: frozenset[str] = frozenset()
    #: Runs shown one by one (a run's page, a chart): their status and latest metrics.
    runs: frozenset[str] = frozenset()
    #: (run id, metric key) charted: every new point is wanted, not only the latest.
    histories: frozenset[tuple[str, str]] = frozenset()
    #: Experiments whose traces are listed (or one of whose traces is open).
    traces_of: frozenset[str] = frozenset()
    #: The model registry's pages.
    registry: bool = False
    #: Runs whose tags a page shows in full (a run's page). `set_tag` on a key a run has
    #: rewrites its row in place: a database's follower compares the tags of these runs and of
    #: `runs_of`'s runs at each look; a tracking server's follower ignores it.
    tags_of: frozenset[str] = frozenset()

    def __or__(self, other: Shown) -> Shown:
        return Shown(
            self.experiments or other.experiments,
            self.runs_of | other.runs_of,
            self.runs | other.runs,
            self.histories | other.histories,
            self.traces_of | other.traces_of,
            self.registry or other.registry,
            self.tags_of | other.tags_of,
        )


Callback = Callable[[StoreChanges], Any]
