"""Turn what a person types (a folder, a .db file, a file:/sqlite: URI) into an open store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from .base import Store
from .errors import NotAStoreError, StoreError
from .postgres.connect import is_postgres_uri
from .rawread import read_db_header

SQLITE_MAGIC = b"SQLite format 3\x00"
REMOTE_SCHEMES = ("http", "https", "databricks", "postgresql", "mysql", "mssql")
#: Remote URIs opened over the network rather than on disk.
SERVER_SCHEMES = ("http", "https")


def _scheme(target: str) -> str:
    """The URI scheme of `target`, lowercase; "" for a plain path."""
    return target.split(":", 1)[0].lower() if ":" in target else ""


def _is_sqlite_file(path: Path) -> bool:
    try:
        return read_db_header(str(path), 16) == SQLITE_MAGIC
    except OSError:
        return False


def _has_experiment_folders(path: Path) -> bool:
    """True when `path` looks like an mlruns folder: an experiment folder with a meta.yaml."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return False
    for entry in entries:
        if not entry.is_dir():
            continue
        if entry.name == ".trash" or (
            entry.name.isdigit() and os.path.exists(os.path.join(entry.path, "meta.yaml"))
        ):
            return True
    # A store holding only the registry (models/) or only deleted experiments still counts.
    return os.path.isdir(os.path.join(path, "models")) and any(
        os.path.exists(os.path.join(e.path, "meta.yaml"))
        for e in os.scandir(os.path.join(path, "models"))
        if e.is_dir()
    )


def path_from_uri(target: str) -> tuple[str, Path]:
    """Split a store argument into ("file"|"sqlite"|"path", local path).

    `sqlite:///x.db` is relative to the current directory and `sqlite:////abs/x.db` absolute,
    as in SQLAlchemy URLs; `file:///abs/mlruns` and `file:relative` as MLflow accepts them.
    """
    scheme = target.split(":", 1)[0].lower() if ":" in target else ""
    if scheme in REMOTE_SCHEMES:
        raise NotAStoreError(
            f"{target} is a remote store mltui does not open; give a local store or a "
            "tracking server's http(s):// URL."
        )
    if scheme == "sqlite":
        rest = target[len("sqlite:") :]
        if not rest.startswith("//"):
            raise NotAStoreError(
                f"{target} is not an sqlite URI; expected sqlite:///path/to/mlflow.db."
            )
        raw = unquote(rest[2:].split("?", 1)[0])
        # After "sqlite://" comes "/<path>": one slash = relative, two = absolute.
        return "sqlite", Path(raw[1:] if raw.startswith("/") else raw)
    if scheme == "file":
        parsed = urlparse(target)
        raw = unquote(parsed.path or parsed.netloc)
        return "file", Path(raw)
    if len(scheme) > 1 and "://" in target:
        raise NotAStoreError(
            f"{target}: the {scheme}: scheme is not a local store; give a folder, a .db file, "
            "a file: or an sqlite: URI."
        )
    return "path", Path(target).expanduser()


def open_store(target: str | os.PathLike[str]) -> Store:
    """Open a local MLflow store, choosing the backend from what is on disk.

    An http(s):// URL opens a tracking server (store/server/). Raises NotAStoreError (or a
    ServerError) with one sentence saying what was expected.
    """
    from .file.reader import FileStore
    from .sqlite.reader import SqliteStore

    if is_postgres_uri(os.fspath(target)):
        from .postgres.store import PostgresStore

        return PostgresStore(os.fspath(target))
    if isinstance(target, str) and _scheme(target) in SERVER_SCHEMES:
        from .server import ServerStore

        return ServerStore(target)
    kind, path = path_from_uri(os.fspath(target))
    if not path.exists():
        raise NotAStoreError(
            f"{path}: no such file or directory; expected an mlruns folder or an mlflow.db file."
        )
    if path.is_file():
        if _is_sqlite_file(path):
            return SqliteStore(path)
        if path.stat().st_size == 0 and path.suffix == ".db":
            raise NotAStoreError(f"{path} is an empty file, not an MLflow SQLite database.")
        raise NotAStoreError(
            f"{path} is not an SQLite database; expected an mlruns folder or an mlflow.db file."
        )
    if kind == "sqlite":
        raise NotAStoreError(f"{path} is a folder; an sqlite: URI must name the database file.")
    if _has_experiment_folders(path):
        return FileStore(path)
    # MLflow 3 keeps ./mlflow.db beside ./mlruns, which then only holds artifacts.
    for db in (path.parent / "mlflow.db", path / "mlflow.db"):
        if db.is_file() and _is_sqlite_file(db):
            store = SqliteStore(db)
            store.notes.append(
                f"{path} holds only artifacts; opened the SQLite store beside it: {db}"
            )
            return store
    if (path / "mlruns").is_dir():
        return open_store(path / "mlruns")
    raise NotAStoreError(
        f"{path} is not an MLflow store; expected an mlruns folder (experiment folders with "
        "meta.yaml) or an mlflow.db file."
    )


def default_store_target(
    env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str | None:
    """What `mltui` with no argument opens, as `mlflow ui` would find it; None if nothing."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    uri = env.get("MLFLOW_TRACKING_URI", "").strip()
    scheme = _scheme(uri)
    # A server or a PostgreSQL database is opened directly; other remote URIs are not.
    if uri and (scheme not in REMOTE_SCHEMES or scheme in SERVER_SCHEMES or is_postgres_uri(uri)):
        return uri
    if (cwd / "mlruns").is_dir() and _has_experiment_folders(cwd / "mlruns"):
        return str(cwd / "mlruns")
    if (cwd / "mlflow.db").is_file():
        return str(cwd / "mlflow.db")
    if (cwd / "mlruns").is_dir():
        return str(cwd / "mlruns")
    # A remote tracking URI with no local store here: opening it says remote is not supported.
    return uri or None


#: How many "artifacts" folders up `enclosing_store` looks for the store a model sits in.
STORE_SEARCH_LEVELS = 12


def enclosing_store(model_dir: Path) -> Store | None:
    """The store a model folder lives in, found from MLflow's layouts; None when it is loose.

    Run artifacts sit at `<mlruns>/<exp>/<run>/artifacts/...` and MLflow 3 logged models at
    `<mlruns>/<exp>/models/<id>/artifacts`; an SQLite store keeps that `mlruns` beside its
    `mlflow.db`, which then is the store.
    """
    folder = Path(os.path.abspath(model_dir))
    tried: set[Path] = set()
    for level, artifacts in enumerate([folder, *folder.parents]):
        if level > STORE_SEARCH_LEVELS:
            break
        if artifacts.name != "artifacts" or len(artifacts.parents) < 4:
            continue
        owner = artifacts.parent
        logged_model = owner.name.startswith("m-") and owner.parent.name == "models"
        mlruns = artifacts.parents[3 if logged_model else 2]
        for candidate in (mlruns.parent / "mlflow.db", mlruns):
            if candidate in tried or not candidate.exists():
                continue
            tried.add(candidate)
            try:
                return open_store(candidate)
            except StoreError:
                continue
    return None
