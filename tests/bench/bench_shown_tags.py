"""What following the tags on show costs a look (store/sqlite/follower.py's `ShownTags`).

    /work/venvs/pkg/bin/python tests/bench/bench_shown_tags.py [--runs 10000] [--workdir DIR]
        [--repeat 20] [--no-postgres]

On bench_read's sweep (made once under --workdir, migrated to SQLite by MLflow), and on a
PostgreSQL server of its own holding the same rows (bench_postgres.py's copy): the signature of
the tags of the largest experiment's runs (the runs page) and of one run (the run page), as a
follower's look takes it (`tag_signatures`, one read transaction), against the other ways
tried; the comparison with the readings when the scope changes (`retagged_runs`); and a whole
follower look with and without the tags on show. Median (best) ms of --repeat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_read import ensure_sqlite_copy, ensure_store  # noqa: E402

#: The other signatures measured: the tags fetched and hashed in Python (as `live_tags` does),
#: and (PostgreSQL) the values joined in the database, as SQLite's signature does.
PYTHON_ROWS = "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({runs})"
JOINED = {
    "sqlite": "group_concat(key || char(31) || ifnull(value, ''), char(30))",
    "postgres": "string_agg(key || chr(31) || coalesce(value, ''), chr(30))",
}


def timed_ms(fn, repeat: int) -> str:
    """ "median (best)" of `repeat` calls, in ms: two shared cores make single numbers noisy."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - started))
    return f"{statistics.median(times):8.2f} ({min(times):7.2f})"


def python_hashes(conn, runs_sql: str, params) -> dict:
    rows: dict[str, list] = {}
    for rid, key, value in conn.execute(PYTHON_ROWS.format(runs=runs_sql), params):
        rows.setdefault(rid, []).append((key, value))
    return {rid: hash(tuple(sorted(tags))) for rid, tags in rows.items()}


def measure(store, kind: str, repeat: int) -> None:
    """The lines for one store (SqliteStore or PostgresStore)."""
    runs = store.runs()  # fills `tags_read`, as the pages' readings do
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.experiment_id] = counts.get(run.experiment_id, 0) + 1
    exp = max(counts, key=counts.__getitem__)
    one = next(r.run_id for r in runs if r.experiment_id == exp)
    ids = [r.run_id for r in runs if r.experiment_id == exp]
    by_exp = "SELECT run_uuid FROM runs WHERE experiment_id = ?"
    print(f"{kind}: experiment {exp}, {counts[exp]} active runs")

    def sigs(exps, run_ids):
        return lambda: store.read(lambda conn: store.tag_signatures(conn, exps, run_ids))

    lines = [
        (f"runs page: tag_signatures ({store.TAG_SIGNATURE.split('(')[0]}...)", sigs([exp], [])),
        ("run page: tag_signatures, one run", sigs([], [one])),
        ("runs page: rows hashed in Python",
         lambda: store.read(lambda conn: python_hashes(conn, by_exp, [int(exp)]))),
        ("scope change: retagged_runs of the page's runs", lambda: store.retagged_runs(ids)),
    ]  # fmt: skip
    if JOINED[kind] != store.TAG_SIGNATURE:
        label = "runs page: values joined in the database"
        lines.insert(2, (label, lambda: joined(store, JOINED[kind], exp)))
    for label, fn in lines:
        print(f"  {label:<55} {timed_ms(fn, repeat)} ms")
    follower_looks(store, exp, one, repeat)


def joined(store, signature: str, exp: str) -> dict:
    """`tag_signatures` of `exp`'s runs with another TAG_SIGNATURE."""
    saved, store.TAG_SIGNATURE = store.TAG_SIGNATURE, signature
    try:
        return store.read(lambda conn: store.tag_signatures(conn, [exp], []))
    finally:
        store.TAG_SIGNATURE = saved


def follower_looks(store, exp: str, one: str, repeat: int) -> None:
    """A whole follower look with nothing new (SQLite: `_refresh`; PostgreSQL: `scan`, which
    reads every run's state) with each scope on show: as after a commit (the tags looked at),
    and (PostgreSQL) with the database idle (its snapshot unchanged: the tags not read)."""
    from mltui.store.follow import Shown, StoreChanges

    for label, shown in (
        ("nothing shown", Shown()),
        ("runs page", Shown(runs_of=frozenset({exp}))),
        ("run page", Shown(tags_of=frozenset({one}))),
    ):
        backend: Any = store.change_source()
        backend.show(shown)
        backend.baseline()
        if store.kind == "sqlite":
            look = partial(backend._refresh, StoreChanges())
        else:
            look = partial(backend.scan, StoreChanges(), verify=False, sweep=True)
            idle = timed_ms(look, repeat)
            print(f"  {'follower look, database idle, ' + label:<55} {idle} ms")

        def changed(look=look, tags=backend.shown_tags) -> None:
            tags.version, tags.next_look = None, 0.0  # as after another connection's commit
            look()

        print(f"  {'follower look, ' + label:<55} {timed_ms(changed, repeat)} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/mltui-bench"))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    from mltui.store import open_store

    folder = args.workdir / f"sweep-{args.runs}"
    ensure_store(folder, args.runs, long=False)
    db = ensure_sqlite_copy(folder)
    store = open_store(db)
    measure(store, "sqlite", args.repeat)
    store.close()
    if args.no_postgres:
        return
    from bench_postgres import filled

    from mltui.store.postgres.store import PostgresStore

    with filled(db) as uri:
        store = PostgresStore(uri)
        measure(store, "postgres", args.repeat)
        store.close()


if __name__ == "__main__":
    main()
