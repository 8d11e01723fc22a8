"""Requests per minute that mltui sends an idle tracking server while one page is open.

Starts an `mlflow server` over a copy of the 3.18 fixture (tests/mlflow_server.py), puts a
counting proxy on loopback in front of it, opens the app headless on the proxy and goes to the
page asked for (experiments, an experiment's runs, a finished run's page, the registered
models), then counts what the app asks for during `--seconds`, by endpoint.

    PYTHONPATH=... python tests/bench/server_live_requests.py --page run --seconds 120
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
from pathlib import Path

from mltui.store import open_store
from mltui.tui.app import MltuiApp
from tests.mlflow_server import CountingProxy, mlflow_server
from tests.test_server_store import proxied_copy


async def count(url: str, page: str, seconds: float) -> collections.Counter[str]:
    proxy = CountingProxy(url)
    store = open_store(proxy.url)
    run = next(r for r in store.runs() if not r.is_running)
    app = MltuiApp(store)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            while app.follower is None or not app.follower.wait_ready(0):
                await pilot.pause(0.1)
            if page in ("runs", "run"):
                app.open_runs([run.experiment_id])
            if page == "run":
                app.open_run(run.run_id)
            if page == "registry":
                app.open_registry()
            await pilot.pause(5)  # the pages' own first readings are not counted
            proxy.taken()
            await asyncio.sleep(seconds)
            return collections.Counter(path for path, _ in proxy.taken())
    finally:
        store.close()
        proxy.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", choices=["experiments", "runs", "run", "registry"], default="run")
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = proxied_copy(folder / "store")
        with mlflow_server(f"sqlite:///{db}", folder / "store" / "mlruns", folder / "log") as url:
            counts = asyncio.run(count(url, args.page, args.seconds))
    total = sum(counts.values())
    print(f"{args.page} page open {args.seconds:.0f} s: {total} requests, "
          f"{total / (args.seconds / 60):.1f} per minute")  # fmt: skip
    for path, n in counts.most_common():
        print(f"  {n:5d}  {path}")


if __name__ == "__main__":
    main()
