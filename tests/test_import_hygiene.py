"""Import hygiene: `mltui.store` is a plain library (no Textual, MLflow or pandas), so is
`mltui.tui.present` (no Textual or Rich), the CLI's help path stays light, and nothing ever
imports a top-level `store` or `tui` module (installed, mltui is the single package `mltui`; a
top-level `store` would collide with other distributions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def modules_after(statement: str, cwd: Path | None = None) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    )
    return set(json.loads(out.stdout))


def test_store_imports_no_textual_mlflow_or_pandas():
    loaded = modules_after(
        "import mltui.store, mltui.store.file.reader, mltui.store.sqlite.reader, "
        "mltui.store.search, mltui.store.export, mltui.store.follow, mltui.store.series, "
        "mltui.store.mlmodel, mltui.store.registry, mltui.store.demo, mltui.store.synth"
    )
    for heavy in ("textual", "mlflow", "pandas", "numpy", "plotext", "rich", "watchdog"):
        assert heavy not in loaded, f"mltui.store imported {heavy}"


def test_present_imports_no_textual_or_rich():
    # tui/present/ is what the screens show, worked out without a UI toolkit.
    loaded = modules_after(
        "import pkgutil, importlib, mltui.tui.present as p\n"
        "for info in pkgutil.walk_packages(p.__path__, p.__name__ + '.'):\n"
        "    importlib.import_module(info.name)"
    )
    assert "mltui.tui.present.runs_view" in loaded
    for heavy in ("textual", "rich", "plotext", "textual_plotext", "mlflow", "pandas"):
        assert heavy not in loaded, f"mltui.tui.present imported {heavy}"


def test_cli_help_path_stays_light():
    loaded = modules_after("import mltui.tui.cli")
    for heavy in ("textual", "pandas", "mlflow"):
        assert heavy not in loaded, f"mltui.tui.cli imported {heavy}"


def test_no_top_level_store_or_tui_is_ever_imported():
    # Run from the repository root, where a stray `import store` would succeed silently.
    walk = (
        "import importlib, pkgutil, mltui.store, mltui.tui\n"
        "for pkg in (mltui.store, mltui.tui):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)"
    )
    loaded = modules_after(walk, cwd=REPO)
    assert any(name.startswith("mltui.tui.screens.") for name in loaded)
    stray = sorted(name for name in loaded if name.split(".")[0] in ("store", "tui"))
    assert stray == [], f"top-level modules imported: {stray}"
