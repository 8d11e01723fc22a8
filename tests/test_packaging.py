"""The wheel installs one top-level package, `mltui`, holding every subpackage of store/ and tui/
(as mltui.store and mltui.tui) and the app's stylesheet."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_has_one_top_level_package_with_every_subpackage(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mltui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == {"mltui"}

    packaged = {str(Path(name).parent) for name in names if name.endswith("/__init__.py")}
    expected = {
        "mltui/" + str(init.parent.relative_to(REPO))
        for folder in ("store", "tui")
        for init in (REPO / folder).rglob("__init__.py")
    }
    assert expected <= packaged, f"missing from the wheel: {sorted(expected - packaged)}"
    assert any(name.startswith("mltui/tui/") and name.endswith(".tcss") for name in names)
    # Typed packages (PEP 561): mypy checks mltui as installed.
    assert {"mltui/store/py.typed", "mltui/tui/py.typed"} <= set(names)
