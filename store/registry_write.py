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
tables unlike those of every MLflow whose writes are tested, see registry_schema.py) and invalid
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
  What remains is the instant between that last check and the rename: an MLflow write landing
  exactly there is lost; nothing can close it without a lock MLflow would honour.
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

import errno
import json
import os
import posixpath
import re
import shutil
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import yaml

from . import yamlfast
from .base import Store
from .entities import STAGE_DELETED_INTERNAL, STAGES, logged_model_order
from .errors import ReadOnlyError, StoreError, as_sentence
from .process import umask
from .rawread import MAX_FILE_BYTES, check_size, open_regular, read_bytes, read_rest
from .sqlite.registry_schema import load_tested_schemas, registry_schema, untested_difference

try:
    from yaml import CSafeDumper as _SafeDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _SafeDumper  # type: ignore[assignment]

#: The tag on an MLflow 3 logged model listing the versions registered from it (fluent
#: `mlflow.register_model`, mlflow/tracking/_model_registry/fluent.py).
TAG_MODEL_VERSIONS = "mlflow.modelVersions"

# mlflow/utils/validation.py
_ALIAS_RE = re.compile(r"[\w\-]*")
_ALIAS_VERSION_RE = re.compile(r"[vV]\d+")
_TAG_KEY_RE = re.compile(r"[/\w.\- :]*")
MAX_ALIAS_LENGTH = 255
MAX_TAG_KEY_LENGTH = 250
MAX_MODEL_TAG_VALUE_LENGTH = 100_000
#: How long SQLite waits for a concurrent writer (MLflow waits 20 s for us).
BUSY_TIMEOUT = 10.0


class InvalidWriteError(StoreError, ValueError):
    """A write MLflow would reject (bad name, missing version, reserved alias...); nothing done."""


@dataclass(frozen=True)
class WritePlan:
    """A checked write, described for confirmation; hand it to `RegistryWriter.apply`."""

    operation: str
    #: One line saying what the write does.
    summary: str
    #: Every change it makes, one line each (fields, tags, timestamps).
    changes: tuple[str, ...]
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    plan: WritePlan
    #: The time written into the changed timestamps (epoch ms).
    timestamp: int
    #: The version created, for version-creating writes.
    version: str | None = None


@dataclass(frozen=True)
class RunModel:
    """A model a run can register: pass `artifact_path` or `model_id` to `plan_register_model`."""

    label: str
    run_id: str
    artifact_path: str | None
    model_id: str | None


# -- what the registry holds, as a write sees it --------------------------------------------
@dataclass
class _Version:
    version: int
    stage: str
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.stage == STAGE_DELETED_INTERNAL


@dataclass
class _Model:
    name: str
    exists: bool
    description: str | None = None
    #: The MLflow 3.12+ workspace holding the model (SQL stores); None where there are none.
    workspace: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    #: Every version, deleted ones too (they count for the next version number).
    versions: dict[int, _Version] = field(default_factory=dict)
    #: A folder models/<name> without meta.yaml (an interrupted create): the files it holds.
    leftovers: tuple[str, ...] | None = None

    @property
    def incomplete(self) -> bool:
        return not self.exists and self.leftovers is not None

    def live_version(self, version: int) -> _Version:
        mv = self.versions.get(version)
        if mv is None or mv.deleted:
            raise InvalidWriteError(f"there is no version {version} of {self.name}")
        return mv

    def next_version(self) -> int:
        return max(self.versions, default=0) + 1


@dataclass
class _Mutation:
    kind: str
    name: str
    version: int | None = None
    key: str | None = None
    value: Any = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Computed:
    summary: str
    lines: list[str]
    mutations: list[_Mutation]


# -- validation, as mlflow/utils/validation.py does it ---------------------------------------
def _path_not_unique(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def validate_model_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidWriteError("a registered model needs a name")
    if "/" in name or ":" in name:
        raise InvalidWriteError(f"invalid model name {name!r}: names cannot contain '/' or ':'")
    if _path_not_unique(name):
        raise InvalidWriteError(f"invalid model name {name!r}: not a plain name")
    if kind == "file" and ("%" in name or os.sep in name or (os.altsep and os.altsep in name)):
        # The file store keeps each model in a folder named after it.
        raise InvalidWriteError(f"invalid model name {name!r}: the file store refuses '%'")


def validate_tag(key: str, value: str | None, *, model_tag: bool) -> None:
    if not isinstance(key, str) or not key:
        raise InvalidWriteError("a tag needs a key")
    if not _TAG_KEY_RE.fullmatch(key) or _path_not_unique(key):
        raise InvalidWriteError(
            f"invalid tag key {key!r}: keys may hold letters, digits, _ - . space : and /"
        )
    if len(key) > MAX_TAG_KEY_LENGTH:
        raise InvalidWriteError(f"tag key {key[:40]!r}... is over {MAX_TAG_KEY_LENGTH} characters")
    if value is None:
        raise InvalidWriteError(f"tag {key!r} needs a value")
    if not isinstance(value, str):
        raise InvalidWriteError(f"tag {key!r}: the value must be text")
    if model_tag and len(value) > MAX_MODEL_TAG_VALUE_LENGTH:
        raise InvalidWriteError(
            f"tag {key!r}: the value is over {MAX_MODEL_TAG_VALUE_LENGTH} characters"
        )


def validate_alias(alias: str, *, setting: bool) -> None:
    if not isinstance(alias, str) or not alias:
        raise InvalidWriteError("an alias needs a name")
    # MLflow uses re.match with `^...$`, which lets a trailing newline through; we do not.
    if not _ALIAS_RE.fullmatch(alias):
        raise InvalidWriteError(
            f"invalid alias {alias!r}: aliases may hold only letters, digits, _ and -"
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidWriteError(f"alias {alias[:40]!r}... is over {MAX_ALIAS_LENGTH} characters")
    if setting and alias.lower() == "latest":
        raise InvalidWriteError(
            "the alias 'latest' is reserved (it always means the newest version)"
        )
    if setting and _ALIAS_VERSION_RE.fullmatch(alias):
        raise InvalidWriteError(f"the alias {alias!r} is reserved (v<number> names a version)")


def validate_version(version: int | str) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise InvalidWriteError(f"version {version!r} is not a whole number") from None


def canonical_stage(stage: str) -> str:
    """MLflow's `get_canonical_stage`: None/Staging/Production/Archived, any letter case."""
    for name in STAGES:
        if isinstance(stage, str) and stage.lower() == name.lower():
            return name
    raise InvalidWriteError(f"invalid stage {stage!r}: use one of {', '.join(STAGES)}")


# -- describing ------------------------------------------------------------------------------
def _show(value: str | None, limit: int = 60) -> str:
    """A value for a one-line description: quoted, newlines shown, long text cut."""
    if value is None:
        return "(none)"
    text = value.replace("\r\n", "\n").replace("\n", "⏎").replace("\t", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def _bump(name: str, now: int) -> list[_Mutation]:
    return [_Mutation("update_model", name, fields={"last_updated_timestamp": now})]


# -- the writer ------------------------------------------------------------------------------
class RegistryWriter:
    """Registry writes for a `FileStore` or `SqliteStore`, planned first, applied on demand."""

    def __init__(
        self,
        store: Store,
        *,
        read_only: bool = False,
        clock: Callable[[], int] | None = None,
        busy_timeout: float = BUSY_TIMEOUT,
        workspace: str | None = None,
    ) -> None:
        """`workspace`: the MLflow workspace to write in (SQLite stores of MLflow 3.12+); by
        default a model's own, and "default" for a new one."""
        self.store = store
        self.read_only = read_only
        self._clock = clock or (lambda: int(time.time() * 1000))
        if store.kind == "file":
            root = getattr(store, "root", None) or store.location
            self._backend: _Backend = _FileBackend(Path(root))
        elif store.kind == "sqlite":
            self._backend = _SqliteBackend(Path(store.location), busy_timeout, workspace)
        else:  # pragma: no cover - only two backends exist
            raise StoreError(f"cannot write to a {store.kind} store")

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
    def _plan(self, operation: str, name: str, **args: Any) -> WritePlan:
        self._refuse(self.refusal())
        model = self._backend.snapshot(name)
        done = _OPS[operation](self, model, self._clock(), **args)
        self._refuse(self._backend.refusal_for(done.mutations))
        return WritePlan(operation, done.summary, tuple(done.lines), {"name": name, **args})

    def apply(self, plan: WritePlan) -> WriteResult:
        """Perform a planned write, checked again against the registry as it is now."""
        self._refuse(self.refusal())
        compute = _OPS[plan.operation]
        args = dict(plan.args)
        name = args.pop("name")

        def build(model: _Model, now: int) -> list[_Mutation]:
            # Runs inside the write (the SQLite transaction): nothing is written yet.
            muts = compute(self, model, now, **args).mutations
            self._refuse(self._backend.refusal_for(muts))
            return muts

        now, version = self._backend.run(name, self._clock, build)
        return WriteResult(plan, now, None if version is None else str(version))

    # -- registered models -------------------------------------------------------------------
    def plan_create_registered_model(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> WritePlan:
        return self._plan(
            "create_registered_model", name, description=description, tags=dict(tags or {})
        )

    def create_registered_model(
        self, name: str, description: str | None = None, tags: Mapping[str, str] | None = None
    ) -> WriteResult:
        return self.apply(self.plan_create_registered_model(name, description, tags))

    def plan_remove_incomplete_model(self, name: str) -> WritePlan:
        """Remove `models/<name>/` of a file store: a folder without meta.yaml (a create that
        was interrupted), which MLflow cannot read; refused once it has its meta.yaml."""
        return self._plan("remove_incomplete_model", name)

    def remove_incomplete_model(self, name: str) -> WriteResult:
        return self.apply(self.plan_remove_incomplete_model(name))

    def plan_update_model_description(self, name: str, description: str | None) -> WritePlan:
        return self._plan("update_model_description", name, description=description)

    def update_model_description(self, name: str, description: str | None) -> WriteResult:
        return self.apply(self.plan_update_model_description(name, description))

    def plan_set_model_tag(self, name: str, key: str, value: str) -> WritePlan:
        return self._plan("set_model_tag", name, key=key, value=value)

    def set_model_tag(self, name: str, key: str, value: str) -> WriteResult:
        return self.apply(self.plan_set_model_tag(name, key, value))

    def plan_delete_model_tag(self, name: str, key: str) -> WritePlan:
        return self._plan("delete_model_tag", name, key=key)

    def delete_model_tag(self, name: str, key: str) -> WriteResult:
        return self.apply(self.plan_delete_model_tag(name, key))

    def plan_set_alias(self, name: str, alias: str, version: int | str) -> WritePlan:
        return self._plan("set_alias", name, alias=alias, version=validate_version(version))

    def set_alias(self, name: str, alias: str, version: int | str) -> WriteResult:
        return self.apply(self.plan_set_alias(name, alias, version))

    def plan_delete_alias(self, name: str, alias: str) -> WritePlan:
        return self._plan("delete_alias", name, alias=alias)

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
            "create_model_version",
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
            "create_model_version",
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
            "transition_stage",
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
            "update_version_description",
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
            "set_version_tag", name, version=validate_version(version), key=key, value=value
        )

    def set_version_tag(self, name: str, version: int | str, key: str, value: str) -> WriteResult:
        return self.apply(self.plan_set_version_tag(name, version, key, value))

    def plan_delete_version_tag(self, name: str, version: int | str, key: str) -> WritePlan:
        return self._plan("delete_version_tag", name, version=validate_version(version), key=key)

    def delete_version_tag(self, name: str, version: int | str, key: str) -> WriteResult:
        return self.apply(self.plan_delete_version_tag(name, version, key))

    # -- what a registration points at -------------------------------------------------------
    def models_of_run(self, run_id: str) -> list[RunModel]:
        """The models a run offers for registration: MLmodel folders in its artifacts (MLflow
        1.x/2.x) and the MLflow 3 logged models it produced."""
        from .mlmodel import find_mlmodels

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


# -- the operations: check, describe, list the mutations -----------------------------------
def _need_model(model: _Model) -> None:
    if not model.exists:
        raise InvalidWriteError(f"there is no registered model {model.name!r}")


def _need_no_folder(model: _Model) -> None:
    if model.incomplete:
        raise InvalidWriteError(
            f"models/{model.name} is a half-created registered model (a folder without "
            "meta.yaml, left by an interrupted create); remove it first"
        )


def _op_create_registered_model(w, model, now, *, description, tags):
    validate_model_name(model.name, w.kind)
    if model.exists:
        raise InvalidWriteError(f"registered model {model.name!r} already exists")
    _need_no_folder(model)
    for key, value in tags.items():
        validate_tag(key, value, model_tag=True)
    lines = [f"new registered model {model.name!r}, created now"]
    if description:
        lines.append(f"description: {_show(description)}")
    lines += [f"tag {k} = {_show(v)}" for k, v in tags.items()]
    muts = [_Mutation("create_model", model.name, fields={"description": description})]
    muts += [_Mutation("set_model_tag", model.name, key=k, value=v) for k, v in tags.items()]
    return _Computed(f"Create registered model {model.name!r}", lines, muts)


def _op_update_model_description(w, model, now, *, description):
    _need_model(model)
    fields = {"description": description, "last_updated_timestamp": now}
    lines = [
        f"{model.name}: description {_show(model.description)} → {_show(description)}",
        f"{model.name}: last updated time → now",
    ]
    return _Computed(
        f"Change the description of {model.name}",
        lines,
        [_Mutation("update_model", model.name, fields=fields)],
    )


def _op_set_model_tag(w, model, now, *, key, value):
    _need_model(model)
    validate_tag(key, value, model_tag=True)
    old = model.tags.get(key)
    line = f"{model.name}: tag {key} " + (
        f"{_show(old)} → {_show(value)}" if old is not None else f"= {_show(value)} (new)"
    )
    muts = [_Mutation("set_model_tag", model.name, key=key, value=value)]
    lines = [line]
    if w.kind == "file":  # FileStore.set_registered_model_tag bumps the model; SQL does not
        muts += _bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return _Computed(f"Set tag {key!r} of {model.name}", lines, muts)


def _op_delete_model_tag(w, model, now, *, key):
    _need_model(model)
    if key not in model.tags:
        raise InvalidWriteError(f"there is no tag {key!r} on {model.name}")
    muts = [_Mutation("delete_model_tag", model.name, key=key)]
    lines = [f"{model.name}: remove tag {key} (was {_show(model.tags[key])})"]
    if w.kind == "file":
        muts += _bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return _Computed(f"Delete tag {key!r} of {model.name}", lines, muts)


def _op_set_alias(w, model, now, *, alias, version):
    validate_alias(alias, setting=True)
    _need_model(model)
    model.live_version(version)
    old = model.aliases.get(alias)
    if old is None:
        line = f"{model.name}: alias @{alias} → version {version} (new)"
    else:
        line = f"{model.name}: alias @{alias} version {old} → version {version}"
    muts = [_Mutation("set_alias", model.name, key=alias, version=version)]
    lines = [line]
    if w.kind == "file":
        muts += _bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return _Computed(f"Point alias @{alias} of {model.name} at version {version}", lines, muts)


def _op_delete_alias(w, model, now, *, alias):
    validate_alias(alias, setting=False)
    _need_model(model)
    if alias not in model.aliases:
        raise InvalidWriteError(f"there is no alias {alias!r} on {model.name}")
    muts = [_Mutation("delete_alias", model.name, key=alias)]
    lines = [f"{model.name}: remove alias @{alias} (was version {model.aliases[alias]})"]
    if w.kind == "file":
        muts += _bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return _Computed(f"Delete alias @{alias} of {model.name}", lines, muts)


def _op_create_model_version(
    w,
    model,
    now,
    *,
    source,
    run_id,
    description,
    tags,
    run_link,
    model_id,
    storage_location,
    create_model,
    logged_model,
):
    validate_model_name(model.name, w.kind)
    for key, value in tags.items():
        validate_tag(key, value, model_tag=False)
    muts: list[_Mutation] = []
    lines: list[str] = []
    if not model.exists:
        if not create_model:
            raise InvalidWriteError(f"there is no registered model {model.name!r}")
        _need_no_folder(model)
        muts.append(_Mutation("create_model", model.name, fields={"description": None}))
        lines.append(f"new registered model {model.name!r}, created now")
    version = model.next_version()
    fields = {
        "source": source,
        "run_id": run_id,
        "run_link": run_link,
        "description": description,
        "storage_location": storage_location,
        "model_id": model_id,
    }
    muts.append(_Mutation("create_version", model.name, version=version, fields=fields))
    muts += [
        _Mutation("set_version_tag", model.name, version=version, key=k, value=v)
        for k, v in tags.items()
    ]
    muts += _bump(model.name, now)
    lines.append(f"{model.name}: new version {version}, stage None, source {source}")
    if run_id:
        lines.append(f"version {version}: run {run_id}")
    if storage_location and storage_location != source:
        lines.append(f"version {version}: storage location {storage_location}")
    if description:
        lines.append(f"version {version}: description {_show(description)}")
    lines += [f"version {version}: tag {k} = {_show(v)}" for k, v in tags.items()]
    if model.exists:
        lines.append(f"{model.name}: last updated time → now")
    if logged_model is not None:
        mid, exp_id = logged_model
        muts.append(_Mutation("append_model_version", model.name, key=mid, value=exp_id))
        lines.append(f"logged model {mid}: version {version} added to its {TAG_MODEL_VERSIONS} tag")
    summary = f"Register version {version} of {model.name}" + (
        " (a new registered model)" if not model.exists else ""
    )
    return _Computed(summary, lines, muts)


def _op_transition_stage(w, model, now, *, version, stage, archive_existing_versions):
    _need_model(model)
    target = model.live_version(version)
    if archive_existing_versions and stage not in ("Staging", "Production"):
        raise InvalidWriteError(
            f"archiving the other versions only works when moving to Staging or Production, "
            f"not {stage}"
        )
    muts: list[_Mutation] = []
    lines: list[str] = []
    if archive_existing_versions:
        for other in sorted(model.versions.values(), key=lambda v: v.version):
            if other.version != version and other.stage == stage:
                muts.append(
                    _Mutation(
                        "update_version",
                        model.name,
                        version=other.version,
                        fields={"current_stage": "Archived", "last_updated_timestamp": now},
                    )
                )
                lines.append(f"{model.name} version {other.version}: stage {stage} → Archived")
    muts.append(
        _Mutation(
            "update_version",
            model.name,
            version=version,
            fields={"current_stage": stage, "last_updated_timestamp": now},
        )
    )
    muts += _bump(model.name, now)
    if target.stage == stage:
        lines.insert(0, f"{model.name} version {version}: stays in {stage}")
    else:
        lines.insert(0, f"{model.name} version {version}: stage {target.stage} → {stage}")
    lines.append(
        f"{model.name}: last updated time → now (version {version}"
        + (" and the archived versions" if len(muts) > 2 else "")
        + " too)"
    )
    return _Computed(
        f"Move {model.name} version {version} from {target.stage} to {stage}", lines, muts
    )


def _op_update_version_description(w, model, now, *, version, description):
    _need_model(model)
    mv = model.live_version(version)
    fields = {"description": description, "last_updated_timestamp": now}
    lines = [
        f"{model.name} version {version}: description {_show(mv.description)} → "
        f"{_show(description)}",
        f"{model.name} version {version}: last updated time → now",
    ]
    return _Computed(
        f"Change the description of {model.name} version {version}",
        lines,
        [_Mutation("update_version", model.name, version=version, fields=fields)],
    )


def _op_set_version_tag(w, model, now, *, version, key, value):
    _need_model(model)
    validate_tag(key, value, model_tag=False)
    mv = model.live_version(version)
    old = mv.tags.get(key)
    line = f"{model.name} version {version}: tag {key} " + (
        f"{_show(old)} → {_show(value)}" if old is not None else f"= {_show(value)} (new)"
    )
    muts = [_Mutation("set_version_tag", model.name, version=version, key=key, value=value)]
    lines = [line]
    if w.kind == "file":  # FileStore.set_model_version_tag bumps the registered model
        muts += _bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return _Computed(f"Set tag {key!r} of {model.name} version {version}", lines, muts)


def _op_delete_version_tag(w, model, now, *, version, key):
    _need_model(model)
    mv = model.live_version(version)
    if key not in mv.tags:
        raise InvalidWriteError(f"there is no tag {key!r} on {model.name} version {version}")
    muts = [_Mutation("delete_version_tag", model.name, version=version, key=key)]
    lines = [f"{model.name} version {version}: remove tag {key} (was {_show(mv.tags[key])})"]
    if w.kind == "file":
        muts += _bump(model.name, now)
        lines.append(f"{model.name}: last updated time → now")
    return _Computed(f"Delete tag {key!r} of {model.name} version {version}", lines, muts)


def _op_remove_incomplete_model(w, model, now):
    if model.exists:
        raise InvalidWriteError(f"{model.name} is a registered model (it has its meta.yaml)")
    if not model.incomplete:
        raise InvalidWriteError(f"there is no half-created model folder {model.name!r}")
    if _holds_model(model.leftovers):
        raise InvalidWriteError(
            f"models/{model.name} holds model versions: more than a half-created model; "
            "nothing removed"
        )
    lines = [f"remove the folder models/{model.name} (no meta.yaml: an interrupted create)"]
    lines += [f"with its file {path}" for path in model.leftovers[:8]] or ["the folder is empty"]
    if len(model.leftovers) > 8:
        lines.append(f"with {len(model.leftovers) - 8} more files")
    return _Computed(
        f"Remove the half-created model folder {model.name!r}",
        lines,
        [_Mutation("remove_incomplete_model", model.name)],
    )


_OPS: dict[str, Callable[..., _Computed]] = {
    "create_registered_model": _op_create_registered_model,
    "update_model_description": _op_update_model_description,
    "set_model_tag": _op_set_model_tag,
    "delete_model_tag": _op_delete_model_tag,
    "set_alias": _op_set_alias,
    "delete_alias": _op_delete_alias,
    "create_model_version": _op_create_model_version,
    "transition_stage": _op_transition_stage,
    "update_version_description": _op_update_version_description,
    "set_version_tag": _op_set_version_tag,
    "delete_version_tag": _op_delete_version_tag,
    "remove_incomplete_model": _op_remove_incomplete_model,
}


# -- backends --------------------------------------------------------------------------------
class _Backend:
    kind: str

    def refusal(self) -> str | None:
        raise NotImplementedError

    def refusal_for(self, mutations: list[_Mutation]) -> str | None:
        return None

    def snapshot(self, name: str) -> _Model:
        raise NotImplementedError

    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        """Snapshot, build the mutations, write them; (timestamp, created version)."""
        raise NotImplementedError


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only by its owner.

    Root passes `os.access` on any local file; a file or folder with no write bit at all is
    still taken as the owner's wish that it stay unchanged.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


# -- file store ------------------------------------------------------------------------------
_TMP_PREFIX = ".mltui-"
#: Our temporary names (see `_FileBackend._tmp_path`): files, version folders being built, and
#: model folders being built or removed at the store's root (`.trash`: MLflow skips those).
_OUR_TMP = re.compile(re.escape(_TMP_PREFIX) + r"[0-9a-f]{32}(\.tmp|\.trash)?")


def _dump_yaml(data: dict[str, Any]) -> str:
    # MLflow's write_yaml: yaml.dump with the C safe dumper, sorted keys, block style, unicode.
    # The pure-Python dumper folds long quoted strings differently, so use the same one.
    return yaml.dump(
        data, Dumper=_SafeDumper, default_flow_style=False, allow_unicode=True, sort_keys=True
    )


# The fields MLflow 3.17.2's entities write (RegisteredModel / FileModelVersion properties
# minus those kept elsewhere); any other key found in a meta.yaml is kept as it is.
_MODEL_KEYS = (
    "creation_timestamp",
    "deployment_job_id",
    "deployment_job_state",
    "description",
    "last_updated_timestamp",
    "name",
    "workspace",
)
_VERSION_KEYS = (
    "creation_timestamp",
    "current_stage",
    "deployment_job_state",
    "description",
    "last_updated_timestamp",
    "model_id",
    "name",
    "run_id",
    "run_link",
    "source",
    "status",
    "status_message",
    "storage_location",
    "user_id",
    "version",
    "workspace",
)
_DEFAULTS = {"workspace": "default", "status": "READY"}
#: Keys every meta.yaml MLflow writes has, sorted among the last: a file without them is being
#: written (or damaged), never a base to rewrite.
_MODEL_REQUIRED = ("name",)
_VERSION_REQUIRED = ("name", "version")


class _FileBackend(_Backend):
    kind = "file"
    #: After changing a description in a meta.yaml, look again this long after (seconds): MLflow
    #: rewrites the model's meta.yaml from a copy read beforehand when it bumps a timestamp.
    VERIFY_DELAYS = (0.02, 0.1, 0.25)
    #: How long to keep putting such a change back while another program goes on rewriting the
    #: file from stale copies: a script registering versions in a loop can revert it again and
    #: again for seconds (5 tries were not enough with 2 busy cores); a person waits at most this.
    REWRITE_SECONDS = 10.0
    #: Times a new version's number is tried again when a concurrent writer takes it.
    CLAIM_ATTEMPTS = 20
    #: Times a compare-and-swap is tried again when another program changed the file meanwhile
    #: (about 1 s of waiting in all).
    SWAP_ATTEMPTS = 20
    #: Our temporary files and folders older than this (seconds) were left by a crashed write.
    STALE_SECONDS = 60.0

    def __init__(self, root: Path) -> None:
        self.root = root
        #: Files are read only inside it (see rawread.open_regular).
        self.root_real = os.path.realpath(root)
        self.models = root / "models"
        self._lock = threading.Lock()

    # paths
    def model_dir(self, name: str) -> Path:
        return self.models / name

    def version_dir(self, name: str, version: int) -> Path:
        return self.models / name / f"version-{version}"

    def refusal(self) -> str | None:
        where = self.models if self.models.exists() else self.root
        if not where.is_dir():
            return f"{where} is not a folder"
        if not _writable(where):
            return f"{where} is not writable (file permissions); nothing was written"
        return None

    def _touched(self, m: _Mutation) -> list[Path]:
        model = self.model_dir(m.name)
        if m.kind == "create_model":
            return [self.root, self.models]  # built at the root, renamed into models/
        if m.kind == "remove_incomplete_model":
            return [self.root, self.models, model]
        if m.kind == "update_model":
            return [model, model / "meta.yaml"]
        if m.kind in ("set_model_tag", "delete_model_tag"):
            return [model, model / "tags" / m.key]
        if m.kind in ("set_alias", "delete_alias"):
            return [model, model / "aliases" / m.key]
        if m.kind == "create_version":
            return [model]
        if m.kind == "update_version":
            vdir = self.version_dir(m.name, m.version)
            return [vdir, vdir / "meta.yaml"]
        if m.kind in ("set_version_tag", "delete_version_tag"):
            vdir = self.version_dir(m.name, m.version)
            return [vdir, vdir / "tags" / m.key]
        if m.kind == "append_model_version":
            lm = self.root / str(m.value) / "models" / m.key
            return [lm, lm / "tags" / TAG_MODEL_VERSIONS]
        return []

    def refusal_for(self, mutations: list[_Mutation]) -> str | None:
        for m in mutations:
            for path in self._touched(m):
                target = _nearest_existing(path)
                if not _writable(target):
                    return f"{target} is not writable (file permissions); nothing was written"
        return None

    # reading
    def _read_meta(self, path: Path, required: tuple[str, ...] = ()) -> dict[str, Any] | None:
        found = self._load_meta(path, required)
        return None if found is None else found[1]

    def _load_meta(
        self, path: Path, required: tuple[str, ...] = ()
    ) -> tuple[_Seen, dict[str, Any]] | None:
        """A meta.yaml as read (for a compare-and-swap) and as data; None if there is none.

        MLflow's writes are not atomic (truncate, then write): an empty file, one that does not
        parse, or one cut short (no final newline, or without the `required` keys, which MLflow's
        sorted dump puts last) may be one being written; look again.
        """
        for delay in (0.0, 0.05, 0.1, 0.2):
            if delay:
                time.sleep(delay)
            try:
                seen = _read_seen(path, self.root_real)
            except OSError as exc:
                raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
            if seen is None:
                return None
            try:
                text = seen.data.decode("utf-8")
                data = yamlfast.loads(text)  # the safe loader, refusing alias bombs
            except (UnicodeDecodeError, yaml.YAMLError):
                continue
            if required and not text.endswith("\n"):
                continue
            if isinstance(data, dict) and all(k in data for k in required):
                return seen, data
        raise StoreError(f"{path} is empty, partial or damaged; not writing over it")

    def _read_files(self, folder: Path) -> dict[str, str]:
        """Tag or alias files under `folder` (keys may hold '/': nested folders)."""
        out: dict[str, str] = {}
        if not folder.is_dir():
            return out
        for dirpath, _dirs, files in os.walk(folder):
            for fname in files:
                if fname.startswith(_TMP_PREFIX):
                    continue
                full = os.path.join(dirpath, fname)
                key = os.path.relpath(full, folder).replace(os.sep, "/")
                try:
                    out[key] = read_bytes(full, self.root_real).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
        return out

    def snapshot(self, name: str) -> _Model:
        model_dir = self.model_dir(name)
        if not name or "/" in name or name in (".", "..") or not model_dir.is_dir():
            return _Model(name, exists=False)
        meta = self._read_meta(model_dir / "meta.yaml")
        if meta is None:
            return _Model(name, exists=False, leftovers=_files_under(model_dir))
        model = _Model(name, exists=True, description=meta.get("description"))
        model.tags = self._read_files(model_dir / "tags")
        for alias, text in self._read_files(model_dir / "aliases").items():
            try:
                model.aliases[alias] = int(text)
            except ValueError:
                continue
        for entry in os.scandir(model_dir):
            if not entry.is_dir() or not entry.name.startswith("version-"):
                continue
            vmeta = self._read_meta(Path(entry.path) / "meta.yaml")
            if vmeta is None:
                continue
            try:
                number = int(vmeta.get("version", entry.name[len("version-") :]))
            except (TypeError, ValueError):
                continue
            model.versions[number] = _Version(
                number,
                str(vmeta.get("current_stage") or "None"),
                vmeta.get("description"),
                self._read_files(Path(entry.path) / "tags"),
            )
        return model

    # writing
    def _tmp_path(self, folder: Path, suffix: str = ".tmp") -> Path:
        """A fresh name of ours in `folder`, after clearing what crashed writes left there."""
        self._sweep(folder)
        return folder / f"{_TMP_PREFIX}{uuid.uuid4().hex}{suffix}"

    def _sweep(self, folder: Path) -> None:
        """Remove our temporary files and folders in `folder` that are over a minute old.

        Only names we make (`_OUR_TMP`); the age (last change of content or name) keeps a write
        in progress in another process safe.
        """
        cutoff = time.time() - self.STALE_SECONDS
        try:
            with os.scandir(folder) as it:
                ours = [e for e in it if _OUR_TMP.fullmatch(e.name)]
        except OSError:
            return
        for entry in ours:
            try:
                st = entry.stat(follow_symlinks=False)
                if max(st.st_mtime, st.st_ctime) > cutoff:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
            except OSError:
                continue  # gone already, or not ours to remove: the write goes on

    def _write_tmp(self, folder: Path, text: str, mode: int | None) -> Path:
        tmp = self._tmp_path(folder)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            # A new file gets the permissions MLflow's plain open() would give it; a replaced
            # one keeps its own (as MLflow's overwrite_yaml restores them).
            os.chmod(tmp, mode if mode is not None else 0o666 & ~umask())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _replace(self, target: Path, text: str, tmp_folder: Path) -> None:
        """Write `target` atomically; the temporary file lives in `tmp_folder` (same disk)."""
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = None
        tmp = self._write_tmp(tmp_folder, text, mode)
        try:
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _write_new(self, target: Path, text: str) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    def _create(self, target: Path, text: str, tmp_folder: Path) -> None:
        """Create `target` with all of `text` at once, failing (FileExistsError) if it exists."""
        tmp = self._write_tmp(tmp_folder, text, None)
        try:
            try:
                os.link(tmp, target)  # atomic, and never replaces an existing file
            except FileExistsError:
                raise
            except OSError:
                self._write_new(target, text)  # no hard links here: exclusive create instead
        finally:
            tmp.unlink(missing_ok=True)

    def _model_meta_text(self, name: str, meta: dict[str, Any]) -> str:
        out = {k: v for k, v in meta.items() if k != "aliases"}
        for key in _MODEL_KEYS:
            out.setdefault(key, _DEFAULTS.get(key))
        if out.get("workspace") is None:
            out["workspace"] = "default"
        # The stale copy of the aliases, refreshed from aliases/ as MLflow does on each rewrite.
        out["aliases"] = self._read_files(self.model_dir(name) / "aliases")
        return _dump_yaml(out)

    @staticmethod
    def _version_meta_text(meta: dict[str, Any]) -> str:
        # 2.x wrote a stale `aliases: []` here; 3.17.2 drops it (aliases live in aliases/).
        out = {k: v for k, v in meta.items() if k not in ("aliases", "tags", "metrics", "params")}
        for key in _VERSION_KEYS:
            out.setdefault(key, _DEFAULTS.get(key))
        if out.get("workspace") is None:
            out["workspace"] = "default"
        return _dump_yaml(out)

    def _swap(self, target: Path, seen: _Seen | None, text: str, tmp_folder: Path) -> bool:
        """Replace `target` by `text` if it is still as `seen` (None: still absent).

        False, with nothing written, when another program changed it since it was read.
        """
        if seen is None:
            try:
                self._create(target, text, tmp_folder)
            except FileExistsError:
                return False
            return True
        tmp = self._write_tmp(tmp_folder, text, seen.mode)
        try:
            if _read_seen(target, self.root_real) != seen:
                return False
            # An MLflow write landing between this check and the rename would be lost: the
            # one window left (see the module docstring).
            os.replace(tmp, target)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _rewrite(self, target: Path, tmp_folder: Path, change) -> None:
        """Swap `change()`'s text into `target`, reading anew while another program interferes.

        `change()` reads `target` and returns (what it read, the text to write in its place).
        """
        for attempt in range(self.SWAP_ATTEMPTS):
            if attempt:
                time.sleep(0.005 * attempt)  # let the other writer finish
            seen, text = change()
            if self._swap(target, seen, text, tmp_folder):
                return
        raise StoreError(
            f"another program kept rewriting {target} while we wrote; nothing was written there, "
            "try again"
        )

    def _update_meta(self, path: Path, fields: dict[str, Any], render, required) -> None:
        """Set `fields` in a meta.yaml, keeping whatever else it holds as it is when we swap."""

        def change() -> tuple[_Seen, str]:
            found = self._load_meta(path, required)
            if found is None:
                raise InvalidWriteError(f"{path} is gone; another program removed it")
            seen, meta = found
            return seen, render({**meta, **fields})

        self._rewrite(path, path.parent, change)

    def _update_meta_checked(self, path: Path, fields: dict[str, Any], render, required) -> None:
        """Update fields, then make sure a concurrent rewrite did not put the old values back."""
        self._update_meta(path, fields, render, required)
        lasting = {k: v for k, v in fields.items() if not k.endswith("timestamp")}
        if not lasting:
            return
        deadline = time.monotonic() + self.REWRITE_SECONDS
        step = 0
        while step < len(self.VERIFY_DELAYS):
            time.sleep(self.VERIFY_DELAYS[step])
            meta = self._read_meta(path) or {}
            if all(meta.get(k) == v for k, v in lasting.items()):
                step += 1
                continue
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"another program keeps rewriting {path}; the change did not hold, try again"
                )
            self._update_meta(path, fields, render, required)
            step = 0  # watch the whole schedule again after writing again

    def _create_version(self, name: str, first: int, fields: dict[str, Any], now: int) -> int:
        """Create `version-<n>` for the lowest free n >= `first`; returns n.

        The folder is built under a temporary name inside the model folder (MLflow lists only
        `version-*` there) and renamed into place, so no reader ever meets a version folder
        without its meta.yaml; a rename fails on a folder that already holds something, which
        is how a number taken by a concurrent writer is noticed.
        """
        model_dir = self.model_dir(name)
        number = first
        for _ in range(self.CLAIM_ATTEMPTS):
            existing = [
                int(e.name[len("version-") :])
                for e in os.scandir(model_dir)
                if e.is_dir() and e.name[len("version-") :].isdigit()
            ]
            number = max([number - 1, *existing]) + 1
            vdir = self.version_dir(name, number)
            meta = {
                "name": name,
                "version": number,
                "creation_timestamp": now,
                "last_updated_timestamp": now,
                "current_stage": "None",
                "status": "READY",
                "status_message": None,
                "user_id": None,
                "deployment_job_state": None,
                **fields,
            }
            text = self._version_meta_text(meta)
            if not self._place(model_dir, "", vdir, text):
                continue
            if self._still_ours(vdir, text):
                return number
            # MLflow checked for meta.yaml in its empty folder just before our rename and wrote
            # its own over ours: the number is MLflow's; take the next one.
        raise StoreError(f"could not claim a new version number for {name}; try again")

    def _create_model(self, name: str, text: str) -> None:
        """Make `models/<name>/` holding its meta.yaml `text`, in one step for every reader.

        Built at the store's root under a name ending in `.trash` (MLflow's tracking store skips
        those, FileStore._get_active_experiments; its registry lists only models/) and renamed
        into models/: a crash leaves no model folder without its meta.yaml.
        """
        self.models.mkdir(parents=True, exist_ok=True)
        model_dir = self.model_dir(name)
        if not self._place(self.root, ".trash", model_dir, text):
            raise InvalidWriteError(f"registered model {name!r} already exists")
        if not self._still_ours(model_dir, text):
            raise InvalidWriteError(f"registered model {name!r} was created by another program")

    def _place(self, build_in: Path, suffix: str, target: Path, text: str) -> bool:
        """Build a folder holding meta.yaml `text` under a temporary name in `build_in`, then
        rename it to `target`; False (nothing left behind) if `target` holds something already.
        """
        build = self._tmp_path(build_in, suffix)
        os.mkdir(build)
        try:
            self._write_new(build / "meta.yaml", text)
            # Replaces nothing but an empty folder: MLflow's creates make the folder (tolerating
            # an existing one), then write meta.yaml, refusing to write over ours.
            os.rename(build, target)
        except OSError as exc:
            shutil.rmtree(build, ignore_errors=True)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                return False
            raise
        return True

    def _still_ours(self, folder: Path, text: str) -> bool:
        """After a moment, is `folder`'s meta.yaml still ours? MLflow may have found no meta.yaml
        in its empty folder just before our rename and written its own over ours."""
        time.sleep(self.VERIFY_DELAYS[0])
        return _read_or_none(folder / "meta.yaml") == text

    def _remove_incomplete_model(self, name: str) -> None:
        """Take a model folder without meta.yaml out of models/, unless it gains one meanwhile.

        Moved out in one step (to a temporary name at the root), looked at again there, and
        deleted; put back if another program completed it in the meantime.
        """
        model_dir = self.model_dir(name)
        parked = self._tmp_path(self.root, ".trash")
        try:
            os.rename(model_dir, parked)
        except FileNotFoundError:
            raise InvalidWriteError(f"{model_dir} is gone already; nothing removed") from None
        if _holds_model(_files_under(parked)):
            try:
                os.rename(parked, model_dir)
            except OSError:
                # Recreated meanwhile: keep it under a name readers skip and our sweep spares.
                kept = self.root / f"{_TMP_PREFIX}kept-{uuid.uuid4().hex}.trash"
                os.rename(parked, kept)
                raise StoreError(
                    f"{model_dir} was completed and recreated while being removed; the "
                    f"completed one is kept as {kept}"
                ) from None
            raise InvalidWriteError(
                f"{model_dir} gained its meta.yaml (another program finished creating it); "
                "nothing removed"
            )
        shutil.rmtree(parked)

    def _append_model_version(self, exp_id: str, model_id: str, name: str, version: int):
        folder = self.root / exp_id / "models" / model_id
        if not folder.is_dir():
            return  # as MLflow: a missing logged model only costs the link
        tag = folder / "tags" / TAG_MODEL_VERSIONS
        tag.parent.mkdir(parents=True, exist_ok=True)

        def change() -> tuple[_Seen | None, str]:
            seen = _read_seen(tag, self.root_real)
            current = None if seen is None else seen.data.decode("utf-8", errors="replace")
            return seen, _model_versions_tag(current, name, version)

        self._rewrite(tag, folder, change)

    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        with self._lock:
            now = clock()
            model = self.snapshot(name)
            mutations = build(model, now)
            created: int | None = None
            model_dir = self.model_dir(name)
            meta_path = model_dir / "meta.yaml"
            render_model = lambda meta: self._model_meta_text(name, meta)  # noqa: E731
            for m in mutations:
                if m.kind == "create_model":
                    meta = {
                        "name": name,
                        "creation_timestamp": now,
                        "last_updated_timestamp": now,
                        "description": m.fields.get("description"),
                        "deployment_job_id": None,
                        "deployment_job_state": None,
                        "workspace": "default",
                    }
                    self._create_model(name, render_model(meta))
                elif m.kind == "remove_incomplete_model":
                    self._remove_incomplete_model(name)
                elif m.kind == "update_model":
                    self._update_meta_checked(meta_path, m.fields, render_model, _MODEL_REQUIRED)
                elif m.kind == "set_model_tag":
                    self._write_key(model_dir / "tags", m.key, m.value, model_dir)
                elif m.kind == "delete_model_tag":
                    _remove(model_dir / "tags" / m.key)
                elif m.kind == "set_alias":
                    self._write_key(model_dir / "aliases", m.key, str(m.version), model_dir)
                elif m.kind == "delete_alias":
                    _remove(model_dir / "aliases" / m.key)
                elif m.kind == "create_version":
                    created = self._create_version(name, m.version, m.fields, now)
                elif m.kind == "update_version":
                    vdir = self.version_dir(name, m.version)
                    self._update_meta_checked(
                        vdir / "meta.yaml", m.fields, self._version_meta_text, _VERSION_REQUIRED
                    )
                elif m.kind in ("set_version_tag", "delete_version_tag"):
                    version = created if created is not None else m.version
                    vdir = self.version_dir(name, version)
                    if m.kind == "set_version_tag":
                        self._write_key(vdir / "tags", m.key, m.value, vdir)
                    else:
                        _remove(vdir / "tags" / m.key)
                elif m.kind == "append_model_version":
                    self._append_model_version(str(m.value), m.key, name, created or 0)
                else:  # pragma: no cover
                    raise StoreError(f"unknown change {m.kind}")
            return now, created

    def _write_key(self, folder: Path, key: str, value: str, tmp_folder: Path) -> None:
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Tag and alias files hold the value alone, no trailing newline (FileStore.write_to).
        self._replace(target, value, tmp_folder)


@dataclass(frozen=True)
class _Seen:
    """A file as read: a rewrite based on it may replace it only while it is still so."""

    #: (inode, size, mtime_ns) from before the read: a change during the read shows too.
    identity: tuple[int, int, int]
    mode: int
    data: bytes


def _read_seen(path: Path, root_real: str) -> _Seen | None:
    """A file's bytes and what identifies that version of it; None when there is none. Read as
    the store's readers read (rawread): without blocking, no link out of the store, a sane size."""
    try:
        fd, st = open_regular(str(path), root_real)
    except FileNotFoundError:
        return None
    try:
        check_size(str(path), st.st_size, MAX_FILE_BYTES)
        data = read_rest(fd, 0, st.st_size, MAX_FILE_BYTES)
    finally:
        os.close(fd)
    return _Seen((st.st_ino, st.st_size, st.st_mtime_ns), stat.S_IMODE(st.st_mode), data)


def _files_under(folder: Path) -> tuple[str, ...]:
    """Every file under `folder`, as sorted relative paths."""
    found = []
    for dirpath, dirs, files in os.walk(folder):
        dirs.sort()
        rel = Path(dirpath).relative_to(folder)
        found += [(rel / fname).as_posix() for fname in sorted(files)]
    return tuple(found)


def _holds_model(files: tuple[str, ...]) -> bool:
    """A model's meta.yaml or a version's among a model folder's files: more than a half-created
    model, which holds at most our temporary files, tags or aliases."""
    return any(f == "meta.yaml" or re.fullmatch(r"version-[^/]*/meta\.yaml", f) for f in files)


def _read_or_none(path: Path) -> str | None:
    """A file's text; None when it is missing, unreadable or no regular file (a FIFO...)."""
    try:
        return read_bytes(str(path)).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _model_versions_tag(current: str | None, name: str, version: int) -> str:
    entries: list[Any] = []
    if current:
        try:
            loaded = json.loads(current)
            if isinstance(loaded, list):
                entries = loaded
        except ValueError:
            entries = []
    # json.dumps with default separators, version as a number: what the fluent API writes.
    return json.dumps([*entries, {"name": name, "version": int(version)}])


# -- SQLite ----------------------------------------------------------------------------------
class _SqliteBackend(_Backend):
    kind = "sqlite"

    def __init__(self, db: Path, busy_timeout: float, workspace: str | None = None) -> None:
        self.db = db
        self.busy_timeout = busy_timeout
        self.workspace = workspace
        self._lock = threading.Lock()

    def refusal(self) -> str | None:
        for path in (self.db, self.db.parent):
            if not _writable(path):
                return f"{path} is not writable (file permissions); nothing was written."
        for suffix in ("-journal", "-wal", "-shm"):
            extra = Path(f"{self.db}{suffix}")
            if extra.exists() and not _writable(extra):
                return f"{extra} is not writable (file permissions); nothing was written."
        try:
            conn = self._connect(write=False)
        except StoreError as exc:
            return f"Not writing: {exc}; nothing was written."
        try:
            return self._schema_refusal(conn)
        except sqlite3.Error as exc:
            return f"Not writing: cannot read the schema of {self.db} ({exc}); nothing was written."
        finally:
            conn.close()

    def _schema_refusal(self, conn: sqlite3.Connection) -> str | None:
        """One sentence when the registry tables are unlike every tested MLflow's, else None."""
        differs = untested_difference(registry_schema(conn))
        if differs is None:
            return None
        *older, newest = [t["mlflow"] for t in load_tested_schemas()]
        tested = f"{', '.join(older)} or {newest}" if older else newest
        return (
            f"Not writing to {self.db.name}: {differs}; mltui writes only to registry tables "
            f"exactly as MLflow {tested} made them, so nothing was written."
        )

    def _connect(self, write: bool) -> sqlite3.Connection:
        # mode=rw never creates a database; mode=ro never writes one.
        uri = f"file:{quote(str(self.db))}?mode={'rw' if write else 'ro'}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.db}: {exc}") from exc
        return conn

    @staticmethod
    def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}

    @staticmethod
    def _where(cols: set[str], ws: str | None, **keys: Any) -> tuple[str, list[Any]]:
        # MLflow 3.12+ keys every registry row by (workspace, name); single-tenant MLflow
        # writes them all into "default".
        items = list(keys.items())
        if "workspace" in cols:
            items.append(("workspace", ws or "default"))
        return " AND ".join(f'"{k}" = ?' for k, _ in items), [v for _, v in items]

    def _workspace_of(self, conn: sqlite3.Connection, cols: set[str], name: str) -> str | None:
        """The workspace to write `name` in: the writer's, else the model's own, else default."""
        if "workspace" not in cols:
            return None
        if self.workspace:
            return self.workspace
        found = sorted(
            w
            for (w,) in conn.execute(
                "SELECT workspace FROM registered_models WHERE name = ?", (name,)
            )
        )
        if len(found) > 1:
            raise InvalidWriteError(
                f"registered model {name!r} exists in the workspaces {', '.join(found)}; "
                "say which one to write in"
            )
        return found[0] if found else "default"

    def _read(self, conn: sqlite3.Connection, name: str) -> _Model:
        rm_cols = self._columns(conn, "registered_models")
        if not rm_cols:
            return _Model(name, exists=False)
        ws = self._workspace_of(conn, rm_cols, name)
        where, args = self._where(rm_cols, ws, name=name)
        row = conn.execute(
            f"SELECT description FROM registered_models WHERE {where}", args
        ).fetchone()
        if row is None:
            return _Model(name, exists=False, workspace=ws)
        model = _Model(name, exists=True, description=row[0], workspace=ws)
        cols = self._columns(conn, "registered_model_tags")
        if cols:
            where, args = self._where(cols, ws, name=name)
            model.tags = dict(
                conn.execute(f'SELECT "key", value FROM registered_model_tags WHERE {where}', args)
            )
        cols = self._columns(conn, "registered_model_aliases")
        if cols:
            where, args = self._where(cols, ws, name=name)
            model.aliases = {
                a: int(v)
                for a, v in conn.execute(
                    f"SELECT alias, version FROM registered_model_aliases WHERE {where}", args
                )
            }
        cols = self._columns(conn, "model_versions")
        where, args = self._where(cols, ws, name=name)
        for version, stage, desc in conn.execute(
            f"SELECT version, current_stage, description FROM model_versions WHERE {where}", args
        ):
            model.versions[int(version)] = _Version(int(version), str(stage or "None"), desc)
        cols = self._columns(conn, "model_version_tags")
        if cols:
            where, args = self._where(cols, ws, name=name)
            for version, key, value in conn.execute(
                f'SELECT version, "key", value FROM model_version_tags WHERE {where}', args
            ):
                if int(version) in model.versions:
                    model.versions[int(version)].tags[key] = value
        return model

    def snapshot(self, name: str) -> _Model:
        conn = self._connect(write=False)
        try:
            conn.execute("BEGIN")
            return self._read(conn, name)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.db}: {exc}") from exc
        finally:
            conn.close()

    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        with self._lock:
            conn = self._connect(write=True)
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Checked again inside the transaction: a newer MLflow may have migrated
                    # the database since the plan was made.
                    reason = self._schema_refusal(conn)
                    if reason is not None:
                        raise ReadOnlyError(reason)
                    now = clock()
                    model = self._read(conn, name)
                    created = self._execute(conn, model, build(model, now), now)
                    conn.execute("COMMIT")
                    return now, created
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                low = str(exc).lower()
                if "locked" in low or "busy" in low:
                    raise StoreError(
                        f"{self.db} stayed locked by another writer for {self.busy_timeout:g} s; "
                        "nothing was written, try again"
                    ) from exc
                raise StoreError(f"writing {self.db} failed, nothing was written: {exc}") from exc
            finally:
                conn.close()

    def _upsert(self, conn, table: str, ws, keys: dict[str, Any], values: dict[str, Any]) -> None:
        cols = self._columns(conn, table)
        where, args = self._where(cols, ws, **keys)
        sets = ", ".join(f'"{k}" = ?' for k in values)
        cur = conn.execute(f"UPDATE {table} SET {sets} WHERE {where}", [*values.values(), *args])
        if cur.rowcount == 0:
            self._insert(conn, table, self._in_workspace(cols, ws, {**keys, **values}))

    @staticmethod
    def _in_workspace(cols: set[str], ws: str | None, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "workspace": ws or "default"} if "workspace" in cols else row

    def _delete(self, conn, table: str, ws, keys: dict[str, Any]) -> None:
        where, args = self._where(self._columns(conn, table), ws, **keys)
        conn.execute(f"DELETE FROM {table} WHERE {where}", args)

    def _execute(self, conn, model: _Model, mutations: list[_Mutation], now: int) -> int | None:
        created: int | None = None
        name, ws = model.name, model.workspace
        rm_cols = self._columns(conn, "registered_models")
        mv_cols = self._columns(conn, "model_versions")
        for m in mutations:
            if m.kind == "create_model":
                row = {
                    "name": name,
                    "creation_time": now,
                    "last_updated_time": now,
                    "description": m.fields.get("description"),
                }
                self._insert(conn, "registered_models", self._in_workspace(rm_cols, ws, row))
            elif m.kind == "update_model":
                values = {_SQL_FIELD.get(k, k): v for k, v in m.fields.items()}
                where, args = self._where(rm_cols, ws, name=name)
                sets = ", ".join(f'"{k}" = ?' for k in values)
                conn.execute(
                    f"UPDATE registered_models SET {sets} WHERE {where}",
                    [*values.values(), *args],
                )
            elif m.kind == "set_model_tag":
                self._upsert(
                    conn,
                    "registered_model_tags",
                    ws,
                    {"name": name, "key": m.key},
                    {"value": m.value},
                )
            elif m.kind == "delete_model_tag":
                self._delete(conn, "registered_model_tags", ws, {"name": name, "key": m.key})
            elif m.kind == "set_alias":
                self._upsert(
                    conn,
                    "registered_model_aliases",
                    ws,
                    {"name": name, "alias": m.key},
                    {"version": m.version},
                )
            elif m.kind == "delete_alias":
                self._delete(conn, "registered_model_aliases", ws, {"name": name, "alias": m.key})
            elif m.kind == "create_version":
                # Inside BEGIN IMMEDIATE nobody else writes: the number cannot be taken.
                where, args = self._where(mv_cols, ws, name=name)
                (top,) = conn.execute(
                    f"SELECT MAX(version) FROM model_versions WHERE {where}", args
                ).fetchone()
                created = (top or 0) + 1
                row = {
                    "name": name,
                    "version": created,
                    "creation_time": now,
                    "last_updated_time": now,
                    "description": m.fields.get("description"),
                    "user_id": None,
                    "current_stage": "None",
                    "source": m.fields.get("source"),
                    "run_id": m.fields.get("run_id"),
                    "status": "READY",
                    "status_message": None,
                    "run_link": m.fields.get("run_link"),
                    "storage_location": m.fields.get("storage_location"),
                }
                row = self._in_workspace(mv_cols, ws, row)
                # The table has no model_id column: MLflow keeps it only in `source`.
                self._insert(conn, "model_versions", {k: v for k, v in row.items() if k in mv_cols})
            elif m.kind == "update_version":
                values = {_SQL_FIELD.get(k, k): v for k, v in m.fields.items()}
                where, args = self._where(mv_cols, ws, name=name, version=m.version)
                sets = ", ".join(f'"{k}" = ?' for k in values)
                conn.execute(
                    f"UPDATE model_versions SET {sets} WHERE {where}", [*values.values(), *args]
                )
            elif m.kind in ("set_version_tag", "delete_version_tag"):
                version = created if created is not None else m.version
                keys = {"name": name, "version": version, "key": m.key}
                if m.kind == "set_version_tag":
                    self._upsert(conn, "model_version_tags", ws, keys, {"value": m.value})
                else:
                    self._delete(conn, "model_version_tags", ws, keys)
            elif m.kind == "append_model_version":
                self._append_model_version(conn, m.key, name, created or 0)
            else:  # pragma: no cover
                raise StoreError(f"unknown change {m.kind}")
        return created

    @staticmethod
    def _insert(conn, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))

    def _append_model_version(self, conn, model_id: str, name: str, version: int):
        if not self._columns(conn, "logged_model_tags"):
            return
        found = conn.execute(
            "SELECT experiment_id FROM logged_models WHERE model_id = ?", (model_id,)
        ).fetchone()
        if found is None:
            return  # as MLflow: a missing logged model only costs the link
        row = conn.execute(
            "SELECT tag_value FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
            (model_id, TAG_MODEL_VERSIONS),
        ).fetchone()
        value = _model_versions_tag(row[0] if row else None, name, version)
        if row:
            conn.execute(
                "UPDATE logged_model_tags SET tag_value = ? WHERE model_id = ? AND tag_key = ?",
                (value, model_id, TAG_MODEL_VERSIONS),
            )
        else:
            conn.execute(
                "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) "
                "VALUES (?, ?, ?, ?)",
                (model_id, found[0], TAG_MODEL_VERSIONS, value),
            )


#: File-store field names -> SQLite column names.
_SQL_FIELD = {"creation_timestamp": "creation_time", "last_updated_timestamp": "last_updated_time"}
