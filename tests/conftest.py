"""Fixture stores written by real MLflow: the committed ones and fresh ones made on demand."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURES_DIR = Path(__file__).parent / "fixtures"
STORES_DIR = FIXTURES_DIR / "stores"

#: Committed fixture stores (tests/fixtures/stores/mlflow-<version>-<backend>/), each with the
#: expected.json holding MlflowClient's own reading of it.
FIXTURE_STORES: list[Path] = sorted(
    p for p in STORES_DIR.glob("mlflow-*") if (p / "expected.json").is_file()
)
FIXTURE_IDS: list[str] = [p.name for p in FIXTURE_STORES]


def store_path(fixture_dir: Path) -> Path:
    """What to pass to open_store: the fixture's mlflow.db if it has one, else its mlruns/."""
    db = fixture_dir / "mlflow.db"
    return db if db.is_file() else fixture_dir / "mlruns"


def expected_reading(fixture_dir: Path) -> dict[str, Any]:
    """MLflow's own reading of a fixture store (readings.py schema, plus version and backend)."""
    return json.loads((fixture_dir / "expected.json").read_text(encoding="utf-8"))


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """Copy the committed fixture store `name` under tmp_path and return the copy's folder."""
    target = tmp_path / name
    shutil.copytree(STORES_DIR / name, target)
    return target


def skip_unless_mlflow_opens(name: str) -> None:
    """Skip unless the installed MLflow can open fixture `name` (a copy's folder name will do).

    MLflow refuses a database migrated past the newest schema it knows, so an SQLite fixture
    needs an MLflow at least as new as the one that wrote it (CI installs the newest).
    """
    if not mlflow_opens(name):
        installed = importlib.metadata.version("mlflow")
        pytest.skip(f"MLflow {installed} cannot open the database of {name}")


def mlflow_opens(name: str) -> bool:
    """Whether the installed MLflow can open fixture `name` (see skip_unless_mlflow_opens)."""
    found = re.fullmatch(r"mlflow-([\d.]+)-sqlite", name)
    if found is None or importlib.util.find_spec("mlflow") is None:
        return True
    return _version(importlib.metadata.version("mlflow")) >= _version(found.group(1))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@pytest.fixture(scope="session")
def fresh_mlflow_stores(tmp_path_factory) -> dict[str, Path]:
    """Stores just written by the installed MLflow, by backend ("file", "sqlite")."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (it comes with the test extra)")
    version = importlib.metadata.version("mlflow")
    root = tmp_path_factory.mktemp("fresh-mlflow-stores")
    stores = {}
    for backend in ("file", "sqlite"):
        target = root / f"mlflow-{version}-{backend}"
        done = subprocess.run(
            [
                sys.executable,
                str(FIXTURES_DIR / "make_fixtures.py"),
                str(target),
                "--backend",
                backend,
                "--build-root",
                str(root / "build"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            pytest.fail(f"make_fixtures.py --backend {backend} failed:\n{done.stderr[-4000:]}")
        stores[backend] = target
    return stores
