"""What a metric chart starts with: the metric shown first, and a label per run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from mltui.store.entities import Run
from mltui.tui.present.metric_groups import is_system_metric


def default_metric(runs: Sequence[Run]) -> str | None:
    """The metric to show first: one every run has (else the most runs have), with many steps.

    Latest steps stand in for history lengths, which would need every history read.
    """
    counts = Counter(key for run in runs for key in run.metrics)
    if not counts:
        return None
    most = max(counts.values())

    def rank(key: str) -> tuple[bool, int, int, str]:
        steps = sum(run.metrics[key].step for run in runs if key in run.metrics)
        # System metrics: many points, rarely the metric a person opens a chart for.
        return (not is_system_metric(key), counts[key] == most, steps, key)

    best = max(counts, key=rank)
    # Among equals, max() gives the greatest key; prefer the first in sorted order instead.
    top = rank(best)[:3]
    return min(key for key in counts if rank(key)[:3] == top)


def run_labels(runs: Sequence[Run]) -> dict[str, str]:
    """Each run's name, with a short id added where names repeat or are empty."""
    names = Counter(run.run_name for run in runs)
    labels = {}
    for run in runs:
        name = run.run_name
        if not name:
            labels[run.run_id] = run.run_id[:8]
        elif names[name] > 1:
            labels[run.run_id] = f"{name} ({run.run_id[:8]})"
        else:
            labels[run.run_id] = name
    return labels
