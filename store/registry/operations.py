"""The registry write operations as typed values: one small frozen class per write.

Each is validated once, when it is made (what MLflow's validation rejects whatever the registry
holds: names, tag keys, aliases, versions, stages); `compute` then checks it against a model's
snapshot, describes it line by line (the confirmation dialog shows the lines), and lists the
mutations a backend makes. The writer computes it at planning and again inside the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .model import (
    TAG_MODEL_VERSIONS,
    Computed,
    InvalidWriteError,
    ModelSnapshot,
    Mutation,
    bump,
    canonical_stage,
    holds_model,
    show_value,
    validate_alias,
    validate_model_name,
    validate_tag,
    validate_version,
)

if TYPE_CHECKING:
    from .backend import RegistryBackend


def _need_model(model: ModelSnapshot) -> None:
    if not model.exists:
        raise InvalidWriteError(f"there is no registered model {model.name!r}")


def _need_no_folder(model: ModelSnapshot) -> None:
    if model.incomplete:
        raise InvalidWriteError(
            f"models/{model.name} is a half-created registered model (a folder without "
            "meta.yaml, left by an interrupted create); remove it first"
        )


def _bumped(
    model: ModelSnapshot, now: int, backend: RegistryBackend, computed: Computed
) -> Computed:
    """`computed`, plus the model's last-updated bump where the backend's MLflow store makes
    one for tag and alias writes (the file store does; the SQL store does not)."""
    if backend.tag_writes_bump_model:
        computed.mutations.extend(bump(model.name, now))
        computed.lines.append(f"{model.name}: last updated time → now")
    return computed


@dataclass(frozen=True)
class Operation:
    """One registry write on the registered model `name`."""

    name: str

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        """Check against `model` (the registry as it is now), describe, list the mutations."""
        raise NotImplementedError

    def _set(self, attribute: str, value: object) -> None:
        # Normalising a field of a frozen value, once, while it is being made.
        object.__setattr__(self, attribute, value)

    def _validate_named_with_tags(self, *, model_tags: bool) -> None:
        """For writes that may create a model or version: its name, and its `tags` (copied)."""
        validate_model_name(self.name)
        tags = dict(getattr(self, "tags", {}))
        self._set("tags", tags)
        for key, value in tags.items():
            validate_tag(key, value, model_tag=model_tags)


@dataclass(frozen=True)
class CreateRegisteredModel(Operation):
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate_named_with_tags(model_tags=True)

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        backend.check_model_name(model.name)
        if model.exists:
            raise InvalidWriteError(f"registered model {model.name!r} already exists")
        _need_no_folder(model)
        lines = [f"new registered model {model.name!r}, created now"]
        if self.description:
            lines.append(f"description: {show_value(self.description)}")
        lines += [f"tag {k} = {show_value(v)}" for k, v in self.tags.items()]
        muts = [Mutation("create_model", model.name, fields={"description": self.description})]
        muts += [
            Mutation("set_model_tag", model.name, key=k, value=v) for k, v in self.tags.items()
        ]
        return Computed(f"Create registered model {model.name!r}", lines, muts)


@dataclass(frozen=True)
class UpdateModelDescription(Operation):
    description: str | None = None

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        _need_model(model)
        fields = {"description": self.description, "last_updated_timestamp": now}
        lines = [
            f"{model.name}: description {show_value(model.description)} → "
            f"{show_value(self.description)}",
            f"{model.name}: last updated time → now",
        ]
        return Computed(
            f"Change the description of {model.name}",
            lines,
            [Mutation("update_model", model.name, fields=fields)],
        )


@dataclass(frozen=True)
class SetModelTag(Operation):
    key: str = ""
    value: str = ""

    def __post_init__(self) -> None:
        validate_tag(self.key, self.value, model_tag=True)

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        _need_model(model)
        old = model.tags.get(self.key)
        line = f"{model.name}: tag {self.key} " + (
            f"{show_value(old)} → {show_value(self.value)}"
            if old is not None
            else f"= {show_value(self.value)} (new)"
        )
        muts = [Mutation("set_model_tag", model.name, key=self.key, value=self.value)]
        done = Computed(f"Set tag {self.key!r} of {model.name}", [line], muts)
        return _bumped(model, now, backend, done)


@dataclass(frozen=True)
class DeleteModelTag(Operation):
    key: str = ""

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        _need_model(model)
        if self.key not in model.tags:
            raise InvalidWriteError(f"there is no tag {self.key!r} on {model.name}")
        muts = [Mutation("delete_model_tag", model.name, key=self.key)]
        lines = [f"{model.name}: remove tag {self.key} (was {show_value(model.tags[self.key])})"]
        done = Computed(f"Delete tag {self.key!r} of {model.name}", lines, muts)
        return _bumped(model, now, backend, done)


@dataclass(frozen=True)
class SetAlias(Operation):
    alias: str = ""
    version: int = 0

    def __post_init__(self) -> None:
        validate_alias(self.alias, setting=True)
        self._set("version", validate_version(self.version))

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        alias, version = self.alias, self.version
        _need_model(model)
        model.live_version(version)
        old = model.aliases.get(alias)
        if old is None:
            line = f"{model.name}: alias @{alias} → version {version} (new)"
        else:
            line = f"{model.name}: alias @{alias} version {old} → version {version}"
        muts = [Mutation("set_alias", model.name, key=alias, version=version)]
        summary = f"Point alias @{alias} of {model.name} at version {version}"
        return _bumped(model, now, backend, Computed(summary, [line], muts))


@dataclass(frozen=True)
class DeleteAlias(Operation):
    alias: str = ""

    def __post_init__(self) -> None:
        validate_alias(self.alias, setting=False)

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        alias = self.alias
        _need_model(model)
        if alias not in model.aliases:
            raise InvalidWriteError(f"there is no alias {alias!r} on {model.name}")
        muts = [Mutation("delete_alias", model.name, key=alias)]
        lines = [f"{model.name}: remove alias @{alias} (was version {model.aliases[alias]})"]
        return _bumped(
            model, now, backend, Computed(f"Delete alias @{alias} of {model.name}", lines, muts)
        )


@dataclass(frozen=True)
class CreateModelVersion(Operation):
    """A new version; with `create_model`, of a registered model created first if need be (as
    `mlflow.register_model` does), and `logged_model` (model id, experiment id) gets the new
    version in its `mlflow.modelVersions` tag."""

    source: str = ""
    run_id: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    run_link: str | None = None
    model_id: str | None = None
    storage_location: str | None = None
    create_model: bool = False
    logged_model: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self._validate_named_with_tags(model_tags=False)

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        backend.check_model_name(model.name)
        muts: list[Mutation] = []
        lines: list[str] = []
        if not model.exists:
            if not self.create_model:
                raise InvalidWriteError(f"there is no registered model {model.name!r}")
            _need_no_folder(model)
            muts.append(Mutation("create_model", model.name, fields={"description": None}))
            lines.append(f"new registered model {model.name!r}, created now")
        version = model.next_version()
        source, storage_location = self.source, self.storage_location
        fields = {
            "source": source,
            "run_id": self.run_id,
            "run_link": self.run_link,
            "description": self.description,
            "storage_location": storage_location,
            "model_id": self.model_id,
        }
        muts.append(Mutation("create_version", model.name, version=version, fields=fields))
        muts += [
            Mutation("set_version_tag", model.name, version=version, key=k, value=v)
            for k, v in self.tags.items()
        ]
        muts += bump(model.name, now)
        lines.append(f"{model.name}: new version {version}, stage None, source {source}")
        if self.run_id:
            lines.append(f"version {version}: run {self.run_id}")
        if storage_location and storage_location != source:
            lines.append(f"version {version}: storage location {storage_location}")
        if self.description:
            lines.append(f"version {version}: description {show_value(self.description)}")
        lines += [f"version {version}: tag {k} = {show_value(v)}" for k, v in self.tags.items()]
        if model.exists:
            lines.append(f"{model.name}: last updated time → now")
        if self.logged_model is not None:
            mid, exp_id = self.logged_model
            muts.append(Mutation("append_model_version", model.name, key=mid, value=exp_id))
            lines.append(
                f"logged model {mid}: version {version} added to its {TAG_MODEL_VERSIONS} tag"
            )
        summary = f"Register version {version} of {model.name}" + (
            " (a new registered model)" if not model.exists else ""
        )
        return Computed(summary, lines, muts)


@dataclass(frozen=True)
class TransitionStage(Operation):
    version: int = 0
    stage: str = ""
    archive_existing_versions: bool = False

    def __post_init__(self) -> None:
        self._set("version", validate_version(self.version))
        self._set("stage", canonical_stage(self.stage))
        self._set("archive_existing_versions", bool(self.archive_existing_versions))

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        version, stage = self.version, self.stage
        _need_model(model)
        target = model.live_version(version)
        if self.archive_existing_versions and stage not in ("Staging", "Production"):
            raise InvalidWriteError(
                f"archiving the other versions only works when moving to Staging or Production, "
                f"not {stage}"
            )
        muts: list[Mutation] = []
        lines: list[str] = []
        if self.archive_existing_versions:
            for other in sorted(model.versions.values(), key=lambda v: v.version):
                if other.version != version and other.stage == stage:
                    muts.append(
                        Mutation(
                            "update_version",
                            model.name,
                            version=other.version,
                            fields={"current_stage": "Archived", "last_updated_timestamp": now},
                        )
                    )
                    lines.append(f"{model.name} version {other.version}: stage {stage} → Archived")
        muts.append(
            Mutation(
                "update_version",
                model.name,
                version=version,
                fields={"current_stage": stage, "last_updated_timestamp": now},
            )
        )
        muts += bump(model.name, now)
        if target.stage == stage:
            lines.insert(0, f"{model.name} version {version}: stays in {stage}")
        else:
            lines.insert(0, f"{model.name} version {version}: stage {target.stage} → {stage}")
        lines.append(
            f"{model.name}: last updated time → now (version {version}"
            + (" and the archived versions" if len(muts) > 2 else "")
            + " too)"
        )
        return Computed(
            f"Move {model.name} version {version} from {target.stage} to {stage}", lines, muts
        )


@dataclass(frozen=True)
class UpdateVersionDescription(Operation):
    version: int = 0
    description: str | None = None

    def __post_init__(self) -> None:
        self._set("version", validate_version(self.version))

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        version = self.version
        _need_model(model)
        mv = model.live_version(version)
        fields = {"description": self.description, "last_updated_timestamp": now}
        lines = [
            f"{model.name} version {version}: description {show_value(mv.description)} → "
            f"{show_value(self.description)}",
            f"{model.name} version {version}: last updated time → now",
        ]
        return Computed(
            f"Change the description of {model.name} version {version}",
            lines,
            [Mutation("update_version", model.name, version=version, fields=fields)],
        )


@dataclass(frozen=True)
class SetVersionTag(Operation):
    version: int = 0
    key: str = ""
    value: str = ""

    def __post_init__(self) -> None:
        self._set("version", validate_version(self.version))
        validate_tag(self.key, self.value, model_tag=False)

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        version, key, value = self.version, self.key, self.value
        _need_model(model)
        mv = model.live_version(version)
        old = mv.tags.get(key)
        line = f"{model.name} version {version}: tag {key} " + (
            f"{show_value(old)} → {show_value(value)}"
            if old is not None
            else f"= {show_value(value)} (new)"
        )
        muts = [Mutation("set_version_tag", model.name, version=version, key=key, value=value)]
        summary = f"Set tag {key!r} of {model.name} version {version}"
        return _bumped(model, now, backend, Computed(summary, [line], muts))


@dataclass(frozen=True)
class DeleteVersionTag(Operation):
    version: int = 0
    key: str = ""

    def __post_init__(self) -> None:
        self._set("version", validate_version(self.version))

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        version, key = self.version, self.key
        _need_model(model)
        mv = model.live_version(version)
        if key not in mv.tags:
            raise InvalidWriteError(f"there is no tag {key!r} on {model.name} version {version}")
        muts = [Mutation("delete_version_tag", model.name, version=version, key=key)]
        lines = [
            f"{model.name} version {version}: remove tag {key} (was {show_value(mv.tags[key])})"
        ]
        summary = f"Delete tag {key!r} of {model.name} version {version}"
        return _bumped(model, now, backend, Computed(summary, lines, muts))


@dataclass(frozen=True)
class RemoveIncompleteModel(Operation):
    """Remove `models/<name>/` of a file store: a folder without meta.yaml (an interrupted
    create), which MLflow cannot read; refused once it has its meta.yaml."""

    def compute(self, model: ModelSnapshot, now: int, backend: RegistryBackend) -> Computed:
        if model.exists:
            raise InvalidWriteError(f"{model.name} is a registered model (it has its meta.yaml)")
        if not model.incomplete or model.leftovers is None:
            raise InvalidWriteError(f"there is no half-created model folder {model.name!r}")
        leftovers = model.leftovers
        if holds_model(leftovers):
            raise InvalidWriteError(
                f"models/{model.name} holds model versions: more than a half-created model; "
                "nothing removed"
            )
        lines = [f"remove the folder models/{model.name} (no meta.yaml: an interrupted create)"]
        lines += [f"with its file {path}" for path in leftovers[:8]] or ["the folder is empty"]
        if len(leftovers) > 8:
            lines.append(f"with {len(leftovers) - 8} more files")
        return Computed(
            f"Remove the half-created model folder {model.name!r}",
            lines,
            [Mutation("remove_incomplete_model", model.name)],
        )
