"""The layout of an `mlruns/` folder and the forms of its small files, as MLflow writes them.

Mirrors mlflow/store/tracking/file_store.py; what the reader, the follower and the registry
writer of this folder all need to know.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..entities import RUN_STATUS_BY_CODE

TRASH = ".trash"
REGISTRY = "models"
#: Folders of an experiment that are not runs (FileStore.RESERVED_EXPERIMENT_FOLDERS).
RESERVED_EXPERIMENT_FOLDERS = frozenset({"tags", "datasets", "traces", "models"})
#: Steps and timestamps must fit these: MLflow's SQL stores and our charts' arrays hold 64 bits.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def parse_metric_line(line: bytes) -> tuple[int, int, float] | None:
    """(step, timestamp, value) of one metric line, or None when it is malformed.

    2 fields are the pre-1.0 form (step 0); 5 fields are 3.x points logged with a dataset.
    MLflow 3.x reads a 5-field line's step as 0 (file_store._get_metric_from_line only takes
    the step from 3-field lines); we keep the step that was logged.
    """
    parts = line.strip().split(b" ")
    n = len(parts)
    if n != 3 and n != 2 and n != 5:
        return None
    try:
        step, timestamp = (int(parts[2]) if n > 2 else 0), int(parts[0])
        value = float(parts[1])
    except ValueError:
        return None
    if not fit_64_bits((step, timestamp)):
        return None
    return step, timestamp, value


def fit_64_bits(numbers: Sequence[int]) -> bool:
    return min(numbers) >= INT64_MIN and max(numbers) <= INT64_MAX


def status_name(raw: Any) -> str | None:
    """A RunStatus name from meta.yaml's integer (missing means RUNNING, as MLflow reads it)."""
    if raw is None:
        return "RUNNING"
    if isinstance(raw, int) and not isinstance(raw, bool):
        return RUN_STATUS_BY_CODE.get(raw)
    if isinstance(raw, str) and raw in RUN_STATUS_BY_CODE.values():
        return raw
    return None
