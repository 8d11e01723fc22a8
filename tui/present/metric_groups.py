"""Model metrics and MLflow's system metrics (`system/...`, logged by
`mlflow.enable_system_metrics_logging`) kept apart: in the run view, the runs table's default
columns and charts. Textual-free.

System metric keys end in their unit (`system/cpu_utilization_percentage`,
`system/gpu_0_memory_usage_megabytes`, `system/node_1/disk_usage_megabytes`), so a chart holds
one unit only: every curve of a chart shares its one y axis.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

SYSTEM_PREFIX = "system/"


def is_system_metric(key: str) -> bool:
    return key.startswith(SYSTEM_PREFIX)


def chart_group(key: str) -> str:
    """Metrics that may share a chart have the same group: model metrics one, each unit of
    system metrics one."""
    if not is_system_metric(key):
        return "model"
    return "system " + key.rsplit("/", 1)[-1].rsplit("_", 1)[-1]


def one_chart(keys: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the keys charted together: those of the first key's group; the keys left out)."""
    if not keys:
        return [], []
    group = chart_group(keys[0])
    return [k for k in keys if chart_group(k) == group], [
        k for k in keys if chart_group(k) != group
    ]


def split_metrics(keys: Collection[str]) -> tuple[list[str], list[str]]:
    """(model metric keys, system metric keys), each sorted."""
    return sorted(k for k in keys if not is_system_metric(k)), sorted(
        filter(is_system_metric, keys)
    )


def metric_sections(
    keys: Sequence[str], by_dataset: Sequence[tuple[str, Sequence[str]]] = ()
) -> list[tuple[str | None, list[str]]]:
    """A run's metric keys in the groups its Metrics tab shows, each (heading, keys): first the
    metrics of each dataset MLflow recorded (`by_dataset`: (heading, keys)), then the other
    model metrics, then the system metrics. The first group has no heading (None) when it is
    the model metrics alone: a run without datasets or system metrics shows no heading at all."""
    placed = {k for _, group in by_dataset for k in group}
    sections: list[tuple[str | None, list[str]]] = [
        (heading, sorted(k for k in group if k in keys)) for heading, group in by_dataset
    ]
    model, system = split_metrics([k for k in keys if k not in placed])
    if model:
        sections.append(("Other metrics" if sections else None, model))
    if system:
        sections.append(("System metrics", system))
    return [(heading, group) for heading, group in sections if group]
