"""Reading a tracking server: mltui's ServerStore against MlflowClient on the same server.

    python tests/bench/bench_server.py http://127.0.0.1:5000 [--long-experiment long-histories]

Serve a store from make_large_store.py (`mlflow server --backend-store-uri OUTDIR/mlruns`) or
any server. Prints time to the first rows, to the full listing, and to the long histories of
one experiment (a chart), each with the requests and bytes it took, then MlflowClient's times
for the same reads (search_runs with its largest page; get_metric_history one by one).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mltui.store.server import ServerStore


def traffic_since(store: ServerStore, before: tuple[int, int]) -> str:
    t = store.client.traffic
    return f"{t.requests - before[0]} requests, {(t.bytes_received - before[1]) / 1e6:.1f} MB"


def mark(store: ServerStore) -> tuple[int, int]:
    return store.client.traffic.requests, store.client.traffic.bytes_received


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--long-experiment", default="long-histories")
    parser.add_argument("--metric", default="loss")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    store = ServerStore(args.url)
    exps = store.experiments()
    ids = [e.experiment_id for e in exps]
    before = mark(store)
    t1 = time.perf_counter()
    batches = store.iter_runs(ids)
    first = next(batches)
    t2 = time.perf_counter()
    total = len(first) + sum(len(b) for b in batches)
    t3 = time.perf_counter()
    print(f"mltui: open + experiments {t1 - t0:.2f} s")
    print(f"mltui: first {len(first)} rows {t2 - t1:.2f} s; all {total} runs {t3 - t1:.2f} s")
    print(f"       ({traffic_since(store, before)})")

    long_exp = store.experiment_by_name_or_id(args.long_experiment)
    pairs = []
    if long_exp is not None:
        runs = store.runs([long_exp.experiment_id])
        pairs = [(r.run_id, args.metric) for r in runs if args.metric in r.metrics]
        before = mark(store)
        t4 = time.perf_counter()
        points = sum(len(s) for _, s in store.metric_series_many(pairs))
        t5 = time.perf_counter()
        print(f"mltui: chart of {len(pairs)} runs x {args.metric}: {points} points {t5 - t4:.2f} s")
        print(f"       ({traffic_since(store, before)})")
    store.close()

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=args.url)
    t6 = time.perf_counter()
    theirs = client.search_runs(ids, max_results=50_000)
    token = theirs.token
    count = len(theirs)
    while token:
        page = client.search_runs(ids, max_results=50_000, page_token=token)
        count += len(page)
        token = page.token
    t7 = time.perf_counter()
    print(f"MlflowClient.search_runs: all {count} runs {t7 - t6:.2f} s")
    if pairs:
        t8 = time.perf_counter()
        points = sum(len(client.get_metric_history(run_id, key)) for run_id, key in pairs)
        t9 = time.perf_counter()
        print(f"MlflowClient.get_metric_history x{len(pairs)}: {points} points {t9 - t8:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
