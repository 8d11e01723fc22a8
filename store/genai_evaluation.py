"""A run made by `mlflow.genai.evaluate` (MLflow 3): its evaluated traces and scorers' feedback.

What MLflow 3.18 writes (mlflow/genai/evaluation/, seen in tests/fixtures/genai): the run is
tagged `mlflow.runType=genai_evaluate` and logs no artifact; each evaluated row is a trace in the
run's experiment whose metadata `mlflow.sourceRun` is the run id (on SQL stores the trace is also
linked by an `entity_associations` row); each scorer logs one feedback assessment per trace, named
after the scorer (value, rationale, source, or an error when the scorer raised), beside the row's
expectations; the run's metrics are `<scorer>/<aggregation>` (`mean` unless the scorer names
others) over the feedback values MLflow can cast to a number.

Traces are found as MLflow's search_traces(run_id) finds them: by `mlflow.sourceRun`, or (SQL
stores) by an `entity_associations` row alone: genai.evaluate over traces logged before it, and,
seen with 500 rows on a loaded machine, traces whose metadata rows MLflow failed to write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Store
from .entities import Run
from .traces import Assessment, TraceInfo

TAG_RUN_TYPE = "mlflow.runType"
RUN_TYPE_GENAI_EVALUATE = "genai_evaluate"
#: Trace metadata naming the run a trace was made in (what search_traces(run_id=...) matches).
METADATA_SOURCE_RUN = "mlflow.sourceRun"
FEEDBACK = "feedback"


@dataclass(slots=True)
class EvaluatedTrace:
    """One evaluated row: its trace (assessments read) and each scorer's feedback by name."""

    info: TraceInfo
    feedback: dict[str, Assessment] = field(default_factory=dict)


@dataclass(slots=True)
class GenaiEvaluation:
    run_id: str
    #: Scorer names, sorted: every feedback name found on the traces.
    scorers: list[str] = field(default_factory=list)
    #: Oldest first, as MLflow's search_traces(run_id=..., order_by=["timestamp ASC"]).
    traces: list[EvaluatedTrace] = field(default_factory=list)
    #: The run's aggregate metrics by scorer: {"exact_match": {"mean": 0.5}}.
    aggregates: dict[str, dict[str, float]] = field(default_factory=dict)


def is_genai_evaluation(run: Run) -> bool:
    """Whether MLflow tagged `run` as made by mlflow.genai.evaluate (it always does, 3.x)."""
    return run.tags.get(TAG_RUN_TYPE) == RUN_TYPE_GENAI_EVALUATE


def genai_evaluation(store: Store, run: Run) -> GenaiEvaluation:
    """The traces linked to `run` by `mlflow.sourceRun`, with their feedback, and the run's
    aggregate metrics by scorer. Lists the run's experiment's traces: call it for runs
    `is_genai_evaluation` says were made by genai.evaluate."""
    associated = store.traces_linked_to_run(run.run_id)
    linked = [
        t
        for t in store.traces([run.experiment_id])
        if t.metadata.get(METADATA_SOURCE_RUN) == run.run_id or t.trace_id in associated
    ]
    traces = [
        EvaluatedTrace(info, _feedback_by_name(info.assessments)) for info in _read(store, linked)
    ]
    scorers = sorted({name for t in traces for name in t.feedback})
    return GenaiEvaluation(run.run_id, scorers, traces, _aggregates(run, scorers))


def verdict(value: Any) -> bool | None:
    """Pass (True) or fail (False) from a feedback value alone, as MLflow's aggregation casts
    it: a bool, or "yes"/"no" in any case (CategoricalRating); None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("yes", "no"):
        return value.lower() == "yes"
    return None


def _read(store: Store, infos: list[TraceInfo]) -> list[TraceInfo]:
    """The infos with their assessments: a listing may only count them (the file store does)."""
    out = []
    for info in infos:
        if info.assessments_count and not info.assessments:
            trace = store.trace(info.trace_id)
            if trace is None:  # removed since it was listed
                continue
            info = trace.info
        out.append(info)
    return out


def _feedback_by_name(assessments: list[Assessment]) -> dict[str, Assessment]:
    """Each name's newest feedback (assessments come oldest first): a scorer run again on the
    same trace, or a person's correction, replaces what was there."""
    return {a.name: a for a in assessments if a.kind == FEEDBACK}


def _aggregates(run: Run, scorers: list[str]) -> dict[str, dict[str, float]]:
    """`<scorer>/<aggregation>` metrics of the run, by scorer; a scorer's name may hold "/"."""
    out: dict[str, dict[str, float]] = {}
    for key, metric in sorted(run.metrics.items()):
        name, _, aggregation = key.rpartition("/")
        if name in scorers:
            out.setdefault(name, {})[aggregation] = metric.value
    return out
