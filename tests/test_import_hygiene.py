"""`store` is a plain library: importing it pulls in neither Textual, MLflow nor pandas."""

from __future__ import annotations

import json
import subprocess
import sys


def modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_store_imports_no_textual_mlflow_or_pandas():
    loaded = modules_after(
        "import store, store.file_store, store.sqlite_store, store.search, store.export, "
        "store.watch, store.series, store.mlmodel, store.registry_write, store.demo, store.synth"
    )
    for heavy in ("textual", "mlflow", "pandas", "numpy", "plotext", "rich", "watchdog"):
        assert heavy not in loaded, f"store imported {heavy}"


def test_cli_help_path_stays_light():
    loaded = modules_after("import tui.cli")
    for heavy in ("textual", "pandas", "mlflow"):
        assert heavy not in loaded, f"tui.cli imported {heavy}"
