"""Time to the first screen: `mltui STORE` until the experiments table has its rows.

    python tests/bench/bench_startup.py [STORE ...]   (default: a fresh demo store)

Each store is timed in a new Python process (imports included, as a person waits for them),
best of 3; `python -c "import mlflow"` is timed the same way for scale.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import time
t0 = time.perf_counter()
import asyncio, sys
sys.path.insert(0, {root!r})
from mltui.store import open_store
from mltui.tui.app import MltuiApp
t_import = time.perf_counter() - t0

async def main():
    app = MltuiApp(open_store({store!r}), watch=False)
    t_names = None
    async with app.run_test(size=(120, 36)) as pilot:
        while True:
            screen = app.screen
            table = screen.query("#experiments-table")
            if t_names is None and table and table.first().row_count:
                t_names = time.perf_counter() - t0
            if t_names and getattr(screen, "rows", None) and all(
                r.runs is not None for r in screen.rows
            ):
                break
            await asyncio.sleep(0.005)
        print(f"{{t_import:.3f}} {{t_names:.3f}} {{time.perf_counter() - t0:.3f}}")

asyncio.run(main())
"""


def time_once(store: str) -> tuple[float, float, float]:
    code = PROBE.format(root=str(ROOT), store=store)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imports, names, total = map(float, out.stdout.split())
    return imports, names, total


def main() -> None:
    stores = sys.argv[1:]
    tmp = None
    if not stores:
        from mltui.store.demo import build_demo_store

        tmp = tempfile.TemporaryDirectory()
        stores = [str(build_demo_store(Path(tmp.name)))]
    mlflow = []
    for _ in range(3):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t=time.perf_counter(); import mlflow; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode == 0:
            mlflow.append(float(out.stdout))
    for store in stores:
        runs = [time_once(store) for _ in range(3)]
        imports = min(r[0] for r in runs)
        names = min(r[1] for r in runs)
        total = min(r[2] for r in runs)
        median = statistics.median(r[2] for r in runs)
        print(
            f"{store}\n  imports {imports:.3f} s; experiments listed {names:.3f} s; "
            f"run counts filled in {total:.3f} s (median {median:.3f} s)"
        )
    if mlflow:
        print(f"for scale: `import mlflow` alone takes {min(mlflow):.3f} s")


if __name__ == "__main__":
    main()
