"""The `mltui` command: open the app on a store, or export runs headlessly.

Kept free of Textual imports until the app is really started, so `mltui export` and
`mltui --help` answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

EXIT_USAGE = 2


def _version() -> str:
    try:
        return version("mltui")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mltui",
        description="Browse a local MLflow store (an mlruns folder or an mlflow.db) in the terminal.",
        epilog="Also: mltui export STORE ... (see `mltui export --help`).",
    )
    parser.add_argument(
        "store",
        nargs="?",
        help="an mlruns folder, an mlflow.db file, a file: or sqlite: URI, a tracking server's "
        "http(s):// URL, or a model folder / MLmodel file (default: $MLFLOW_TRACKING_URI, else "
        "./mlruns or ./mlflow.db)",
    )
    parser.add_argument("--backend-store-uri", help="the store, as `mlflow ui` takes it")
    parser.add_argument("--demo", action="store_true", help="open a built-in demo store")
    parser.add_argument("--read-only", action="store_true", help="refuse every write")
    parser.add_argument("--no-watch", action="store_true", help="do not follow changes live")
    parser.add_argument(
        "--poll", type=float, metavar="SECONDS", help="follow changes by polling every SECONDS"
    )
    parser.add_argument("--version", action="version", version=f"mltui {_version()}")
    return parser


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mltui export",
        description="Write runs of a store as JSON Lines or CSV, or its logged models as JSON "
        "Lines, with no UI.",
    )
    parser.add_argument(
        "store",
        help="an mlruns folder, an mlflow.db file, a file: or sqlite: URI, or a tracking "
        "server's http(s):// URL",
    )
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        metavar="NAME_OR_ID",
        help="only this experiment (repeatable; default: every active experiment)",
    )
    parser.add_argument("--filter", default="", metavar="EXPR", help="MLflow filter expression")
    parser.add_argument(
        "--order-by",
        action="append",
        default=[],
        metavar="EXPR",
        help="MLflow order-by clause, e.g. 'metrics.rmse ASC' (repeatable)",
    )
    parser.add_argument(
        "--all", action="store_true", help="include deleted runs and deleted experiments' runs"
    )
    parser.add_argument("--history", action="store_true", help="add each metric's full history")
    parser.add_argument(
        "--logged-models",
        action="store_true",
        help="write MLflow 3 logged models (JSON Lines) instead of runs",
    )
    parser.add_argument(
        "--traces",
        action="store_true",
        help="write the experiments' MLflow 3 traces (JSON Lines: spans and assessments) "
        "instead of runs",
    )
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    return parser


def say(message: str) -> None:
    """One line on stderr; store paths and the user's own words in it made safe to print."""
    from mltui.store.values import one_line

    print(f"mltui: {one_line(message, limit=2000)}", file=sys.stderr)


def fail(message: str) -> int:
    """`say` the message; the exit status of a usage error."""
    say(message)
    return EXIT_USAGE


def _runs_only_option(args: argparse.Namespace) -> str | None:
    """The first option given that only runs take, as the user spelled it; None if none."""
    for given, option in (
        (args.filter, "--filter"),
        (args.order_by, "--order-by"),
        (args.history, "--history"),
        (args.format == "csv", "--format csv"),
    ):
        if given:
            return option
    return None


def run_export(argv: Sequence[str]) -> int:
    from mltui.store import StoreError, open_store, process
    from mltui.store.export import (
        export_records,
        export_trace_records,
        logged_model_records,
        write_atomically,
        write_csv,
        write_jsonl,
    )

    args = _export_parser().parse_args(argv)
    process.allow_gc_pauses()  # this command owns its process; see mltui.store.process
    if args.logged_models and args.traces:
        return fail("--logged-models and --traces: one kind of record at a time")
    unfit = _runs_only_option(args)
    if args.logged_models and unfit:
        return fail(f"--logged-models writes JSON Lines of every model; {unfit} is for runs")
    if args.traces and unfit:
        return fail(f"--traces writes JSON Lines of whole traces; {unfit} is for runs")
    try:
        store = open_store(args.store)
        if args.logged_models:
            records = logged_model_records(store, args.experiment, include_deleted=args.all)
        elif args.traces:
            records = export_trace_records(store, args.experiment, include_deleted=args.all)
        else:
            records = export_records(
                store,
                experiments=args.experiment,
                filter_string=args.filter,
                order_by=args.order_by,
                include_deleted=args.all,
                history=args.history,
            )
        write = write_csv if args.format == "csv" else write_jsonl
        if args.output:
            # Build everything first, so a bad filter leaves no half-written file behind.
            rows = list(records)
            write_atomically(args.output, lambda out: write(rows, out))
        else:
            write(records, sys.stdout)
            sys.stdout.flush()
    except StoreError as exc:
        return fail(str(exc))
    except BrokenPipeError:  # `mltui export ... | head`
        return 0
    except OSError as exc:  # stdout on a full disk, or closed
        return fail(f"cannot write the export: {exc.strerror or exc}")
    for warning in store.warnings.messages:
        say(f"warning: {warning}")
    store.close()  # a tracking server's kept-alive connections
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        return run_export(argv[1:])
    args = _app_parser().parse_args(argv)
    from mltui.tui.launch import UsageError, launch

    try:
        return launch(args)
    except UsageError as exc:
        return fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
