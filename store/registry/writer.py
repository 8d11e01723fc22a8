"""Writing to a local model registry exactly as MLflow 3.17.2 writes it, with a plan shown first.

Every operation comes in two steps: `plan_*()` checks the write against the registry as it is
now and describes, line by line, what will change (for the UI's confirmation dialog); `apply()`
then performs it, checking again against the registry as it is at that moment. The shortcuts
(`set_alias(...)` etc.) do both at once.

What is written mirrors MLflow 3.17.2's registry stores field for field:
- file store (mlflow/store/model_registry/file_store.py): `mlruns/models/<name>/meta.yaml`,
  `tags/<key>`, `aliases/<alias>`, `version-<n>/meta.yaml`, `version-<n>/tags/<key>`; the
  model's meta.yaml is rewritten whole (with the fields of 3.17.2's RegisteredModel entity and a
  fresh copy of the aliases) and its `last_updated_timestamp` bumped by every tag, alias,
  version and stage change.
- SQLite (mlflow/store/model_registry/sqlalchemy_store.py): rows in `registered_models`,
  `model_versions`, the tag tables and `registered_model_aliases`, one `BEGIN IMMEDIATE`
  transaction per operation; unlike the file store, tags and aliases leave timestamps alone.

Refusals (`ReadOnlyError`: read-only writer, files or database not writable, SQLite registry
tables unlike those of every MLflow whose writes are tested, see store/sqlite/registry_schema.py) and invalid
writes (`InvalidWriteError`: what MLflow's validation would reject) happen before anything is
written.

MLflow's file store takes no locks, so neither can we. What the file writes guarantee:
- Every file is replaced atomically (temporary file beside it, `os.replace`): no reader, and no
  crash of ours, ever sees half a file of ours.
- A meta.yaml (or the logged model's `mlflow.modelVersions` tag) is changed by compare-and-swap:
  the file is read (identity: inode, size, mtime_ns; and its bytes), our fields are applied, and
  just before `os.replace` the file is read again; if it changed, the change is MLflow's and is
  kept: the file is read anew, our fields applied to it, and the swap tried again (a bounded
  number of times, then the write fails with one sentence). MLflow writes meta.yaml in place
  (truncate, then write: always when creating it, and when rewriting it unless the system's
  temporary folder is on the store's disk), so an empty or partial file (no final newline, or
  no `name`) is one being written: it is read again after a moment, never written over.
  The rename itself is an atomic exchange where the system has one (Linux's renameat2
  RENAME_EXCHANGE, store/file/exchange.py): the file it replaced comes back under the
  temporary name, so an MLflow write that landed between that last check and the rename is
  seen, put back, and ours redone on top of it. Elsewhere (no such call, or a file system
  without it) that instant remains a window where an MLflow write is lost: nothing else can
  close it without a lock MLflow would honour.
- A new registered model's folder is built with its meta.yaml at the store's root under a
  temporary name ending in `.trash` (MLflow's tracking store skips such names and its registry
  lists models/ only) and renamed into models/; a new version folder likewise under a temporary
  name in the model's folder (MLflow lists only `version-*` there). No crash leaves a model or
  version folder without its meta.yaml, which would make MLflow's `search_registered_models`
  fail for every model. One left by an older crash or another program is read as incomplete
  (`RegisteredModel.incomplete`) and can be removed (`plan_remove_incomplete_model`).
- Temporary files and folders of ours that a crashed write left (`.mltui-<hex>`) are removed by
  the next write into the same folder, once they are a minute old.
- MLflow rewrites a meta.yaml from a copy it read earlier (its own read-modify-write, e.g. when
  it bumps the model's timestamp), which can put an old description or stage back over ours;
  so a changed description or stage is still checked again over a moment, and written again
  (by compare-and-swap) if lost.
Within one process, writes through one writer are serialized.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ..entities import logged_model_order
from ..errors import ReadOnlyError, as_sentence
from .backend import RegistryBackend
from .model import (
    InvalidWriteError,
    ModelSnapshot,
    Mutation,
    RunModel,
    WritePlan,
    WriteResult,
    canonical_stage,
    validate_version,
)
from .operations import (
    CreateModelVersion,
    CreateRegisteredModel,
    DeleteAlias,
    DeleteModelTag,
    DeleteVersionTag,
    Operation,
    RemoveIncompleteModel,
    SetAlias,
    SetModelTag,
    SetVersionTag,
    TransitionStage,
    UpdateModelDescription,
    UpdateVersionDescription,
)

if TYPE_CHECKING:
    from ..base import Store


# -- the writer ------------------------------------------------------------------------------
class RegistryWriter:
    """Registry writes for a `FileStore` or `SqliteStore`, planned first, applied on demand."""

    def __init__(
        self,
        store: Store,
        *,
        read_only: bool = False,
        clock: Callable[[], int] | None = None,
        **options: Any,
    ) -> None:
        """`options` go to the store's `registry_backend`: for SQLite and PostgreSQL,
        `busy_timeout` and `workspace` (the MLflow workspace to write in, MLflow 3.12+; by
        default a model's own, and "default" for a new one)."""
        self.store = store
        self.read_only = read_only
        self._clock = clock or (lambda: int(time.time() * 1000))
        self._backend: RegistryBackend = store.registry_backend(**options)

    @property
    def kind(self) -> str:
        return self._backend.kind

    # -- refusals ----------------------------------------------------------------------------
    def refusal(self) -> str | None:
        """Why this writer writes nothing (one sentence), or None when it may write."""
        if self.read_only:
            return "The store was opened read-only; nothing was written."
        return self._backend.refusal()

    @staticmethod
    def _refuse(reason: str | None) -> None:
        # Reasons are written as sentences where they are made; as_sentence only ends them (and
        # never capitalises a file name such as mlflow.db into "Mlflow.db").
        if reason is not None:
            raise ReadOnlyError(as_sentence(reason))

    # -- planning and applying ---------------------------------------------------------------
    def _plan(self, operation: type[Operation], name: str, **args: Any) -> WritePlan:
        # Refusals come first; the operation is made (and validated) after them.
        self._refuse(self.refusal())
        return self._checked_plan(operation(name, **args))

    def plan(self, operation: Operation) -> WritePlan:
        """Check `operation` against the registry as it is now, and describe it."""
        self._refuse(self.refusal())
        return self._checked_plan(operation)

    def _checked_plan(self, operation: Operation) -> WritePlan:
        backend = self._backend
        done = operation.compute(backend.snapshot(operation.name), self._clock(), backend)
        self._refuse(backend.refusal_for(done.mutations))
        return WritePlan(operation, done.summary, tuple(done.lines))

    def apply(self, plan: WritePlan) -> WriteResult:
        """Perform a planned write, checked again against the registry as it is now."""
        self._refuse(self.refusal())
        operation, backend = plan.operation, self._backend

        def build(model: ModelSnapshot, now: int) -> list[Mutation]:
            # Runs inside the write (the SQLite transaction): nothing is written yet.
            muts = operation.compute(model, now, backend).mutations
            self._refuse(backend.refusal_for(muts))
            return muts

        now, version = backend.run(operation.name, self._clock, build)
        return WriteResult(plan, now, None if version is None else str(version))

    # -- registered models -------------------------------------------------------------------
    def plan_create_registered_model(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> WritePlan:
        return self._plan(
            CreateRegisteredModel, name, description=description, tags=dict(tags or {})
        )

    def create_registered_model(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> WriteResult:
        return self.apply(self.plan_create_registered_model(name, description, tags))

    def plan_remove_incomplete_model(self, name: str) -> WritePlan:
        """Remove `models/<name>/` of a file store: a folder without meta.yaml (a create that
        was interrupted), which MLflow cannot read; refused once it has its meta.yaml."""
        return self._plan(RemoveIncompleteModel, name)

    def remove_incomplete_model(self, name: str) -> WriteResult:
        return self.apply(self.plan_remove_incomplete_model(name))

    def plan_update_model_description(self, name: str, description: str | None) -> WritePlan:
        return self._plan(UpdateModelDescription, name, description=description)

    def update_model_description(self, name: str, description: str | None) -> WriteResult:
        return self.apply(self.plan_update_model_description(name, description))

    def plan_set_model_tag(self, name: str, key: str, value: str) -> WritePlan:
        return self._plan(SetModelTag, name, key=key, value=value)

    def set_model_tag(self, name: str, key: str, value: str) -> WriteResult:
        return self.apply(self.plan_set_model_tag(name, key, value))

    def plan_delete_model_tag(self, name: str, key: str) -> WritePlan:
        return self._plan(DeleteModelTag, name, key=key)

    def delete_model_tag(self, name: str, key: str) -> WriteResult:
        return self.apply(self.plan_delete_model_tag(name, key))

    def plan_set_alias(self, name: str, alias: str, version: int | str) -> WritePlan:
        return self._plan(SetAlias, name, alias=alias, version=validate_version(version))

    def set_alias(self, name: str, alias: str, version: int | str) -> WriteResult:
        return self.apply(self.plan_set_alias(name, alias, version))

    def plan_delete_alias(self, name: str, alias: str) -> WritePlan:
        return self._plan(DeleteAlias, name, alias=alias)

    def delete_alias(self, name: str, alias: str) -> WriteResult:
        return self.apply(self.plan_delete_alias(name, alias))

    # -- versions ----------------------------------------------------------------------------
    def plan_create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_link: str | None = None,
        model_id: str | None = None,
        storage_location: str | None = None,
    ) -> WritePlan:
        """A new version of an existing model, as `MlflowClient.create_model_version` writes it.

        For a `models:/<model_id>` source MLflow records the logged model's artifact location as
        `storage_location` and its source run as `run_id`; both are looked up here.
        """
        source_run, location = self._resolve_source(source)
        return self._plan(
            CreateModelVersion,
            name,
            source=source,
            run_id=run_id or source_run,
            description=description,
            tags=dict(tags or {}),
            run_link=run_link,
            model_id=model_id,
            storage_location=storage_location or location,
            create_model=False,
            logged_model=None,
        )

    def create_model_version(self, name: str, source: str, run_id: str | None = None, **kw):
        return self.apply(self.plan_create_model_version(name, source, run_id, **kw))

    def plan_register_model(
        self,
        name: str,
        *,
        run_id: str | None = None,
        artifact_path: str | None = None,
        model_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> WritePlan:
        """Register a run's logged model as a new version, as `mlflow.register_model` does.

        `run_id` + `artifact_path` is `runs:/<run_id>/<artifact_path>`: a model saved in the
        run's artifacts (MLflow 1.x/2.x) is registered by its artifact URI; otherwise the run's
        MLflow 3 logged model of that name, as `models:/<model_id>`. `model_id` alone registers
        that logged model. The registered model is created first when it does not exist, and a
        logged model's `mlflow.modelVersions` tag gets the new version appended.
        """
        if model_id:
            source, run = f"models:/{model_id}", None
        elif run_id and artifact_path:
            source, run, model_id = self._resolve_run_model(run_id, artifact_path)
        else:
            raise InvalidWriteError("say which model to register: a run and path, or a model id")
        source_run, location = self._resolve_source(source)
        logged = self._logged_model(model_id) if model_id else None
        return self._plan(
            CreateModelVersion,
            name,
            source=source,
            run_id=run or source_run,
            description=None,
            tags=dict(tags or {}),
            run_link=None,
            model_id=model_id,
            storage_location=location,
            create_model=True,
            logged_model=None if logged is None else (logged.model_id, logged.experiment_id),
        )

    def register_model(self, name: str, **kw: Any) -> WriteResult:
        return self.apply(self.plan_register_model(name, **kw))

    def plan_transition_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> WritePlan:
        return self._plan(
            TransitionStage,
            name,
            version=validate_version(version),
            stage=canonical_stage(stage),
            archive_existing_versions=bool(archive_existing_versions),
        )

    def transition_stage(
        self, name: str, version: int | str, stage: str, archive_existing_versions: bool = False
    ) -> WriteResult:
        return self.apply(
            self.plan_transition_stage(name, version, stage, archive_existing_versions)
        )

    def plan_update_version_description(
        self, name: str, version: int | str, description: str | None
    ) -> WritePlan:
        return self._plan(
            UpdateVersionDescription,
            name,
            version=validate_version(version),
            description=description,
        )

    def update_version_description(
        self, name: str, version: int | str, description: str | None
    ) -> WriteResult:
        return self.apply(self.plan_update_version_description(name, version, description))

    def plan_set_version_tag(
        self, name: str, version: int | str, key: str, value: str
    ) -> WritePlan:
        return self._plan(
            SetVersionTag, name, version=validate_version(version), key=key, value=value
        )

    def set_version_tag(self, name: str, version: int | str, key: str, value: str) -> WriteResult:
        return self.apply(self.plan_set_version_tag(name, version, key, value))

    def plan_delete_version_tag(self, name: str, version: int | str, key: str) -> WritePlan:
        return self._plan(DeleteVersionTag, name, version=validate_version(version), key=key)

    def delete_version_tag(self, name: str, version: int | str, key: str) -> WriteResult:
        return self.apply(self.plan_delete_version_tag(name, version, key))

    # -- what a registration points at -------------------------------------------------------
    def models_of_run(self, run_id: str) -> list[RunModel]:
        """The models a run offers for registration: MLmodel folders in its artifacts (MLflow
        1.x/2.x) and the MLflow 3 logged models it produced."""
        from ..model_folders import find_mlmodels

        run = self.store.run(run_id)
        if run is None:
            return []
        out: list[RunModel] = []
        root = self.store.artifact_root(run).path
        if root is not None:
            for folder in find_mlmodels(root):
                rel = folder.relative_to(root).as_posix()
                if rel != ".":
                    out.append(RunModel(f"runs:/{run_id}/{rel}", run_id, rel, None))
        for lm in self.store.logged_models([run.experiment_id]):
            if lm.source_run_id == run_id:
                out.append(
                    RunModel(f"models:/{lm.model_id} ({lm.name})", run_id, None, lm.model_id)
                )
        return out

    def _logged_model(self, model_id: str):
        for lm in self.store.logged_models():
            if lm.model_id == model_id:
                return lm
        return None

    def _resolve_source(self, source: str) -> tuple[str | None, str]:
        """(source run, storage location) as MLflow's store derives them from `source`."""
        if not isinstance(source, str) or not source:
            raise InvalidWriteError("a model version needs a source")
        if urlparse(source).scheme != "models":
            return None, source
        mid = source[len("models:/") :].strip("/")
        if not mid.startswith("m-") or "/" in mid:
            # models:/<name>/<version> sources: MLflow resolves them to that version's location.
            raise InvalidWriteError(f"cannot register from {source}: give a models:/m-... URI")
        lm = self._logged_model(mid)
        if lm is None:
            raise InvalidWriteError(f"no logged model {mid} in this store")
        return lm.source_run_id, lm.artifact_location

    def _resolve_run_model(self, run_id: str, artifact_path: str) -> tuple[str, str, str | None]:
        """(source, run id, model id) for `runs:/<run_id>/<artifact_path>` (fluent register)."""
        run = self.store.run(run_id)
        if run is None:
            raise InvalidWriteError(f"no run {run_id} in this store")
        rel = artifact_path.strip("/")
        if not rel or ".." in rel.split("/"):
            raise InvalidWriteError(f"{artifact_path!r} is not a path inside the run's artifacts")
        root = self.store.artifact_root(run)
        if root.path is not None and (root.path / rel / "MLmodel").is_file():
            # The model was saved in the run's artifacts: its recorded URI is the source
            # (RunsArtifactRepository.get_underlying_uri).
            base = run.artifact_uri
            return (base if base.endswith("/") else base + "/") + rel, run_id, None
        # MLflow 3: the run's logged model of that name logged at the latest step; of several,
        # the first in search_logged_models' order, newest first, then by id (fluent
        # _register_model takes max() over that list). Stores list them in other orders.
        candidates = sorted(
            (
                lm
                for lm in self.store.logged_models([run.experiment_id])
                if lm.source_run_id == run_id and lm.name == rel
            ),
            key=logged_model_order,
        )
        if not candidates:
            raise InvalidWriteError(
                f"run {run_id} has no model at {rel!r} (no MLmodel there, no logged model of "
                "that name)"
            )
        steps = {o.model_id: o.step for o in (run.outputs or [])}
        best = max(candidates, key=lambda lm: steps.get(lm.model_id, -1))
        return f"models:/{best.model_id}", run_id, best.model_id
