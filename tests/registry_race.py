"""A race on one file store's registry: MLflow's client and mltui's RegistryWriter write at once.

MLflow (a subprocess, MlflowClient) changes the model's description, moves one version through
the stages and sets model tags, in a loop; before each change it checks that its previous one is
still there (a changed value means a write of ours put an old copy back). mltui meanwhile sets
model tags in a loop (each rewrites the model's meta.yaml to bump its timestamp) and now and then
changes the same version's description (a rewrite of the version's meta.yaml that MLflow's stage
moves also rewrite), checking its own previous description the same way. At the end MLflow
reads everything back: every tag of both sides, MLflow's last description and stage and
mltui's last description must be there.

Used by tests/test_registry_write.py (seconds) and tests/bench/soak_registry.py (minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

MODEL = "wine-classifier"
#: The version both sides rewrite (None stage, no description in mlflow-3.17.2-file).
VERSION = 5
#: mltui changes the version's description once every this many model tags.
DESCRIPTION_EVERY = 5
#: How long a race may go on after its time waiting for each side's rounds (seconds).
GIVE_UP_SECONDS = 300

MLFLOW_SIDE = textwrap.dedent(
    """
    import json, os, sys, time, warnings
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    warnings.simplefilter("ignore")
    import mlflow
    from mlflow import MlflowClient
    uri, name, version = sys.argv[1], sys.argv[2], sys.argv[3]
    seconds, rounds, give_up = float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    client.get_registered_model(name)
    print("ready", flush=True)
    stages = ["Staging", "Production", "Archived", "None"]
    n = {"descriptions": 0, "descriptions_reverted": 0, "stages": 0, "stages_reverted": 0}
    description = stage = None
    end = time.monotonic() + seconds
    give_up += end
    i = ours = 0
    while time.monotonic() < end or (min(i, ours) < rounds and time.monotonic() < give_up):
        model = client.get_registered_model(name)
        ours = sum(key.startswith("mltui-") for key in model.tags)
        if description is not None:
            n["descriptions_reverted"] += model.description != description
        description = f"mlflow {i}"
        client.update_registered_model(name, description=description)
        n["descriptions"] += 1
        if stage is not None:
            now = client.get_model_version(name, version).current_stage
            n["stages_reverted"] += now != stage
        stage = stages[i % len(stages)]
        client.transition_model_version_stage(name, version, stage)
        n["stages"] += 1
        client.set_registered_model_tag(name, f"mlflow-{i}", str(i))
        i += 1
    print(json.dumps({**n, "tags": i, "description": description, "stage": stage}), flush=True)
    """
)


def race(folder: Path, seconds: float, rounds: int = 0) -> dict[str, Any]:
    """Race on a copy of the mlflow-3.17.2-file fixture at `folder`; counts and what was lost.

    The race lasts `seconds`, and then goes on until each side has made `rounds` model tags: a
    busy machine may give a side few turns in that time (up to GIVE_UP_SECONDS more).
    """
    import mlflow
    from mlflow import MlflowClient

    from mltui.store import open_store
    from mltui.store.errors import StoreError
    from mltui.store.registry import RegistryWriter

    uri = (folder / "mlruns").as_uri()
    args = [uri, MODEL, VERSION, seconds, rounds, GIVE_UP_SECONDS]
    proc = subprocess.Popen(
        [sys.executable, "-c", MLFLOW_SIDE, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ours = {"tags": 0, "descriptions": 0, "descriptions_reverted": 0, "refused": 0}
    description = None
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"MLflow's side did not start:\n{proc.stderr.read()[-3000:]}")
        store = open_store(folder / "mlruns")
        writer = RegistryWriter(store)
        while proc.poll() is None:
            try:
                writer.set_model_tag(MODEL, f"mltui-{ours['tags']}", str(ours["tags"]))
                ours["tags"] += 1
                if ours["tags"] % DESCRIPTION_EVERY == 0:
                    if description is not None:
                        now = _version_description(store)
                        ours["descriptions_reverted"] += now != description
                    description = f"mltui {ours['tags']}"
                    writer.update_version_description(MODEL, VERSION, description)
                    ours["descriptions"] += 1
            except StoreError:
                # Refused loudly (the file kept changing): not lost, but counted.
                ours["refused"] += 1
        out, err = proc.communicate(timeout=120)
        store.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"MLflow's side failed:\n{err[-3000:]}")
    theirs = json.loads(out.strip().splitlines()[-1])

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.13+ refuses file stores otherwise
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    model = client.get_registered_model(MODEL)
    version = client.get_model_version(MODEL, str(VERSION))
    lost = [
        f"MLflow's tag mlflow-{i}" for i in range(theirs["tags"]) if f"mlflow-{i}" not in model.tags
    ]
    lost += [
        f"mltui's tag mltui-{i}" for i in range(ours["tags"]) if f"mltui-{i}" not in model.tags
    ]
    if model.description != theirs["description"]:
        lost.append(f"MLflow's last description ({model.description!r} instead)")
    if version.current_stage != theirs["stage"]:
        lost.append(f"MLflow's last stage ({version.current_stage!r} instead)")
    if description is not None and version.description != description:
        lost.append(f"mltui's last description ({version.description!r} instead)")
    return {"mlflow": theirs, "mltui": ours, "lost_at_end": lost}


def _version_description(store) -> str | None:
    found = [v for v in store.model_versions(MODEL) if v.version == str(VERSION)]
    return found[0].description if found else None


def reverted(result: dict[str, Any]) -> int:
    """Writes of either side found undone."""
    theirs, ours = result["mlflow"], result["mltui"]
    return (
        theirs["descriptions_reverted"]
        + theirs["stages_reverted"]
        + ours["descriptions_reverted"]
        + len(result["lost_at_end"])
    )
