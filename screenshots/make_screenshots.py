"""Make the README's screenshots from the real app on the demo store.

    python screenshots/make_screenshots.py

Each shot drives the app headless with the same keys a person would press, then saves the
screen as SVG in this folder.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

SIZE = (120, 36)


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def shot(
    store_path: Path,
    name: str,
    steps: Callable[[object], Awaitable[None]] | None = None,
    demo: bool = True,
) -> None:
    from mltui.store import open_store
    from mltui.tui.app import MltuiApp

    app = MltuiApp(open_store(store_path), watch=False, demo=demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        if steps is not None:
            await steps(pilot)
            await settle(pilot)
        app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
    print(f"screenshots/{name}.svg")


def cursor_on_sweep(pilot) -> None:
    """On the experiments screen, the cursor on the experiment with the most runs."""
    screen = pilot.app.screen
    best = max(screen.rows, key=lambda r: r.runs or 0)
    table = screen.query_one("DataTable")
    table.move_cursor(row=table.get_row_index(best.experiment.experiment_id))


async def open_sweep(pilot) -> None:
    """From the experiments screen, open the experiment with the most runs."""
    cursor_on_sweep(pilot)
    await pilot.press("enter")
    await settle(pilot)


async def sweep_sorted(pilot) -> None:
    await open_sweep(pilot)
    await pilot.press("s")
    await pilot.pause()
    await pilot.press(*"rmse")
    await pilot.press("enter")


async def sweep_filtered(pilot) -> None:
    await open_sweep(pilot)
    await pilot.press("slash")
    await pilot.press(*"metrics.rmse < 0.7 and params.l1_ratio = '0.5'")
    await pilot.press("enter")


async def best_run(pilot) -> None:
    await sweep_sorted(pilot)
    await settle(pilot)
    await pilot.press("enter")


async def best_run_metrics(pilot) -> None:
    await best_run(pilot)
    await settle(pilot)
    await pilot.press("2")


async def best_run_artifacts(pilot) -> None:
    await best_run(pilot)
    await settle(pilot)
    await pilot.press("4")


async def sweep_chart(pilot) -> None:
    """Mark the three best runs by rmse and chart their curves together."""
    await sweep_sorted(pilot)
    await settle(pilot)
    await pilot.press("space", "space", "space", "g")


async def sweep_compare(pilot) -> None:
    await sweep_sorted(pilot)
    await settle(pilot)
    await pilot.press("space", "space", "space", "C")


async def sweep_parallel(pilot) -> None:
    await open_sweep(pilot)
    await pilot.press("P")


async def registry(pilot) -> None:
    await pilot.press("M")


async def model_versions(pilot) -> None:
    """The sweep's registered model: stages, aliases, descriptions."""
    from mltui.store.demo import WINE_MODEL

    await registry(pilot)
    await settle(pilot)
    table = pilot.app.screen.query_one("#registry-table")
    table.move_cursor(row=table.get_row_index(WINE_MODEL))
    await pilot.press("enter")


async def mlmodel(pilot) -> None:
    await model_versions(pilot)
    await settle(pilot)
    await pilot.press("m")
    await settle(pilot)
    await pilot.press("2")


async def logged_models(pilot) -> None:
    """The sweep's logged models (MLflow 3's Models tab)."""
    cursor_on_sweep(pilot)
    await pilot.press("L")


#: A store MLflow 3.18.0 wrote with traces (the demo store has none): the test fixture.
TRACES_STORE = HERE.parent / "tests" / "fixtures" / "traces" / "mlflow-3.18.0-sqlite" / "mlflow.db"


async def trace_that_raised(pilot) -> None:
    """The GenAI experiment's traces, then the one whose tool span raised, opened."""
    screen = pilot.app.screen
    table = screen.query_one("DataTable")
    row = next(r for r in screen.rows if r.experiment.name == "genai-traces")
    table.move_cursor(row=table.get_row_index(row.experiment.experiment_id))
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("T")
    await settle(pilot)
    infos = pilot.app.store.traces([row.experiment.experiment_id])
    failed = next(t for t in infos if t.state == "ERROR")
    table = pilot.app.screen.query_one("DataTable")
    table.move_cursor(row=table.get_row_index(failed.trace_id))
    await pilot.press("enter")


async def help_screen(pilot) -> None:
    await open_sweep(pilot)
    await pilot.press("question_mark")


async def main() -> None:
    from mltui.store.demo import build_demo_store

    with tempfile.TemporaryDirectory(prefix="mltui-shots-") as tmp:
        store_path = build_demo_store(Path(tmp))
        await shot(store_path, "experiments")
        await shot(store_path, "runs", open_sweep)
        await shot(store_path, "runs-sorted", sweep_sorted)
        await shot(store_path, "runs-filtered", sweep_filtered)
        await shot(store_path, "run", best_run)
        await shot(store_path, "run-metrics", best_run_metrics)
        await shot(store_path, "run-artifacts", best_run_artifacts)
        await shot(store_path, "chart", sweep_chart)
        await shot(store_path, "compare", sweep_compare)
        await shot(store_path, "parallel", sweep_parallel)
        await shot(store_path, "registry", registry)
        await shot(store_path, "model-versions", model_versions)
        await shot(store_path, "mlmodel", mlmodel)
        await shot(store_path, "logged-models", logged_models)
        await shot(store_path, "help", help_screen)
    await shot(TRACES_STORE, "trace", trace_that_raised, demo=False)


if __name__ == "__main__":
    asyncio.run(main())
