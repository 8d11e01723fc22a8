"""Soak: MLflow's client and mltui's registry writer race on one file store for minutes.

    python tests/bench/soak_registry.py               # 5 minutes
    python tests/bench/soak_registry.py --minutes 10

On a fresh copy of the mlflow-3.17.2-file fixture, tests/registry_race.py's race (MLflow changes
the model's description, moves a version through the stages and sets tags; mltui sets model tags
and changes that version's description), in rounds of --round seconds so that progress shows.
Prints each round's counts and the totals; exits 1 if any write of either side was undone or
lost, or a write of ours was refused. The suite runs the same race for 12 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import copy_fixture
from tests.registry_race import race, reverted

COUNTS = (
    ("mlflow", "descriptions"),
    ("mlflow", "descriptions_reverted"),
    ("mlflow", "stages"),
    ("mlflow", "stages_reverted"),
    ("mlflow", "tags"),
    ("mltui", "tags"),
    ("mltui", "descriptions"),
    ("mltui", "descriptions_reverted"),
    ("mltui", "refused"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--round", type=float, default=60.0, help="seconds per round")
    args = parser.parse_args()
    totals = dict.fromkeys(COUNTS, 0)
    lost: list[str] = []
    end = time.monotonic() + args.minutes * 60
    rounds = 0
    while time.monotonic() < end:
        work = Path(tempfile.mkdtemp(prefix="mltui-soak-registry-"))
        try:
            seconds = max(1.0, min(args.round, end - time.monotonic()))
            result = race(copy_fixture("mlflow-3.17.2-file", work), seconds)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        rounds += 1
        for side, key in COUNTS:
            totals[side, key] += result[side][key]
        lost += result["lost_at_end"]
        print(f"round {rounds} ({seconds:.0f} s): reverted {reverted(result)}", json.dumps(result))
    print(f"\n{rounds} rounds, {args.minutes:g} min")
    for (side, key), count in totals.items():
        print(f"  {side:6} {key:22} {count}")
    print(f"  lost at the end of a round: {len(lost)} {lost[:5]}")
    bad = (
        totals["mlflow", "descriptions_reverted"]
        + totals["mlflow", "stages_reverted"]
        + totals["mltui", "descriptions_reverted"]
        + totals["mltui", "refused"]
        + len(lost)
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
