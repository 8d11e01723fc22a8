"""The file store reader: an `mlruns/` folder written by MLflow 1.x, 2.x or 3.x.

Mirrors mlflow/store/tracking/file_store.py and mlflow/store/model_registry/file_store.py of
MLflow 1.30, 2.22 and 3.17, read-only, with four deliberate differences:

- MLflow 3.12+ only finds a run whose folder has `metrics/`, `params/` and `artifacts/`
  (`_is_valid_run_directory`). Stores copied with git lose empty folders, so we show such runs.
- MLflow fails a whole search on one malformed file; we skip what is broken, say so once in
  `store.warnings`, and keep everything else.
- A metric file's unterminated last line is a write in progress; MLflow parses it (`1795 0.`
  becomes a point), we ignore it until its newline arrives.
- MLflow 3.x reads the step of a 5-field metric line (a point logged with a dataset) as 0; we
  keep the step that was logged.

Speed: a 10,000-run store is ~300,000 small files, so the hot path reads bytes with `os.open`
and `os.read` (fewer system calls than `open()`), parses meta.yaml by hand (`yamlfast`), computes
the latest metric without building objects per line, and keeps parsed runs in `ScanCache`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..artifacts import ArtifactRoot, resolve_artifact_root
from ..entities import LoggedModel, Run
from .follower import FileFollower
from .models import ModelsReader
from .registry import FileRegistryBackend
from .runs import RunsReader
from .traces import TracesReader


class FileStore(RunsReader, ModelsReader, TracesReader):
    """An `mlruns/` folder, read as MLflow's FileStore reads it.

    Each job has its module: folder.py (files, meta.yaml, experiments), runs.py, models.py
    (logged models, registry), traces.py; this class joins them and hands out the follower,
    the registry writer and artifact roots.
    """

    kind = "file"

    # -- what the store hands out: its follower, registry writer and artifact roots --------
    def change_source(self) -> FileFollower:
        return FileFollower(self)

    def registry_backend(self, **_options: Any) -> FileRegistryBackend:
        """Takes no options (the SQLite backend's busy_timeout and workspace mean nothing here)."""
        return FileRegistryBackend(Path(self.root))

    def artifact_root(self, run: Run) -> ArtifactRoot:
        """The run's artifact folder; `<exp>/<run>/artifacts` here if the store was moved."""
        run_dir = self._find_run_dir(run.run_id)
        fallback = Path(run_dir) / "artifacts" if run_dir else None
        return resolve_artifact_root(run.artifact_uri, self.location, fallback=fallback)

    def logged_model_artifact_root(self, model: LoggedModel) -> ArtifactRoot:
        """A logged model's artifact folder; `<exp>/models/<id>/artifacts` here if moved."""
        store_root = Path(self.location)
        fallback = store_root / model.experiment_id / "models" / model.model_id / "artifacts"
        return resolve_artifact_root(model.artifact_location, store_root, fallback=fallback)
