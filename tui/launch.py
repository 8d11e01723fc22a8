"""From parsed command-line arguments to a running app (UsageError when there is nothing to open)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


class UsageError(Exception):
    """Nothing to open: `cli` says why in one line (exit status 2)."""


def launch(args: argparse.Namespace) -> int:
    """Open the app the arguments ask for; its exit status. Raises UsageError."""
    from mltui.store import StoreError, open_store
    from mltui.store.locate import default_store_target

    demo_dir = None
    target: str | None
    if args.demo:
        from mltui.store.demo import build_demo_store

        demo_dir = tempfile.TemporaryDirectory(prefix="mltui-demo-")
        target = str(build_demo_store(Path(demo_dir.name)))
    else:
        target = args.store or args.backend_store_uri or default_store_target()
        if target is None:
            raise UsageError(
                "no store given and none found here; expected ./mlruns or ./mlflow.db, "
                "MLFLOW_TRACKING_URI, or a path: mltui ./mlruns"
            )
    if demo_dir is None:
        from mltui.store.model_folders import mlmodel_target

        model_dir = mlmodel_target(target)
        if model_dir is not None:  # `mltui path/to/model` or `mltui path/to/MLmodel`
            return run_model_folder(model_dir, read_only=args.read_only)
    try:
        store = open_store(target)
    except StoreError as exc:
        raise UsageError(str(exc)) from exc

    from mltui.tui.app import MltuiApp

    app = MltuiApp(
        store,
        read_only=args.read_only,
        watch=not args.no_watch,
        poll_seconds=args.poll,
        demo=bool(args.demo),
    )
    try:
        app.run()
    finally:
        store.close()
        if demo_dir is not None:
            demo_dir.cleanup()
    return app.return_code or 0


def run_model_folder(model_dir: Path, *, read_only: bool) -> int:
    """The MLmodel page of `model_dir` alone, in the store around it if any; the exit status."""
    from mltui.store.locate import enclosing_store
    from mltui.tui.app import MltuiApp

    store = enclosing_store(model_dir)
    app = MltuiApp(store, model_dir=model_dir, read_only=read_only)
    try:
        app.run()
    finally:
        if store is not None:
            store.close()
    return app.return_code or 0
