"""The models of one run, by MLflow's rules, and the folder holding a model's `MLmodel`.

A run has models in two ways, depending on the MLflow that logged them:
- MLflow 3: logged models (`<exp>/models/m-...` or the `logged_models` table) whose source run
  is the run, and the models the run recorded as outputs (`run.outputs.model_outputs`, with the
  step), which may have been made by another run, or be missing from the experiment;
- MLflow 1.x/2.x: `log_model` appends the model's MLmodel, as a dict (mlflow/models/model.py
  `Model.to_dict`: artifact_path, flavors, utc_time_created, model_uuid from 2.x, run_id), to the
  JSON list in the run tag `mlflow.log-model.history`; the model sits at `artifact_path` under the
  run's artifact root. MLflow 3 no longer writes that tag.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .artifacts import ArtifactRoot
from .base import Store
from .entities import TAG_LOG_MODEL_HISTORY, LoggedModel, Run
from .mlmodel import MLMODEL, logged_model_kind
from .rawread import inside

#: Where a run's model comes from.
LOGGED = "logged model"  # an MLflow 3 logged model the run made
OUTPUT = "output"  # an MLflow 3 logged model the run recorded as an output
HISTORY = "history"  # an entry of the MLflow 1.x/2.x log-model history tag


@dataclass(slots=True)
class RunModel:
    """One model of a run (see the module's docstring for the kinds)."""

    origin: str
    #: A logged model's name; a history entry's artifact path.
    name: str
    #: A logged model's id (`m-...`); a history entry's model_uuid (MLflow 2.x; empty in 1.x).
    model_id: str
    #: A logged model's type, then its MLmodel's flavors; a history entry's flavors.
    kind: str
    status: str = ""
    #: OUTPUT: the step the run recorded the model at.
    step: int | None = None
    #: LOGGED, OUTPUT: when the logged model was created (epoch ms).
    creation_timestamp: int | None = None
    #: HISTORY: `utc_time_created` as MLflow wrote it (`2024-05-01 12:00:00.123456`, UTC).
    utc_time_created: str = ""
    #: HISTORY: where the model is under the run's artifacts.
    artifact_path: str | None = None
    #: LOGGED, OUTPUT: the logged model's own artifact folder.
    root: ArtifactRoot | None = None
    #: OUTPUT: False when the output names a model that is not in the run's experiment.
    found: bool = True


@dataclass(slots=True)
class RunModels:
    """A run's logged models and outputs (creation order), then its log-model history."""

    models: list[RunModel] = field(default_factory=list)
    #: The run has a `mlflow.log-model.history` tag that is not a JSON list.
    history_unreadable: bool = False


def log_model_history(run: Run) -> tuple[list[RunModel], bool]:
    """The entries of the run's `mlflow.log-model.history` tag, and whether the tag is unreadable
    (not a JSON list); entries that are not JSON objects are left out."""
    raw = run.tags.get(TAG_LOG_MODEL_HISTORY)
    if not raw:
        return [], False
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, list):
        return [], True
    return [_history_entry(entry) for entry in data if isinstance(entry, dict)], False


def _history_entry(entry: dict[str, object]) -> RunModel:
    flavors = entry.get("flavors")
    path = str(entry.get("artifact_path") or "")
    return RunModel(
        origin=HISTORY,
        name=path,
        model_id=str(entry.get("model_uuid") or ""),
        kind=", ".join(flavors) if isinstance(flavors, dict) else "",
        utc_time_created=str(entry.get("utc_time_created") or ""),
        artifact_path=path or None,
    )


def run_models(
    store: Store, run: Run, in_experiment: Sequence[LoggedModel] | None = None
) -> RunModels:
    """The run's logged models and model outputs (MLflow 3), then its log-model history.

    `in_experiment`: the logged models of the run's experiment, when the caller has read them."""
    output_steps = {o.model_id: o.step for o in run.outputs or []}
    if in_experiment is None:
        in_experiment = store.logged_models([run.experiment_id])
    logged = [
        m for m in in_experiment if m.source_run_id == run.run_id or m.model_id in output_steps
    ]
    logged.sort(key=lambda m: (m.creation_timestamp or 0, m.model_id))
    models = [_logged(store, m, output_steps.get(m.model_id)) for m in logged]
    known = {m.model_id for m in logged}
    models += [
        RunModel(OUTPUT, "", model_id, "", step=step, found=False)
        for model_id, step in output_steps.items()
        if model_id not in known
    ]
    history, unreadable = log_model_history(run)
    return RunModels(models + history, unreadable)


def _logged(store: Store, model: LoggedModel, step: int | None) -> RunModel:
    root = store.logged_model_artifact_root(model)
    return RunModel(
        origin=LOGGED if step is None else OUTPUT,
        name=model.name,
        model_id=model.model_id,
        kind=logged_model_kind(model, root),
        status=model.status,
        step=step,
        creation_timestamp=model.creation_timestamp,
        root=root,
    )


def mlmodel_folder(model: RunModel, run_root: ArtifactRoot) -> Path | None:
    """The local folder holding the model's MLmodel file (a history entry's under the run's
    artifact root `run_root`, never outside it; a logged model's its own folder), or None when
    there is none."""
    folder = model.root.path if model.root is not None else None
    if model.artifact_path and run_root.path is not None:
        folder = run_root.path / model.artifact_path
        # The path comes from a tag anyone can set: it may not lead out of the run's artifacts.
        if not inside(os.path.realpath(run_root.path), os.path.realpath(folder)):
            return None
    return folder if folder is not None and (folder / MLMODEL).is_file() else None


def stored_mlmodel_location(
    store: Store, model: RunModel, run_root: ArtifactRoot
) -> tuple[ArtifactRoot, str] | None:
    """(artifact root, folder under it) of the model where the store reads artifacts for us (a
    tracking server's proxy) rather than from a local folder; None otherwise, or when a history
    entry's path would lead out of the run's artifacts."""
    if model.root is not None:
        root, rel = model.root, ""
    elif model.artifact_path:
        root, rel = run_root, model.artifact_path.strip("/")
        if ".." in rel.split("/"):
            return None  # the path comes from a tag anyone can set
    else:
        return None
    if root.path is not None or not store.can_browse_artifacts(root):
        return None
    return root, rel
