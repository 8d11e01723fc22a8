"""Finding MLflow model folders: the folder a recorded model URI or a registered version points
at (found again under a moved store), the MLmodel folders below an artifact root, and whether a
path given on the command line is a model folder. What a folder holds is read by mlmodel.py."""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from .artifacts import resolve_artifact_root
from .entities import LoggedModel, ModelVersion
from .mlmodel import MLMODEL

if TYPE_CHECKING:
    from .artifacts import ArtifactRoot
    from .base import Store

#: How deep `find_mlmodels` looks below the artifact root, and how many folders at most.
FIND_DEPTH = 4
FIND_MAX_FOLDERS = 5000


def model_folder(store: Store, uri: str | None) -> Path | None:
    """The local folder of a model given by a recorded URI (a version's storage location or
    source, a logged model's artifact location), found again under a moved store; else None."""
    if not uri or uri.startswith(("models:/", "runs:/")):
        return None
    # A SQLite store's artifacts sit beside the database; a file store's inside mlruns/.
    root = getattr(store, "store_root", None) or store.location
    found = resolve_artifact_root(uri, Path(root)).path
    return found if found is not None and (found / MLMODEL).is_file() else None


def version_model_folder(store: Store, mv: ModelVersion) -> Path | None:
    """The local model folder of a registered version (storage location, source, logged model)."""
    for uri in (mv.storage_location, mv.source):
        found = model_folder(store, uri)
        if found is not None:
            return found
    logged = _logged_model_of(store, mv)
    if logged is not None:
        path = store.logged_model_artifact_root(logged).path
        if path is not None and (path / MLMODEL).is_file():
            return path
    return None


def version_model_root(store: Store, mv: ModelVersion) -> tuple[ArtifactRoot, str] | None:
    """(artifact root, folder under it) of a registered version's model where the store reads
    artifacts for us (a tracking server's proxy) rather than from a local folder: its logged
    model's artifacts (MLflow 3), else its run's artifacts at a `runs:/<run>/<path>` source's
    path. None when neither is read through the store."""
    logged = _logged_model_of(store, mv)
    if logged is not None:
        root, rel = store.logged_model_artifact_root(logged), ""
    elif (mv.source or "").startswith("runs:/"):
        run_id, _, rel = (mv.source or "")[len("runs:/") :].partition("/")
        run = store.run(run_id) if run_id else None
        if run is None:
            return None
        root = store.artifact_root(run)
    else:
        return None
    if root.path is not None or not store.can_browse_artifacts(root):
        return None
    return root, rel.strip("/")


def _logged_model_of(store: Store, mv: ModelVersion) -> LoggedModel | None:
    """The logged model a version was registered from (MLflow 3: its model_id, or a
    `models:/m-...` source where the version does not carry the id)."""
    model_id = mv.model_id
    if not model_id and mv.source and mv.source.startswith("models:/m-"):
        model_id = mv.source[len("models:/") :].strip("/")
    if not model_id:
        return None
    return next((lm for lm in store.logged_models() if lm.model_id == model_id), None)


def find_mlmodels(artifact_root: str | os.PathLike[str], max_depth: int = FIND_DEPTH) -> list[Path]:
    """Folders at or below `artifact_root` holding an MLmodel file, nearest first.

    Looks `max_depth` folders deep and at most `FIND_MAX_FOLDERS` folders; does not follow
    symlinked folders (no loops) nor look inside a model folder (a model is not nested).
    """
    root = Path(artifact_root)
    found: list[Path] = []
    queue: deque[tuple[Path, int]] = deque([(root, 0)])
    seen = 0
    while queue and seen < FIND_MAX_FOLDERS:
        folder, depth = queue.popleft()
        seen += 1
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        if any(e.name == MLMODEL and _is_file(e) for e in entries):
            found.append(folder)
            continue
        if depth >= max_depth:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    queue.append((Path(entry.path), depth + 1))
            except OSError:
                continue
    return found


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def mlmodel_target(target: str | os.PathLike[str] | None) -> Path | None:
    """The model folder when `target` is one (or is its MLmodel file); else None."""
    if target is None:
        return None
    path = Path(target).expanduser()
    try:
        if path.name == MLMODEL and path.is_file():
            return path.parent
        if path.is_dir() and (path / MLMODEL).is_file():
            return path
    except OSError:
        return None
    return None
