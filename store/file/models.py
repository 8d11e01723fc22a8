"""Logged models (MLflow 3, `<exp>/models/`) and the model registry (`models/`) of the file
store, read as MLflow's FileStore and model-registry FileStore read them."""

from __future__ import annotations

import os
from collections.abc import Iterable

from ..entities import (
    ACTIVE,
    DELETED,
    STAGE_DELETED_INTERNAL,
    STAGES,
    LoggedModel,
    LoggedModelMetric,
    ModelVersion,
    RegisteredModel,
    is_prompt,
    logged_model_order,
)
from .folder import StoreFolder, child_dirs, decode, int_or_none, safe_name, str_or_none
from .layout import REGISTRY
from .metrics import complete_lines

#: LoggedModelStatus by the integer a 3.x logged model's meta.yaml holds.
LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}


class ModelsReader(StoreFolder):
    """Logged models and registered models of an `mlruns/` folder."""

    # -- logged models (MLflow 3) ---------------------------------------------------------
    def logged_models(self, experiment_ids: Iterable[str] | None = None) -> list[LoggedModel]:
        """MLflow 3 logged models of the given experiments (all, deleted ones too, if None)."""
        if experiment_ids is None:
            selected = [(e.experiment_id, p) for e, p in self._experiments_with_paths(True)]
        else:
            selected = self._selected_experiments(list(experiment_ids), True)
        out = []
        for exp_id, exp_path in selected:
            models_dir = os.path.join(exp_path, "models")
            for name in child_dirs(models_dir):
                model = self._read_logged_model(os.path.join(models_dir, name), exp_id)
                if model is not None:
                    out.append(model)
        out.sort(key=logged_model_order)
        return out

    def _read_logged_model(self, model_dir: str, exp_id: str) -> LoggedModel | None:
        meta = self._read_yaml(os.path.join(model_dir, "meta.yaml"), "logged model")
        if meta is None:
            return None
        if meta.get("lifecycle_stage") == DELETED:
            return None  # MLflow's _list_models hides deleted models
        model_exp = meta.get("experiment_id")
        if str(model_exp) != exp_id:
            self._warn(f"{model_dir}/meta.yaml: experiment_id {model_exp!r} is wrong; skipped")
            return None
        status = meta.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            status = LOGGED_MODEL_STATUS.get(status, str(status))
        metrics = []
        for key, path, data in self._read_folder(os.path.join(model_dir, "metrics")):
            metrics.extend(self._logged_model_metrics(data, key, path))
        return LoggedModel(
            model_id=str(meta.get("model_id") or os.path.basename(model_dir)),
            experiment_id=exp_id,
            name=str(meta.get("name") or ""),
            artifact_location=str(meta.get("artifact_location") or ""),
            creation_timestamp=int_or_none(meta.get("creation_timestamp")),
            last_updated_timestamp=int_or_none(meta.get("last_updated_timestamp")),
            model_type=str_or_none(meta.get("model_type")),
            source_run_id=str_or_none(meta.get("source_run_id")),
            status=str(status if status is not None else "UNSPECIFIED"),
            status_message=str_or_none(meta.get("status_message")),
            lifecycle_stage=str(meta.get("lifecycle_stage") or ACTIVE),
            params=self._read_values(os.path.join(model_dir, "params")),
            tags=self._read_values(os.path.join(model_dir, "tags")),
            metrics=metrics,
        )

    def _logged_model_metrics(self, data: bytes, key: str, path: str) -> list[LoggedModelMetric]:
        """The latest point per dataset of a logged model's metric file.

        Lines are "<ts> <value> <step> <run_id>" plus "<dataset> <digest>" when logged with a
        dataset; MLflow keeps the (step, timestamp, value)-greatest point of each dataset.
        """
        best: dict[tuple[bytes, ...], tuple[int, int, float]] = {}
        run_ids: dict[tuple[bytes, ...], bytes] = {}
        bad = 0
        for line in complete_lines(data).split(b"\n")[:-1]:
            parts = line.strip().split(b" ")
            if len(parts) not in (4, 6):
                bad += 1
                continue
            try:
                point = (int(parts[2]), int(parts[0]), float(parts[1]))
            except ValueError:
                bad += 1
                continue
            group = tuple(parts[4:])
            if group not in best or point > best[group]:
                best[group] = point
                run_ids[group] = parts[3]
        if bad:
            self._warn(f"{path}: {bad} malformed line(s) ignored")

        def text(part: bytes) -> str:
            return decode(part, path, self._warn)

        return [
            LoggedModelMetric(
                key,
                v,
                ts,
                step,
                dataset_name=text(group[0]) if group else None,
                dataset_digest=text(group[1]) if group else None,
                run_id=text(run_ids[group]),
            )
            for group, (step, ts, v) in best.items()
        ]

    # -- model registry -------------------------------------------------------------------
    def _registry_dir(self) -> str:
        return os.path.join(self.root, REGISTRY)

    def _model_dirs(self) -> list[str]:
        try:
            with os.scandir(self._registry_dir()) as it:
                return sorted(e.path for e in it if e.is_dir())
        except OSError:
            return []

    def _aliases(self, model_dir: str) -> dict[str, str]:
        # The aliases/ folder is the truth; the `aliases:` copy in meta.yaml is stale.
        return self._read_values(os.path.join(model_dir, "aliases"))

    def _versions(self, model_dir: str, aliases: dict[str, str]) -> list[ModelVersion]:
        """Every version folder's model version, deleted ones included."""
        try:
            with os.scandir(model_dir) as it:
                dirs = sorted(e.path for e in it if e.name.startswith("version-") and e.is_dir())
        except OSError:
            return []
        out = []
        for vdir in dirs:
            meta = self._read_yaml(os.path.join(vdir, "meta.yaml"), "model version")
            if meta is None:
                continue
            version = meta.get("version")
            if int_or_none(version) is None:
                self._warn(f"{vdir}/meta.yaml: version {version!r} is not a number; skipped")
                continue
            version = str(version)
            # MLflow matches aliases to the folder's number (`version-<n>` without the prefix).
            folder_version = os.path.basename(vdir)[len("version-") :]
            out.append(
                ModelVersion(
                    name=str(meta.get("name") or os.path.basename(model_dir)),
                    version=version,
                    creation_timestamp=int_or_none(meta.get("creation_timestamp")),
                    last_updated_timestamp=int_or_none(meta.get("last_updated_timestamp")),
                    current_stage=str(meta.get("current_stage") or "None"),
                    description=str_or_none(meta.get("description")),
                    source=str_or_none(meta.get("source")),
                    run_id=str_or_none(meta.get("run_id")),
                    status=str_or_none(meta.get("status")),
                    status_message=str_or_none(meta.get("status_message")),
                    user_id=str_or_none(meta.get("user_id")),
                    run_link=str_or_none(meta.get("run_link")),
                    storage_location=str_or_none(meta.get("storage_location")),
                    model_id=str_or_none(meta.get("model_id")),
                    tags=self._read_values(os.path.join(vdir, "tags")),
                    aliases=sorted(a for a, v in aliases.items() if v == folder_version),
                )
            )
        return out

    @staticmethod
    def _latest_versions(versions: list[ModelVersion]) -> list[ModelVersion]:
        """The highest version in each stage, as FileStore.get_latest_versions computes it."""
        latest: dict[str, ModelVersion] = {}
        for mv in versions:
            if mv.current_stage in STAGES:
                held = latest.get(mv.current_stage)
                if held is None or int(held.version) < int(mv.version):
                    latest[mv.current_stage] = mv
        return [latest[s] for s in STAGES if s in latest]

    def _registered_model(self, model_dir: str) -> RegisteredModel | None:
        meta_path = os.path.join(model_dir, "meta.yaml")
        if not os.path.lexists(meta_path):
            # A create interrupted between the folder and its meta.yaml: shown as what it is.
            name = os.path.basename(model_dir)
            return RegisteredModel(name, None, None, None, incomplete=True)
        meta = self._read_yaml(meta_path, "registered model")
        if meta is None:
            return None
        aliases = self._aliases(model_dir)
        return RegisteredModel(
            name=str(meta.get("name") or os.path.basename(model_dir)),
            creation_timestamp=int_or_none(meta.get("creation_timestamp")),
            last_updated_timestamp=int_or_none(meta.get("last_updated_timestamp")),
            description=str_or_none(meta.get("description")),
            tags=self._read_values(os.path.join(model_dir, "tags")),
            aliases=aliases,
            latest_versions=self._latest_versions(self._versions(model_dir, aliases)),
        )

    def registered_models(self, include_prompts: bool = False) -> list[RegisteredModel]:
        """Registered models (prompts only if asked: MLflow's search leaves them out), by name."""
        out = []
        for model_dir in self._model_dirs():
            rm = self._registered_model(model_dir)
            if rm is not None and (include_prompts or not is_prompt(rm.tags)):
                out.append(rm)
        return sorted(out, key=lambda m: m.name)

    def model_versions(self, name: str, workspace: str | None = None) -> list[ModelVersion]:
        """Versions of one registered model, deleted ones hidden, newest first.

        A file store has one workspace, so `workspace` changes nothing."""
        if not safe_name(name):
            return []
        model_dir = os.path.join(self._registry_dir(), name)
        if not os.path.isdir(model_dir):
            return []
        versions = [
            v
            for v in self._versions(model_dir, self._aliases(model_dir))
            if v.current_stage != STAGE_DELETED_INTERNAL
        ]
        return sorted(versions, key=lambda v: int(v.version), reverse=True)
