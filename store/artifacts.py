"""Finding a run's artifact folder on this machine, and browsing it safely.

Shared by the file and SQLite readers. A store copied to another machine or folder keeps the
absolute artifact URIs MLflow recorded at logging time, so a recorded path that no longer exists
is looked up again relative to the store. Listing never follows a path out of the artifact root.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import StoreError
from .rawread import inside, read_head


@dataclass(slots=True)
class ArtifactRoot:
    """Where a run's or model's artifacts are on this machine, and how we found them."""

    recorded: str
    path: Path | None
    #: Why `path` differs from `recorded` (a relocated store), or why it is None (remote URI).
    note: str | None = None


@dataclass(slots=True)
class ArtifactEntry:
    path: str  # relative to the artifact root, with "/" separators
    is_dir: bool
    size: int | None


#: How much of a file a text preview reads by default.
PREVIEW_LIMIT = 64 * 1024

_SEPARATORS = re.compile(r"[\\/]+")
# A Windows drive ("C:") parses as a one-letter URI scheme; it is a local path all the same.
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def local_path_of(recorded_uri: str) -> tuple[str | None, str | None]:
    """(local path, None) for a file URI or plain path; (None, scheme) for a remote URI."""
    uri = recorded_uri.strip()
    if not uri:
        return None, ""
    if _DRIVE.match(uri):
        return uri, None
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        # file:///abs, file:/abs and file://localhost/abs all name a local path; MLflow
        # percent-encodes nothing here, but unquote anyway for URIs written by other tools.
        path = unquote(parsed.path)
        if parsed.netloc and parsed.netloc not in ("localhost", "127.0.0.1"):
            path = "//" + parsed.netloc + path
        # file:///C:/x parses to "/C:/x" on POSIX: drop the slash before a drive letter.
        if re.match(r"^/[A-Za-z]:/", path):
            path = path[1:]
        return path, None
    if scheme:
        return None, scheme
    return uri, None


def _tail_under(recorded_path: str, store_root: Path) -> Path | None:
    """The longest tail of `recorded_path` that exists as a folder under `store_root`."""
    parts = [p for p in _SEPARATORS.split(recorded_path) if p and p != "."]
    if any(p == ".." for p in parts):
        return None
    for start in range(len(parts)):
        candidate = store_root.joinpath(*parts[start:])
        if candidate.is_dir():
            return candidate
    return None


def resolve_artifact_root(
    recorded_uri: str, store_root: Path, *, fallback: Path | None = None
) -> ArtifactRoot:
    """Where `recorded_uri`'s artifacts are locally: as recorded, or found again under the store.

    `store_root` is the `mlruns` folder of a file store, or the folder holding a SQLite database.
    `fallback` is where the artifacts would be in this store's own layout (the file reader passes
    `<store>/<exp>/<run>/artifacts`); it is tried before matching the recorded path's tail.
    A folder outside `store_root` is never browsed: a run recording `file:///etc` would
    otherwise show the machine's files; the root then has no path and a note saying so.
    """
    root = _find_artifact_root(recorded_uri, Path(store_root), fallback)
    if root.path is None:
        return root
    store_real = os.path.realpath(store_root)
    if inside(store_real, os.path.realpath(root.path)):
        return root
    return ArtifactRoot(
        root.recorded,
        None,
        f"the artifact folder {root.path} is outside the store ({store_root}); not browsed",
    )


def _find_artifact_root(recorded_uri: str, store_root: Path, fallback: Path | None) -> ArtifactRoot:
    """`resolve_artifact_root` before the check that the folder is inside the store."""
    recorded = recorded_uri or ""
    local, scheme = local_path_of(recorded)
    if local is None:
        if scheme == "":
            return ArtifactRoot(recorded, None, "no artifact location was recorded")
        return ArtifactRoot(
            recorded,
            None,
            f"artifacts are stored remotely ({scheme}:); mltui can only browse local folders",
        )

    recorded_path = Path(local)
    if recorded_path.is_absolute():
        if recorded_path.is_dir():
            return ArtifactRoot(recorded, recorded_path)
    else:
        # MLflow 1.x SQLite stores record "./mlruns/<exp>/<run>/artifacts", relative to the folder
        # MLflow ran in; that is usually the folder holding the store.
        for base in (store_root, store_root.parent):
            candidate = base / recorded_path
            if candidate.is_dir():
                return ArtifactRoot(recorded, candidate)

    if fallback is not None and Path(fallback).is_dir():
        return ArtifactRoot(
            recorded, Path(fallback), f"recorded location not found; using {fallback}"
        )
    found = _tail_under(local, store_root)
    if found is not None:
        return ArtifactRoot(recorded, found, f"recorded location not found; using {found}")
    return ArtifactRoot(
        recorded, None, f"no folder at {local} (nothing logged yet, or the store was moved)"
    )


def _inside(root_real: str, rel: str) -> str:
    """The real path of `rel` under `root_real`; StoreError when it leads outside the root."""
    rel = (rel or "").replace("\\", "/").strip("/")
    target = os.path.realpath(os.path.join(root_real, rel)) if rel else root_real
    if target != root_real and os.path.commonpath([root_real, target]) != root_real:
        raise StoreError(f"refusing {rel!r}: it leads outside the artifact folder")
    return target


def _root_real(root: ArtifactRoot) -> str:
    if root.path is None:
        raise StoreError(root.note or f"no local artifact folder for {root.recorded}")
    return os.path.realpath(root.path)


def list_artifacts(root: ArtifactRoot, rel: str = "") -> list[ArtifactEntry]:
    """The entries of folder `rel` under the artifact root, folders first, then by name.

    Entries that resolve outside the root (symlinks pointing elsewhere) are left out.
    An artifact root without a local folder, or a missing folder, lists as empty.
    """
    if root.path is None:
        return []
    root_real = _root_real(root)
    folder = _inside(root_real, rel)
    prefix = (rel or "").replace("\\", "/").strip("/")
    entries: list[ArtifactEntry] = []
    try:
        with os.scandir(folder) as it:
            items = list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise StoreError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    for item in items:
        try:
            if item.is_symlink():
                real = os.path.realpath(item.path)
                if real != root_real and os.path.commonpath([root_real, real]) != root_real:
                    continue
            st = os.stat(item.path)
        except (OSError, ValueError):
            continue  # a dangling symlink or an entry removed while listing
        is_dir = stat.S_ISDIR(st.st_mode)
        entries.append(
            ArtifactEntry(
                path=f"{prefix}/{item.name}" if prefix else item.name,
                is_dir=is_dir,
                size=None if is_dir else st.st_size,
            )
        )
    entries.sort(key=lambda e: (not e.is_dir, e.path))
    return entries


def read_text_preview(root: ArtifactRoot, rel: str, limit: int = PREVIEW_LIMIT) -> str | None:
    """Up to `limit` bytes of a file as text; None when the file looks binary.

    Only a regular file is read (a FIFO would block the preview, and the app's exit, forever).
    """
    target = _inside(_root_real(root), rel)
    if os.path.isdir(target):
        raise StoreError(f"{rel!r} is a folder, not a file")
    try:
        data = read_head(target, limit + 1)
    except OSError as exc:
        raise StoreError(f"cannot read {rel!r}: {exc.strerror or exc}") from exc
    truncated = len(data) > limit
    data = data[:limit]
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Cutting at `limit` may split one multi-byte character; only that is forgiven.
        if truncated and exc.start >= len(data) - 3:
            try:
                return data[: exc.start].decode("utf-8")
            except UnicodeDecodeError:
                return None
        return None
