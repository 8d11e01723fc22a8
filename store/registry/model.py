"""What a registry write works with: plans and results, the registry as a write sees it (a
snapshot of one model), the mutations a write makes, and MLflow's validation of names, tags,
aliases, versions and stages (mlflow/utils/validation.py)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..entities import STAGE_DELETED_INTERNAL, STAGES
from ..errors import StoreError

if TYPE_CHECKING:
    from .operations import Operation

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


class InvalidWriteError(StoreError, ValueError):
    """A write MLflow would reject (bad name, missing version, reserved alias...); nothing done."""


@dataclass(frozen=True)
class WritePlan:
    """A checked write, described for confirmation; hand it to `RegistryWriter.apply`."""

    #: What to write (store/registry/operations.py): computed again when applied.
    operation: Operation
    #: One line saying what the write does.
    summary: str
    #: Every change it makes, one line each (fields, tags, timestamps).
    changes: tuple[str, ...]


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
class VersionSnapshot:
    version: int
    stage: str
    description: str | None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.stage == STAGE_DELETED_INTERNAL


@dataclass
class ModelSnapshot:
    name: str
    exists: bool
    description: str | None = None
    #: The MLflow 3.12+ workspace holding the model (SQL stores); None where there are none.
    workspace: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    #: Every version, deleted ones too (they count for the next version number).
    versions: dict[int, VersionSnapshot] = field(default_factory=dict)
    #: A folder models/<name> without meta.yaml (an interrupted create): the files it holds.
    leftovers: tuple[str, ...] | None = None

    @property
    def incomplete(self) -> bool:
        return not self.exists and self.leftovers is not None

    def live_version(self, version: int) -> VersionSnapshot:
        mv = self.versions.get(version)
        if mv is None or mv.deleted:
            raise InvalidWriteError(f"there is no version {version} of {self.name}")
        return mv

    def next_version(self) -> int:
        return max(self.versions, default=0) + 1


@dataclass
class Mutation:
    kind: str
    name: str
    version: int | None = None
    key: str | None = None
    value: Any = None
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def named_key(self) -> str:
        """`key`, for the kinds that always name one (tags, aliases, a logged model's id)."""
        assert self.key is not None, f"a {self.kind} change names its key"
        return self.key

    @property
    def named_version(self) -> int:
        """`version`, for the kinds that change an existing version."""
        assert self.version is not None, f"a {self.kind} change names its version"
        return self.version


@dataclass
class Computed:
    summary: str
    lines: list[str]
    mutations: list[Mutation]


# -- validation, as mlflow/utils/validation.py does it ---------------------------------------
def _path_not_unique(name: str) -> bool:
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def validate_model_name(name: str) -> None:
    """What every MLflow store refuses; a backend may refuse more (`check_model_name`)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidWriteError("a registered model needs a name")
    if "/" in name or ":" in name:
        raise InvalidWriteError(f"invalid model name {name!r}: names cannot contain '/' or ':'")
    if _path_not_unique(name):
        raise InvalidWriteError(f"invalid model name {name!r}: not a plain name")


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
def show_value(value: str | None, limit: int = 60) -> str:
    """A value for a one-line description: quoted, newlines shown, long text cut."""
    if value is None:
        return "(none)"
    text = value.replace("\r\n", "\n").replace("\n", "⏎").replace("\t", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def bump(name: str, now: int) -> list[Mutation]:
    return [Mutation("update_model", name, fields={"last_updated_timestamp": now})]


def holds_model(files: tuple[str, ...]) -> bool:
    """A model's meta.yaml or a version's among a model folder's files: more than a half-created
    model, which holds at most our temporary files, tags or aliases."""
    return any(f == "meta.yaml" or re.fullmatch(r"version-[^/]*/meta\.yaml", f) for f in files)
