"""Registry writes, checked by the installed MLflow (3.18.0 in CI, see .ci/run).

Every write is done twice on copies of each fixture store with a registry: once by mltui's
`RegistryWriter`, once by MLflow itself. MLflow then reads mltui's copy back and must see exactly
the planned change and nothing else (compared with its reading of an untouched copy), and the
bytes mltui wrote must be what MLflow wrote (files, or table rows), timestamps aside.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mltui.store import ReadOnlyError, open_store
from mltui.store.errors import as_sentence
from mltui.store.registry import (
    TAG_MODEL_VERSIONS,
    InvalidWriteError,
    RegistryWriter,
    WriteResult,
)
from tests.conftest import (
    child_pythonpath,
    copy_fixture,
    mlflow_workspaces,
    skip_unless_mlflow_opens,
    store_path,
    untested_schema,
)
from tests.registry_race import race, reverted

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # MLflow's stage deprecation
from mlflow import MlflowClient  # noqa: E402

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.13+ refuses file stores otherwise

REGISTRY_STORES = [
    "mlflow-3.18.0-file",
    "mlflow-3.18.0-sqlite",
    "mlflow-3.17.2-file",
    "mlflow-3.17.2-sqlite",
    "mlflow-2.22.5-file",
    "mlflow-2.22.5-sqlite",
]
REMOVED = object()
TS = object()  # the write's own timestamp
MLFLOW = object()  # whatever MLflow's own identical write gives


# -- MLflow's reading of a registry, flattened -------------------------------------------------
def uri_of(folder: Path) -> str:
    path = store_path(folder)
    return f"sqlite:///{path}" if path.suffix == ".db" else path.as_uri()


def client_for(folder: Path) -> MlflowClient:
    skip_unless_mlflow_opens(folder.name)
    uri = uri_of(folder)
    # The file registry looks logged models up through the global tracking URI.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def mlflow_reading(folder: Path) -> dict[tuple, Any]:
    """Everything MlflowClient reports about the registry, as {path: value}."""
    return client_reading(client_for(folder))


def client_reading(client: MlflowClient) -> dict[tuple, Any]:
    """Everything `client` reports about its registry, as {path: value}."""
    out: dict[tuple, Any] = {}
    for listed in client.search_registered_models(max_results=1000):
        rm = client.get_registered_model(listed.name)
        base = ("model", rm.name)
        out[(*base, "creation_timestamp")] = rm.creation_timestamp
        out[(*base, "last_updated_timestamp")] = rm.last_updated_timestamp
        out[(*base, "description")] = rm.description
        for k, v in rm.tags.items():
            out[(*base, "tag", k)] = v
        for a, v in rm.aliases.items():
            out[(*base, "alias", a)] = str(v)
        for mv in rm.latest_versions:
            out[(*base, "latest", mv.current_stage)] = str(mv.version)
        for found in client.search_model_versions(f"name = '{rm.name}'", max_results=1000):
            mv = client.get_model_version(rm.name, str(found.version))
            vb = ("version", rm.name, str(mv.version))
            for attr in (
                "creation_timestamp",
                "last_updated_timestamp",
                "current_stage",
                "description",
                "source",
                "run_id",
                "status",
                "status_message",
                "user_id",
                "run_link",
                "model_id",
            ):
                out[(*vb, attr)] = getattr(mv, attr, None)
            for k, v in mv.tags.items():
                out[(*vb, "tag", k)] = v
            out[(*vb, "aliases")] = tuple(sorted(mv.aliases))
            out[(*vb, "download_uri")] = client.get_model_version_download_uri(
                rm.name, str(mv.version)
            )
    if hasattr(client, "search_logged_models"):
        exps = [e.experiment_id for e in client.search_experiments(view_type=3)]
        for lm in client.search_logged_models(experiment_ids=exps, max_results=1000):
            for k, v in lm.tags.items():
                out[("logged_model", lm.model_id, "tag", k)] = v
    return out


def diff(before: dict, after: dict) -> dict[tuple, Any]:
    keys = set(before) | set(after)
    return {
        k: after.get(k, REMOVED) for k in keys if before.get(k, REMOVED) != after.get(k, REMOVED)
    }


# -- what each write is ------------------------------------------------------------------------
@dataclass
class Ctx:
    """Facts about the store a case needs: its kind and the models it can register."""

    kind: str
    era: int
    #: 2.x: a run with a model in its artifacts; 3.x: a run with a logged model named "model".
    run_id: str
    run_artifact_uri: str
    #: 3.x: a logged model, its source run and artifact location.
    model_id: str | None = None
    model_run: str | None = None
    model_location: str | None = None


def context(folder: Path) -> Ctx:
    st = open_store(store_path(folder))
    try:
        return context_of(st)
    finally:
        st.close()


def context_of(st) -> Ctx:
    """The facts the cases need about the store `st`."""
    kind = st.kind
    logged = [lm for lm in st.logged_models() if lm.source_run_id]
    runs = {r.run_id: r for r in st.runs()}
    if logged:
        lm = sorted(logged, key=lambda m: m.model_id)[0]
        run = runs[lm.source_run_id]
        ctx = Ctx(kind, 3, run.run_id, run.artifact_uri, lm.model_id, run.run_id)
        ctx.model_location = lm.artifact_location
    else:
        run = next(
            r
            for r in sorted(runs.values(), key=lambda r: r.run_id)
            if (st.artifact_root(r).path or Path("/nonexistent")).joinpath("model/MLmodel").exists()
        )
        ctx = Ctx(kind, 2, run.run_id, run.artifact_uri)
    return ctx


@dataclass
class Case:
    id: str
    ours: Callable[[RegistryWriter, Ctx], WriteResult]
    theirs: Callable[[MlflowClient, Ctx], Any]
    #: {reading path: value, REMOVED, TS or MLFLOW}
    expect: Callable[[Ctx], dict[tuple, Any]]
    #: Reading paths that change on the file store only (the registered model's timestamp).
    file_bumps: tuple[str, ...] = ()
    only_era: int | None = None


W, C = "wine-classifier", "churn-model"


def m(name: str, *rest: str) -> tuple:
    return ("model", name, *rest)


def v(name: str, version: int, *rest: str) -> tuple:
    return ("version", name, str(version), *rest)


VERSION_FIELDS = (
    "creation_timestamp",
    "last_updated_timestamp",
    "current_stage",
    "description",
    "source",
    "run_id",
    "status",
    "status_message",
    "user_id",
    "run_link",
    "model_id",
    "aliases",
    "download_uri",
)


def new_version(name: str, version: int, **known: Any) -> dict[tuple, Any]:
    out: dict[tuple, Any] = {v(name, version, f): MLFLOW for f in VERSION_FIELDS}
    out[v(name, version, "creation_timestamp")] = TS
    out[v(name, version, "last_updated_timestamp")] = TS
    out[v(name, version, "current_stage")] = "None"
    out[v(name, version, "status")] = "READY"
    out[v(name, version, "aliases")] = ()
    out.update({v(name, version, f): val for f, val in known.items()})
    return out


def register_expect(name: str, version: int, ctx: Ctx, new_model: bool) -> dict:
    out: dict[tuple, Any] = {
        m(name, "last_updated_timestamp"): TS,
        m(name, "latest", "None"): str(version),
    }
    if new_model:
        out.update({m(name, "creation_timestamp"): TS, m(name, "description"): None})
    if ctx.era == 2:
        source = f"{ctx.run_artifact_uri}/model"
        out.update(
            new_version(name, version, source=source, run_id=ctx.run_id, download_uri=source)
        )
    else:
        out.update(
            new_version(
                name,
                version,
                source=f"models:/{ctx.model_id}",
                run_id=ctx.model_run,
                # MLflow's SQL store has no model_id column and reports none.
                model_id=ctx.model_id if ctx.kind == "file" else None,
                download_uri=ctx.model_location,
            )
        )
        out[("logged_model", ctx.model_id, "tag", TAG_MODEL_VERSIONS)] = MLFLOW
    return out


def theirs_register(client: MlflowClient, ctx: Ctx, name: str) -> None:
    if ctx.era == 2:
        # mlflow.register_model("runs:/<run>/model") resolves to the run's artifact URI; it
        # cannot list the artifacts of a relocated store, so give it the resolved source.
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            client.create_registered_model(name)
        client.create_model_version(name, f"{ctx.run_artifact_uri}/model", ctx.run_id)
    else:
        mlflow.register_model(f"models:/{ctx.model_id}", name)


CASES = [
    Case(
        "set_alias_new",
        lambda w, c: w.set_alias(W, "best", 4),
        lambda cl, c: cl.set_registered_model_alias(W, "best", "4"),
        lambda c: {m(W, "alias", "best"): "4", v(W, 4, "aliases"): ("best", "challenger")},
        file_bumps=(W,),
    ),
    Case(
        "set_alias_move",
        lambda w, c: w.set_alias(W, "champion", "5"),
        lambda cl, c: cl.set_registered_model_alias(W, "champion", "5"),
        lambda c: {
            m(W, "alias", "champion"): "5",
            v(W, 2, "aliases"): (),
            v(W, 5, "aliases"): ("champion",),
        },
        file_bumps=(W,),
    ),
    Case(
        "delete_alias",
        lambda w, c: w.delete_alias(W, "challenger"),
        lambda cl, c: cl.delete_registered_model_alias(W, "challenger"),
        lambda c: {m(W, "alias", "challenger"): REMOVED, v(W, 4, "aliases"): ()},
        file_bumps=(W,),
    ),
    Case(
        "transition_archiving",
        lambda w, c: w.transition_stage(W, 5, "production", archive_existing_versions=True),
        lambda cl, c: cl.transition_model_version_stage(W, "5", "production", True),
        lambda c: {
            v(W, 5, "current_stage"): "Production",
            v(W, 5, "last_updated_timestamp"): TS,
            v(W, 2, "current_stage"): "Archived",
            v(W, 2, "last_updated_timestamp"): TS,
            m(W, "last_updated_timestamp"): TS,
            m(W, "latest", "Production"): "5",
            m(W, "latest", "Archived"): "2",
            m(W, "latest", "None"): REMOVED,
        },
    ),
    Case(
        "transition_plain",
        lambda w, c: w.transition_stage(W, 4, "Archived"),
        lambda cl, c: cl.transition_model_version_stage(W, "4", "Archived"),
        lambda c: {
            v(W, 4, "current_stage"): "Archived",
            v(W, 4, "last_updated_timestamp"): TS,
            m(W, "last_updated_timestamp"): TS,
            m(W, "latest", "Staging"): REMOVED,
            m(W, "latest", "Archived"): "4",
        },
    ),
    Case(
        "model_description",
        lambda w, c: w.update_model_description(C, "New *churn* text\nsecond line: ünïcode"),
        lambda cl, c: cl.update_registered_model(C, "New *churn* text\nsecond line: ünïcode"),
        lambda c: {
            m(C, "description"): "New *churn* text\nsecond line: ünïcode",
            m(C, "last_updated_timestamp"): TS,
        },
    ),
    Case(
        "version_description",
        lambda w, c: w.update_version_description(W, 5, "Fresh notes " * 12),
        lambda cl, c: cl.update_model_version(W, "5", "Fresh notes " * 12),
        lambda c: {
            v(W, 5, "description"): "Fresh notes " * 12,
            v(W, 5, "last_updated_timestamp"): TS,
        },
    ),
    Case(
        "set_model_tag_new",
        lambda w, c: w.set_model_tag(W, "area/region", "eu west: 1"),
        lambda cl, c: cl.set_registered_model_tag(W, "area/region", "eu west: 1"),
        lambda c: {m(W, "tag", "area/region"): "eu west: 1"},
        file_bumps=(W,),
    ),
    Case(
        "set_model_tag_change",
        lambda w, c: w.set_model_tag(C, "team", "core"),
        lambda cl, c: cl.set_registered_model_tag(C, "team", "core"),
        lambda c: {m(C, "tag", "team"): "core"},
        file_bumps=(C,),
    ),
    Case(
        "delete_model_tag",
        lambda w, c: w.delete_model_tag(C, "team"),
        lambda cl, c: cl.delete_registered_model_tag(C, "team"),
        lambda c: {m(C, "tag", "team"): REMOVED},
        file_bumps=(C,),
    ),
    Case(
        "set_version_tag",
        lambda w, c: w.set_version_tag(C, 2, "note", "checked\nby hand"),
        lambda cl, c: cl.set_model_version_tag(C, "2", "note", "checked\nby hand"),
        lambda c: {v(C, 2, "tag", "note"): "checked\nby hand"},
        file_bumps=(C,),
    ),
    Case(
        "delete_version_tag",
        lambda w, c: w.delete_version_tag(W, 2, "validated"),
        lambda cl, c: cl.delete_model_version_tag(W, "2", "validated"),
        lambda c: {v(W, 2, "tag", "validated"): REMOVED},
        file_bumps=(W,),
    ),
    Case(
        "create_registered_model",
        lambda w, c: w.create_registered_model("new-model", "A *new* model", {"team": "ml"}),
        lambda cl, c: cl.create_registered_model("new-model", {"team": "ml"}, "A *new* model"),
        lambda c: {
            m("new-model", "creation_timestamp"): TS,
            m("new-model", "last_updated_timestamp"): TS,
            m("new-model", "description"): "A *new* model",
            m("new-model", "tag", "team"): "ml",
        },
    ),
    Case(
        "register_existing_model",
        lambda w, c: (
            w.register_model(W, run_id=c.run_id, artifact_path="model")
            if c.era == 2
            else w.register_model(W, model_id=c.model_id)
        ),
        lambda cl, c: theirs_register(cl, c, W),
        lambda c: register_expect(W, 6, c, new_model=False),
    ),
    Case(
        "register_new_model",
        lambda w, c: (
            w.register_model("fresh", run_id=c.run_id, artifact_path="model")
            if c.era == 2
            else w.register_model("fresh", model_id=c.model_id)
        ),
        lambda cl, c: theirs_register(cl, c, "fresh"),
        lambda c: register_expect("fresh", 1, c, new_model=True),
    ),
    Case(
        "register_run_logged_model",
        lambda w, c: w.register_model(C, run_id=c.model_run, artifact_path="model"),
        lambda cl, c: mlflow.register_model(f"runs:/{c.model_run}/model", C),
        lambda c: {
            m(C, "last_updated_timestamp"): TS,
            m(C, "latest", "None"): "3",
            **new_version(C, 3, run_id=c.model_run),
            ("logged_model", MLFLOW_MODEL, "tag", TAG_MODEL_VERSIONS): MLFLOW,
        },
        only_era=3,
    ),
    Case(
        "create_model_version",
        lambda w, c: w.create_model_version(
            C, "/elsewhere/model", c.run_id, description="by hand", tags={"k": "v"}
        ),
        lambda cl, c: cl.create_model_version(
            C, "/elsewhere/model", c.run_id, tags={"k": "v"}, description="by hand"
        ),
        lambda c: {
            m(C, "last_updated_timestamp"): TS,
            m(C, "latest", "None"): "3",
            **new_version(
                C,
                3,
                source="/elsewhere/model",
                run_id=c.run_id,
                description="by hand",
                download_uri="/elsewhere/model",
            ),
            v(C, 3, "tag", "k"): "v",
        },
    ),
]
MLFLOW_MODEL = "<the logged model MLflow picked>"


def expected_for(case: Case, ctx: Ctx) -> dict[tuple, Any]:
    exp = case.expect(ctx)
    if ctx.kind == "file":
        for name in case.file_bumps:
            exp[m(name, "last_updated_timestamp")] = TS
    return exp


# -- comparing what was written with what MLflow wrote ----------------------------------------
def base_timestamps(folder: Path) -> set[int]:
    found: set[int] = set()
    for path in (folder / "mlruns").rglob("meta.yaml"):
        found.update(
            int(n) for n in re.findall(r"_(?:timestamp|time|timestamp_ms): (\d+)", path.read_text())
        )
    db = folder / "mlflow.db"
    if db.exists():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        for table, cols in (
            ("registered_models", ("creation_time", "last_updated_time")),
            ("model_versions", ("creation_time", "last_updated_time")),
        ):
            for row in conn.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                found.update(x for x in row if x is not None)
        conn.close()
    return found


def normalized_files(folder: Path, old: set[int]) -> dict[str, str]:
    """Registry files (and logged-model tag files) with new timestamps replaced by NEW."""
    root = folder / "mlruns"
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        logged_model_tag = re.fullmatch(r"[^/]+/models/m-[0-9a-f]+/tags/.+", rel)
        if not path.is_file() or not (rel.startswith("models/") or logged_model_tag):
            continue
        text = path.read_text(encoding="utf-8")
        if path.name == "meta.yaml":
            text = re.sub(
                r"(_timestamp(?:_ms)?: )(\d+)",
                lambda mt: mt.group(1) + (mt.group(2) if int(mt.group(2)) in old else "NEW"),
                text,
            )
        out[rel] = text
    return out


def normalized_rows(folder: Path, old: set[int]) -> dict[str, list]:
    conn = sqlite3.connect(f"file:{folder / 'mlflow.db'}?mode=ro", uri=True)
    out = {}
    for table in (
        "registered_models",
        "model_versions",
        "registered_model_tags",
        "model_version_tags",
        "registered_model_aliases",
        "logged_model_tags",
    ):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        if not cols:
            continue
        rows = [new_times(cols, row, old) for row in conn.execute(f"SELECT * FROM {table}")]
        out[table] = [cols, sorted(rows, key=repr)]
    conn.close()
    return out


def new_times(cols: list[str], row: tuple, old: set[int]) -> tuple:
    """`row` with each time (a *_time column) not in `old` replaced by NEW."""
    return tuple(
        "NEW" if c.endswith("_time") and isinstance(x, int) and x not in old else x
        for c, x in zip(cols, row, strict=True)
    )


def tree_state(folder: Path) -> dict[str, tuple]:
    """Every file and folder under `folder`: content hash, mtime and mode."""
    out = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(dirpath, name)
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            out[str(path.relative_to(folder))] = (digest, st.st_mtime_ns, st.st_mode)
    return out


# -- the tests -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_reading(tmp_path_factory) -> Callable[[str], dict[tuple, Any]]:
    """MLflow's reading of an untouched copy of a fixture store, made once per store."""
    cache: dict[str, dict[tuple, Any]] = {}

    def reading(fixture: str) -> dict[tuple, Any]:
        if fixture not in cache:
            cache[fixture] = mlflow_reading(copy_fixture(fixture, tmp_path_factory.mktemp("base")))
        return cache[fixture]

    return reading


WRITES = [
    pytest.param(fixture, case, id=f"{case.id}-{fixture}")
    for case in CASES
    for fixture in REGISTRY_STORES
    if case.only_era in (None, int(fixture.split("-")[1][0]))
]


@pytest.mark.parametrize(("fixture", "case"), WRITES)
def test_write_as_mlflow_writes_it(fixture: str, case: Case, tmp_path: Path, base_reading):
    base = copy_fixture(fixture, tmp_path / "base")
    ours = copy_fixture(fixture, tmp_path / "ours")
    theirs = copy_fixture(fixture, tmp_path / "theirs")
    ctx = context(base)
    old = base_timestamps(base)

    store = open_store(store_path(ours))
    writer = RegistryWriter(store)
    result = case.ours(writer, ctx)
    store.close()
    assert result.plan.changes and result.plan.summary
    case.theirs(client_for(theirs), ctx)

    assert_written_as_mlflow(
        case, ctx, result, base_reading(fixture), mlflow_reading(ours), mlflow_reading(theirs)
    )
    if ctx.kind == "file":
        assert normalized_files(ours, old) == normalized_files(theirs, old)
    else:
        assert normalized_rows(ours, old) == normalized_rows(theirs, old)


def assert_written_as_mlflow(
    case: Case, ctx: Ctx, result: WriteResult, before: dict, after: dict, mlflow_after: dict
) -> None:
    """MLflow's reading `after` our write of `case` differs from `before` exactly as planned,
    and from `mlflow_after` (its own identical write) only by the time the write happened."""
    changed = diff(before, after)
    expected = expected_for(case, ctx)
    if ("logged_model", MLFLOW_MODEL, "tag", TAG_MODEL_VERSIONS) in expected:
        # The logged model MLflow chose for runs:/<run>/model: the one its version points at.
        del expected[("logged_model", MLFLOW_MODEL, "tag", TAG_MODEL_VERSIONS)]
        chosen = mlflow_after[v(C, 3, "model_id")] or mlflow_after[v(C, 3, "source")][8:]
        expected[("logged_model", chosen, "tag", TAG_MODEL_VERSIONS)] = MLFLOW
    assert set(changed) == set(expected), "MLflow sees other changes than planned"
    for key, want in expected.items():
        got = changed[key]
        if want is TS:
            assert got == result.timestamp, key
        elif want is MLFLOW:
            assert got == mlflow_after.get(key, REMOVED), key
        else:
            assert got == want, key
    # And nothing differs from MLflow's own write but the time it happened.
    for key in set(after) | set(mlflow_after):
        if expected.get(key) is not TS:
            assert after.get(key, REMOVED) == mlflow_after.get(key, REMOVED), key


@pytest.mark.parametrize("fixture", REGISTRY_STORES)
def test_plan_describes_without_writing(fixture: str, tmp_path: Path):
    folder = copy_fixture(fixture, tmp_path)
    state = tree_state(folder)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    plan = writer.plan_transition_stage(W, 5, "Production", archive_existing_versions=True)
    assert plan.summary == f"Move {W} version 5 from None to Production"
    assert f"{W} version 5: stage None → Production" in plan.changes
    assert f"{W} version 2: stage Production → Archived" in plan.changes
    plan = writer.plan_set_alias(W, "champion", 4)
    assert plan.changes[0] == f"{W}: alias @champion version 2 → version 4"
    bumps = [c for c in plan.changes if "last updated" in c]
    # The file store bumps the model's timestamp for an alias; MLflow's SQL store does not.
    assert bool(bumps) == (store.kind == "file")
    store.close()
    assert tree_state(folder) == state


INVALID = [
    ("reserved alias latest", lambda w: w.plan_set_alias(W, "Latest", 2)),
    ("reserved alias v<n>", lambda w: w.plan_set_alias(W, "v3", 2)),
    ("alias characters", lambda w: w.plan_set_alias(W, "best one", 2)),
    ("alias newline", lambda w: w.plan_set_alias(W, "best\n", 2)),
    ("alias too long", lambda w: w.plan_set_alias(W, "a" * 256, 2)),
    ("alias on deleted version", lambda w: w.plan_set_alias(W, "old", 3)),
    ("alias on missing version", lambda w: w.plan_set_alias(W, "old", 99)),
    ("alias of missing model", lambda w: w.plan_set_alias("nope", "x", 1)),
    ("delete missing alias", lambda w: w.plan_delete_alias(W, "nope")),
    ("bad stage", lambda w: w.plan_transition_stage(W, 2, "Prod")),
    ("archive into Archived", lambda w: w.plan_transition_stage(W, 2, "Archived", True)),
    ("stage of deleted version", lambda w: w.plan_transition_stage(W, 3, "Staging")),
    ("version not a number", lambda w: w.plan_set_version_tag(W, "two", "k", "v")),
    ("duplicate model", lambda w: w.plan_create_registered_model(C)),
    ("model name with slash", lambda w: w.plan_create_registered_model("a/b")),
    ("blank model name", lambda w: w.plan_create_registered_model("  ")),
    ("tag key traversal", lambda w: w.plan_set_model_tag(W, "../x", "v")),
    ("tag key characters", lambda w: w.plan_set_model_tag(W, "a*b", "v")),
    ("delete missing tag", lambda w: w.plan_delete_model_tag(W, "nope")),
    ("version tag on deleted", lambda w: w.plan_set_version_tag(W, 3, "k", "v")),
    ("delete missing version tag", lambda w: w.plan_delete_version_tag(W, 2, "nope")),
    ("register nothing", lambda w: w.plan_register_model(W)),
    (
        "register missing run",
        lambda w: w.plan_register_model(W, run_id="0" * 32, artifact_path="m"),
    ),
    ("version of missing model", lambda w: w.plan_create_model_version("nope", "/x")),
]


@pytest.mark.parametrize("fixture", ["mlflow-3.17.2-file", "mlflow-2.22.5-sqlite"])
def test_invalid_writes_are_refused_and_write_nothing(fixture: str, tmp_path: Path):
    folder = copy_fixture(fixture, tmp_path)
    state = tree_state(folder)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    for label, attempt in INVALID:
        with pytest.raises(InvalidWriteError) as info:
            attempt(writer)
            pytest.fail(label)
        # Screens show the message as a sentence, capital first: it must not start with a
        # name, whose case would change.
        assert str(info.value).split()[0] not in (W, C), label
    store.close()
    assert tree_state(folder) == state


def _all_plans(w: RegistryWriter) -> list[Callable[[], Any]]:
    return [
        lambda: w.plan_set_alias(W, "best", 4),
        lambda: w.plan_delete_alias(W, "champion"),
        lambda: w.plan_transition_stage(W, 5, "Staging"),
        lambda: w.plan_update_model_description(W, "x"),
        lambda: w.plan_update_version_description(W, 2, "x"),
        lambda: w.plan_set_model_tag(W, "k", "v"),
        lambda: w.plan_delete_model_tag(W, "owner"),
        lambda: w.plan_set_version_tag(W, 2, "k", "v"),
        lambda: w.plan_delete_version_tag(W, 2, "validated"),
        lambda: w.plan_create_registered_model("another"),
        lambda: w.plan_create_model_version(W, "/x/model"),
    ]


def _refused_everywhere(folder: Path, writer: RegistryWriter, state: dict) -> str:
    messages = set()
    for plan in _all_plans(writer):
        with pytest.raises(ReadOnlyError) as info:
            plan()
        messages.add(str(info.value))
    assert tree_state(folder) == state
    assert len(messages) == 1
    message = messages.pop()
    assert message.endswith("nothing was written.") and "\n" not in message
    return message


@pytest.mark.parametrize("fixture", REGISTRY_STORES)
def test_read_only_writer_refuses(fixture: str, tmp_path: Path):
    folder = copy_fixture(fixture, tmp_path)
    state = tree_state(folder)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store, read_only=True)
    assert writer.refusal() is not None
    assert "read-only" in _refused_everywhere(folder, writer, state)
    # A plan made before the store turned read-only is refused when applied, too.
    plan = RegistryWriter(store).plan_set_model_tag(W, "k", "v")
    with pytest.raises(ReadOnlyError):
        writer.apply(plan)
    store.close()
    assert tree_state(folder) == state


def _chmod_tree(root: Path, writable: bool) -> None:
    for dirpath, dirs, files in os.walk(root):
        for name in [*dirs, *files, ""]:
            path = Path(dirpath, name)
            mode = path.stat().st_mode
            path.chmod(mode | stat.S_IWUSR if writable else mode & ~0o222)


@pytest.mark.parametrize("fixture", REGISTRY_STORES)
def test_unwritable_store_is_refused(fixture: str, tmp_path: Path):
    folder = copy_fixture(fixture, tmp_path)
    store = open_store(store_path(folder))
    target = folder / "mlruns" / "models" if store.kind == "file" else folder
    _chmod_tree(target, writable=False)
    try:
        state = tree_state(folder)
        writer = RegistryWriter(store)
        # Tests run as root, which passes os.access; the cleared write bits still count.
        message = _refused_everywhere(folder, writer, state)
        assert "not writable" in message
    finally:
        _chmod_tree(target, writable=True)
        store.close()


def test_one_read_only_file_refuses_the_write_that_needs_it(tmp_path: Path):
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    meta = folder / "mlruns" / "models" / W / "meta.yaml"
    meta.chmod(0o444)
    state = tree_state(folder)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    assert writer.refusal() is None
    with pytest.raises(ReadOnlyError, match=r"meta\.yaml is not writable"):
        writer.plan_set_model_tag(W, "k", "v")  # the tag would bump the model's meta.yaml
    assert tree_state(folder) == state
    writer.set_version_tag(C, 2, "k", "v")  # another model is fine
    meta.chmod(0o644)


def _alter(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_untested_revision_with_tested_registry_tables_is_written(tmp_path: Path):
    # What matters is the registry tables, not the alembic revision: a later MLflow that leaves
    # them alone (as 3.18.0 did) is written to, and MLflow reads the write back.
    folder = copy_fixture("mlflow-3.18.0-sqlite", tmp_path)
    db = folder / "mlflow.db"
    _alter(db, "UPDATE alembic_version SET version_num = 'aaaaaaaaaaaa'")
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    assert writer.refusal() is None
    writer.set_model_tag(W, "checked", "yes")
    store.close()
    # MLflow itself opens only revisions it knows: put 3.18.0's back to read the write.
    _alter(db, "UPDATE alembic_version SET version_num = 'f4a9b2c7d1e6'")
    assert client_for(folder).get_registered_model(W).tags["checked"] == "yes"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            "ALTER TABLE model_versions ADD COLUMN foo TEXT",
            "model_versions has a column `foo` that no tested MLflow has",
        ),
        (
            "CREATE UNIQUE INDEX one_run ON model_versions (name, version, run_id)",
            "model_versions has a unique index on (name, version, run_id) that MLflow 3.18.0 "
            "does not have",
        ),
        (
            "CREATE TRIGGER no_tags BEFORE INSERT ON registered_model_tags "
            "BEGIN SELECT RAISE(ABORT, 'no'); END",
            "registered_model_tags has a trigger `CREATE TRIGGER no_tags",
        ),
        (
            "DROP TABLE logged_model_tags",
            "it has no table logged_model_tags, which MLflow 3.18.0 has",
        ),
    ],
)
def test_untested_registry_tables_are_refused_and_left_byte_identical(
    change: str, said: str, tmp_path: Path
):
    folder = copy_fixture("mlflow-3.18.0-sqlite", tmp_path)
    _alter(folder / "mlflow.db", change)
    state = tree_state(folder)
    store = open_store(store_path(folder))
    message = _refused_everywhere(folder, RegistryWriter(store), state)
    store.close()
    assert message.startswith(f"Not writing to mlflow.db: {said}"), message
    assert "exactly as MLflow 2.22.5, 3.17.2 or 3.18.0 made them" in message
    assert tree_state(folder) == state


def test_registry_tables_changed_after_the_plan_are_refused_when_applied(tmp_path: Path):
    folder = copy_fixture("mlflow-3.18.0-sqlite", tmp_path)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    plan = writer.plan_set_model_tag(W, "k", "v")
    _alter(folder / "mlflow.db", "ALTER TABLE registered_model_tags ADD COLUMN note TEXT")
    state = tree_state(folder)
    with pytest.raises(ReadOnlyError, match="registered_model_tags has a column `note`"):
        writer.apply(plan)
    store.close()
    assert tree_state(folder) == state


def test_a_refusal_keeps_the_file_names_case(tmp_path: Path):
    # The issue saw "Mlflow.db has schema revision ...": the sentence began with the file name.
    folder = copy_fixture("mlflow-3.17.2-sqlite", tmp_path)
    untested_schema(folder / "mlflow.db")
    store = open_store(store_path(folder))
    with pytest.raises(ReadOnlyError) as info:
        RegistryWriter(store).plan_set_model_tag(W, "k", "v")
    assert "mlflow.db" in str(info.value) and "Mlflow.db" not in str(info.value), str(info.value)
    store.close()


def test_a_reason_becomes_a_sentence_without_touching_names():
    assert as_sentence("the store was opened read-only") == "The store was opened read-only."
    assert (
        as_sentence("cannot open /data/mlflow.db: locked.")
        == "Cannot open /data/mlflow.db: locked."
    )
    for kept in (
        "mlflow.db has schema revision x",
        "/data/mlruns/models is not writable",
        "wine-classifier has no version 9",
        "model_2 has no tag 'k'",
    ):
        assert as_sentence(kept) == kept + "."


def test_mlflow_1_database_is_refused(tmp_path: Path):
    folder = copy_fixture("mlflow-1.30.1-sqlite", tmp_path)
    state = tree_state(folder)
    store = open_store(store_path(folder))
    message = _refused_everywhere(folder, RegistryWriter(store), state)
    assert "lacks the column `storage_location` that MLflow 2.22.5 has" in message
    store.close()


def test_apply_checks_again_against_the_registry_as_it_is_now(tmp_path: Path):
    folder = copy_fixture("mlflow-3.17.2-sqlite", tmp_path)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    plan = writer.plan_set_alias(W, "best", 5)
    first = writer.plan_create_model_version(W, "/a/model")
    writer.apply(first)
    assert writer.apply(writer.plan_create_model_version(W, "/b/model")).version == "7"
    client_for(folder).delete_model_version(W, "5")
    with pytest.raises(InvalidWriteError, match="no version 5"):
        writer.apply(plan)
    store.close()


# -- writing while MLflow writes ---------------------------------------------------------------
MLFLOW_WRITER = textwrap.dedent(
    """
    import os, sys
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    import mlflow
    from mlflow import MlflowClient
    uri, count = sys.argv[1], int(sys.argv[2])
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    client.get_registered_model("wine-classifier")
    print("ready", flush=True)
    for i in range(count):
        mv = client.create_model_version("wine-classifier", f"/mlflow-writer/{i}")
        client.set_model_version_tag("wine-classifier", mv.version, "writer", "mlflow")
        client.set_registered_model_tag("wine-classifier", f"mlflow-{i}", str(i))
    print("done", flush=True)
    """
)


def race_mlflow_writer(
    uri: str, writer: RegistryWriter, count: int, tmp_path: Path, rounds: tuple[int, int]
) -> dict[int, str]:
    """MLFLOW_WRITER on `uri` making `count` rounds (a version, its tag, a model tag) while
    `writer` makes between rounds[0] and rounds[1] of its own (a model tag, the description, a
    version, its tag, an alias on it), as long as MLflow writes; {round: our version}."""
    script = tmp_path / "mlflow_writer.py"
    script.write_text(MLFLOW_WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(script), uri, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ours: dict[int, str] = {}
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        i = overlapped = 0
        while i < rounds[0] or (proc.poll() is None and i < rounds[1]):
            writer.set_model_tag(W, f"ours-{i}", str(i))
            writer.update_model_description(W, f"description {i}")
            version = writer.create_model_version(W, f"/mltui-writer/{i}").version
            assert version is not None
            writer.set_version_tag(W, version, "writer", "mltui")
            writer.set_alias(W, f"ours{i}", version)
            ours[i] = version
            overlapped += proc.poll() is None
            i += 1
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert overlapped >= 2, "MLflow finished before mltui wrote: nothing was concurrent"
    assert "done" in out
    return ours


def assert_nothing_lost(reading: dict[tuple, Any], count: int, ours: dict[int, str]) -> None:
    """Every write of both sides of `race_mlflow_writer` is in MLflow's `reading`."""
    versions = {
        int(k[2]): val for k, val in reading.items() if k[0] == "version" and k[3] == "source"
    }
    theirs = {val for val in versions.values() if val.startswith("/mlflow-writer/")}
    mine = {val for val in versions.values() if val.startswith("/mltui-writer/")}
    assert theirs == {f"/mlflow-writer/{n}" for n in range(count)}
    assert mine == {f"/mltui-writer/{n}" for n in ours}
    # Numbers are unique and leave no gap (version 3 is the fixture's deleted one).
    assert sorted(versions) == [n for n in range(1, max(versions) + 1) if n != 3]
    for number, source in versions.items():
        if source.startswith("/ml"):
            writer_name = "mlflow" if "mlflow-writer" in source else "mltui"
            assert reading[v(W, number, "tag", "writer")] == writer_name
    for n in range(count):
        assert reading[m(W, "tag", f"mlflow-{n}")] == str(n)
    for n, version in ours.items():
        assert reading[m(W, "tag", f"ours-{n}")] == str(n)
        assert reading[m(W, "alias", f"ours{n}")] == version
    assert reading[m(W, "description")] == f"description {max(ours)}"


@pytest.mark.parametrize("fixture", ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"])
def test_concurrent_mlflow_writer_loses_nothing(fixture: str, tmp_path: Path):
    folder = copy_fixture(fixture, tmp_path)
    store = open_store(store_path(folder))
    try:
        ours = race_mlflow_writer(uri_of(folder), RegistryWriter(store), 20, tmp_path, (3, 20))
    finally:
        store.close()
    assert_nothing_lost(mlflow_reading(folder), 20, ours)
    # Nothing of ours is left behind (temporary files) for MLflow to trip over.
    assert not list((folder / "mlruns").rglob(".mltui-*"))


def test_description_reverted_by_another_writer_is_put_back_then_given_up(
    tmp_path: Path, monkeypatch
):
    """A rewrite from a stale copy (as MLflow's file registry does) is undone while it lasts;
    past the time allowed, the write fails with one clear sentence, and nothing else is lost."""
    from mltui.store.errors import StoreError
    from mltui.store.file.registry import FileRegistryBackend

    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    meta = folder / "mlruns" / "models" / W / "meta.yaml"
    stale = meta.read_text()
    writer = RegistryWriter(open_store(store_path(folder)))

    def revert_for(seconds: float, stop: threading.Event) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not stop.is_set():
            if (
                "description: first" in meta.read_text()
                or "description: second" in meta.read_text()
            ):
                tmp = meta.with_name("meta.yaml.stale")
                tmp.write_text(stale)
                os.replace(tmp, meta)
            time.sleep(0.005)

    # Reverted for a while, then left alone: the description holds in the end.
    stop = threading.Event()
    other = threading.Thread(target=revert_for, args=(0.6, stop))
    other.start()
    time.sleep(0.05)
    writer.update_model_description(W, "first")
    other.join()
    assert client_for(folder).get_registered_model(W).description == "first"

    # Reverted for longer than allowed: a clear error, and the file is MLflow's as it was.
    monkeypatch.setattr(FileRegistryBackend, "REWRITE_SECONDS", 0.5)
    other = threading.Thread(target=revert_for, args=(30, stop))
    other.start()
    try:
        with pytest.raises(StoreError, match="another program keeps rewriting"):
            writer.update_model_description(W, "second")
    finally:
        stop.set()
        other.join()
    assert client_for(folder).get_registered_model(W).description != "second"


def test_racing_mlflow_on_the_file_registry_reverts_nothing(tmp_path: Path):
    """MLflow's client and our writer rewrite the same meta.yaml files for 12 s, and on until
    each side made 5 rounds (tests/bench/soak_registry.py does it for minutes): neither side's
    write is undone, nothing refused."""
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    result = race(folder, seconds=12, rounds=5)
    assert result["mlflow"]["descriptions"] >= 5 and result["mltui"]["tags"] >= 5, result
    assert reverted(result) == 0, result
    assert result["mltui"]["refused"] == 0, result


def _with_mlflow_write_inside(target: str, tmp_path: Path, interleave) -> None:
    """Our model tag (target "model") or version description ("version") with MLflow's write of
    the same meta.yaml (the model's description, the version's stage) forced into it by
    `interleave(theirs)` (which patches our writer and returns the list it fills once MLflow
    wrote): both changes must be there afterwards, as MLflow reads them."""
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    client = client_for(folder)
    writer = RegistryWriter(open_store(store_path(folder)))
    theirs = {
        "model": lambda: client.update_registered_model(W, description="MLflow's"),
        "version": lambda: client.transition_model_version_stage(W, "5", "Staging"),
    }[target]
    interleaved = interleave(theirs)
    if target == "model":
        writer.set_model_tag(W, "ours", "1")
        rm = client.get_registered_model(W)
        assert (rm.description, rm.tags["ours"]) == ("MLflow's", "1")
    else:
        writer.update_version_description(W, 5, "ours")
        mv = client.get_model_version(W, "5")
        assert (mv.current_stage, mv.description) == ("Staging", "ours")
    assert interleaved
    meta_folder = folder / "mlruns" / "models" / W
    assert not [p for p in meta_folder.rglob("*") if p.name.startswith(".mltui-")]


@pytest.mark.parametrize("target", ["model", "version"])
def test_an_mlflow_write_between_our_read_and_replace_is_kept(
    target: str, tmp_path: Path, monkeypatch
):
    """MLflow writes the very file we are rewriting, right after we read it: our swap notices,
    reads again and keeps MLflow's change with ours."""
    from mltui.store.file.registry import FileRegistryBackend

    real = FileRegistryBackend._load_meta
    interleaved: list[Path] = []

    def interleave(theirs):
        def read_then_mlflow_writes(self, path, required=()):
            found = real(self, path, required)
            if required and not interleaved:  # our first read for a rewrite
                interleaved.append(path)
                theirs()
            return found

        monkeypatch.setattr(FileRegistryBackend, "_load_meta", read_then_mlflow_writes)
        return interleaved

    _with_mlflow_write_inside(target, tmp_path, interleave)


@pytest.mark.parametrize("target", ["model", "version"])
def test_an_mlflow_write_between_our_last_check_and_the_rename_is_kept(
    target: str, tmp_path: Path, monkeypatch
):
    """MLflow replaces the file in the instant after our last comparison and before our rename
    (here: forced into it). The rename is an exchange, so what it replaced is seen to be
    MLflow's, put back, and our change redone on top of it; a plain replace lost it (CI saw it
    once in the race below)."""
    import mltui.store.file.registry as file_registry

    real_write_tmp = file_registry.FileRegistryBackend._write_tmp
    real_read_seen = file_registry._read_seen
    armed: list[bool] = []
    interleaved: list[Path] = []

    def interleave(theirs):
        def write_tmp(self, folder, text, mode):
            if "\nname: " in "\n" + text:  # a meta.yaml (not a tag file): _swap writes its file,
                armed.append(True)  # then makes its last comparison
            return real_write_tmp(self, folder, text, mode)

        def read_seen(path, root_real):
            found = real_read_seen(path, root_real)
            if armed and not interleaved and path.name == "meta.yaml":
                interleaved.append(path)
                theirs()  # after the comparison, before the rename
            return found

        monkeypatch.setattr(file_registry.FileRegistryBackend, "_write_tmp", write_tmp)
        monkeypatch.setattr(file_registry, "_read_seen", read_seen)
        return interleaved

    _with_mlflow_write_inside(target, tmp_path, interleave)


def test_a_meta_yaml_being_written_is_never_written_over(tmp_path: Path):
    """MLflow truncates meta.yaml, then writes it: a file cut short (here: before `name`) is
    waited for, then refused in one sentence, and left as it is."""
    from mltui.store.errors import StoreError

    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    meta = folder / "mlruns" / "models" / W / "meta.yaml"
    full = meta.read_text()
    cut = full[: full.index("name:")]
    meta.write_text(cut)
    writer = RegistryWriter(open_store(store_path(folder)))
    with pytest.raises(StoreError, match="empty, partial or damaged; not writing over it"):
        writer.set_model_tag(W, "k", "v")
    assert meta.read_text() == cut
    meta.write_text(full)
    writer.set_model_tag(W, "k", "v")
    assert client_for(folder).get_registered_model(W).tags["k"] == "v"


CREATE_THEN_DIE = textwrap.dedent(
    """
    import os, signal, sys
    from mltui.store import open_store
    from mltui.store.registry import RegistryWriter
    root, prefix, die_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    writer = RegistryWriter(open_store(root))
    writer.create_registered_model(f"{prefix}-whole", description="d", tags={"k": "v"})
    # kill -9 at the die_at-th file made durable from now on: each step of a create in turn.
    real_fsync, synced = os.fsync, []
    def fsync_or_die(fd):
        synced.append(fd)
        if len(synced) == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        real_fsync(fd)
    os.fsync = fsync_or_die
    writer.create_registered_model(f"{prefix}-killed", description="d", tags={"k": "v"})
    """
)


@pytest.mark.parametrize("die_at", [1, 2])
def test_killed_while_creating_a_model_leaves_mlflow_able_to_list_models(
    die_at: int, tmp_path: Path
):
    """kill -9 at each step of a create (its meta.yaml, then its tag): MLflow still lists every
    model (a model folder without meta.yaml makes its search fail for all), and we list no
    incomplete one."""
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    root = folder / "mlruns"
    env = {**os.environ, "PYTHONPATH": child_pythonpath()}
    done = subprocess.run(
        [sys.executable, "-c", CREATE_THEN_DIE, str(root), "m", str(die_at)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr
    names = {rm.name for rm in client_for(folder).search_registered_models()}
    assert {W, C, "m-whole"} <= names
    assert ("m-killed" in names) == (die_at > 1)
    assert not [m.name for m in open_store(root).registered_models() if m.incomplete]
    # A killed create leaves no folder of ours in models/ (MLflow would read it as a model).
    assert not [p for p in (root / "models").iterdir() if p.name.startswith(".")]


def test_a_half_created_model_is_listed_and_removed_on_confirmation(tmp_path: Path):
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    root = folder / "mlruns"
    half = root / "models" / "half"
    half.mkdir()  # what a create killed before its meta.yaml (older mltui, or MLflow) leaves
    (half / ".mltui-0123456789abcdef0123456789abcdef.tmp").write_text("name: half\n")
    store = open_store(root)
    listed = {m.name: m for m in store.registered_models()}
    assert listed["half"].incomplete and not listed[W].incomplete
    writer = RegistryWriter(store)
    with pytest.raises(InvalidWriteError, match="half-created registered model"):
        writer.plan_create_registered_model("half")
    with pytest.raises(InvalidWriteError, match="is a registered model"):
        writer.plan_remove_incomplete_model(W)
    with pytest.raises(InvalidWriteError, match="no half-created model folder"):
        writer.plan_remove_incomplete_model("nothing")
    plan = writer.plan_remove_incomplete_model("half")
    assert plan.changes == (
        "remove the folder models/half (no meta.yaml: an interrupted create)",
        "with its file .mltui-0123456789abcdef0123456789abcdef.tmp",
    )
    # Completed between plan and apply: refused, nothing removed.
    (half / "meta.yaml").write_text("name: half\n")
    with pytest.raises(InvalidWriteError, match="is a registered model"):
        writer.apply(plan)
    assert (half / "meta.yaml").is_file()
    (half / "meta.yaml").unlink()
    writer.apply(plan)
    assert not half.exists()
    assert {rm.name for rm in client_for(folder).search_registered_models()} == {W, C}
    writer.create_registered_model("half")
    assert client_for(folder).get_registered_model("half").name == "half"
    assert not list(root.glob(".mltui-*"))


def test_a_model_folder_holding_versions_is_not_removed(tmp_path: Path):
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    model_dir = folder / "mlruns" / "models" / C
    (model_dir / "meta.yaml").unlink()  # damaged by hand: its versions are still there
    writer = RegistryWriter(open_store(store_path(folder)))
    with pytest.raises(InvalidWriteError, match="holds model versions"):
        writer.plan_remove_incomplete_model(C)
    assert (model_dir / "version-1" / "meta.yaml").is_file()


def test_leftovers_of_a_crashed_write_are_cleared_by_the_next(tmp_path: Path, monkeypatch):
    """Our temporary files and folders are removed by the next write there, once a minute old;
    anything else (another name, a fresh one of a write under way) is left alone."""
    from mltui.store.file.registry import FileRegistryBackend

    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    root = folder / "mlruns"
    model_dir = root / "models" / W
    hexa = "0123456789abcdef" * 2
    ours = [
        model_dir / f".mltui-{hexa}.tmp",  # a meta.yaml or tag being replaced
        model_dir / f".mltui-{hexa}",  # a version folder being built
        root / f".mltui-{hexa}.trash",  # a model folder being built or removed
    ]
    others = [
        model_dir / ".mltui-notes",
        root / f".mltui-kept-{hexa}.trash",
        model_dir / "notes.tmp",
    ]
    for path in ours + others:
        if path.suffix == ".tmp" or path.name == ".mltui-notes":
            path.write_text("x")
        else:
            path.mkdir()
            (path / "meta.yaml").write_text("x")
    writer = RegistryWriter(open_store(root))
    writer.set_model_tag(W, "k", "v")
    writer.create_registered_model("fresh")
    assert all(p.exists() for p in ours + others)  # under a minute old: maybe a write under way
    monkeypatch.setattr(FileRegistryBackend, "STALE_SECONDS", 0.0)
    writer.set_model_tag(W, "k", "w")
    writer.create_registered_model("fresh2")
    assert not [p for p in ours if p.exists()]
    assert all(p.exists() for p in others)


def test_sqlite_write_waits_for_a_writer_holding_the_database(tmp_path: Path):
    folder = copy_fixture("mlflow-3.17.2-sqlite", tmp_path)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    blocker = sqlite3.connect(folder / "mlflow.db", isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    blocker.execute("UPDATE registered_models SET description = 'held' WHERE name = ?", (C,))
    released = []

    def release():
        time.sleep(0.5)
        blocker.execute("COMMIT")
        released.append(time.monotonic())

    thread = threading.Thread(target=release)
    thread.start()
    result = writer.set_model_tag(C, "waited", "yes")
    thread.join()
    assert result.timestamp and released
    reading = mlflow_reading(folder)
    assert reading[m(C, "tag", "waited")] == "yes"
    assert reading[m(C, "description")] == "held"
    blocker.close()
    store.close()


def test_version_meta_yaml_is_what_mlflow_reads(tmp_path: Path):
    """A version mltui creates in a 2.x file store carries 3.17.2's fields, and 2.x-era stale
    alias copies are dropped as MLflow 3.17.2 drops them when rewriting."""
    folder = copy_fixture("mlflow-2.22.5-file", tmp_path)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    writer.transition_stage(W, 5, "Staging")
    meta = yaml.safe_load((folder / "mlruns/models" / W / "version-5/meta.yaml").read_text())
    assert "aliases" not in meta
    assert meta["workspace"] == "default" and meta["version"] == 5
    model_meta = yaml.safe_load((folder / "mlruns/models" / W / "meta.yaml").read_text())
    assert model_meta["aliases"] == {"champion": "2", "challenger": "4"}
    store.close()


@pytest.mark.parametrize("fixture", REGISTRY_STORES)
def test_models_of_run_are_registrable(fixture: str, tmp_path: Path):
    folder = copy_fixture(fixture, tmp_path)
    ctx = context(folder)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    run = ctx.run_id if ctx.era == 2 else ctx.model_run
    found = writer.models_of_run(run)
    assert len(found) == 1
    target = found[0]
    if ctx.era == 2:
        assert (target.artifact_path, target.model_id) == ("model", None)
        plan = writer.plan_register_model("x", run_id=run, artifact_path=target.artifact_path)
    else:
        assert target.artifact_path is None and target.model_id.startswith("m-")
        plan = writer.plan_register_model("x", model_id=target.model_id)
    assert plan.summary == "Register version 1 of x (a new registered model)"
    assert writer.models_of_run("0" * 32) == []
    store.close()


# -- MLflow 3.12+ workspaces: registered models keyed by (workspace, name) ------------------
def test_models_of_two_workspaces_are_read_apart(two_workspaces: Path):
    store = open_store(store_path(two_workspaces))
    models = {(m.workspace, m.name): m for m in store.registered_models()}
    assert set(models) == {
        ("default", C),
        ("default", W),
        ("team-b", "b-only"),
        ("team-b", W),
    }
    assert models[("team-b", W)].tags == {"team": "b"}
    assert models[("team-b", W)].aliases == {}
    assert [v.version for v in models[("team-b", W)].latest_versions] == ["1"]
    assert models[("default", W)].aliases == {"challenger": "4", "champion": "2"}
    assert [v.version for v in store.model_versions(W, workspace="team-b")] == ["1"]
    assert [v.source for v in store.model_versions(W, workspace="team-b")] == ["/b/model-1"]
    assert [v.version for v in store.model_versions(W, workspace="default")] == ["5", "4", "2", "1"]
    store.close()


def test_writes_go_into_the_models_own_workspace(two_workspaces: Path):
    before = mlflow_workspaces(two_workspaces)
    store = open_store(store_path(two_workspaces))
    writer = RegistryWriter(store)
    # b-only lives in team-b alone: written there without being told.
    writer.set_model_tag("b-only", "k", "v")
    assert writer.register_model("b-only", model_id=context(two_workspaces).model_id).version == "2"
    # wine-classifier is in both: the writer must be told which.
    with pytest.raises(InvalidWriteError, match="exists in the workspaces default, team-b"):
        writer.plan_set_model_tag(W, "k", "v")
    b_writer = RegistryWriter(store, workspace="team-b")
    b_writer.set_alias(W, "b-best", 1)
    b_writer.update_model_description(W, "changed in b")
    RegistryWriter(store, workspace="default").set_model_tag(W, "k", "default's")
    store.close()

    after = mlflow_workspaces(two_workspaces)
    changed = {k: (before.get(k), after.get(k)) for k in after if before.get(k) != after.get(k)}
    assert set(changed) == {"team-b/b-only", f"team-b/{W}", f"default/{W}"}
    assert after["team-b/b-only"]["tags"] == {"k": "v"}
    assert after["team-b/b-only"]["versions"] == [1, 2]
    assert after[f"team-b/{W}"]["aliases"] == {"b-best": "1"}
    assert after[f"team-b/{W}"]["description"] == "changed in b"
    assert after[f"default/{W}"]["tags"]["k"] == "default's"
    assert after[f"default/{W}"]["description"] == before[f"default/{W}"]["description"]


def _twin_logged_models(client: MlflowClient, run_id: str, name: str) -> list:
    """Logged models `name` of one run at the same step, made by MLflow until the newest is not
    the one with the lowest id (so listing them by id does not give MLflow's choice)."""
    from mlflow.entities import LoggedModelOutput

    exp_id = client.get_run(run_id).info.experiment_id
    made: list = []
    for _ in range(40):
        lm = client.create_logged_model(exp_id, name=name, source_run_id=run_id)
        client.log_outputs(run_id, [LoggedModelOutput(lm.model_id, step=0)])
        made.append(lm)
        newest = max(m.creation_timestamp for m in made)
        at_newest = [m for m in made if m.creation_timestamp == newest]
        lowest_id = min(m.model_id for m in made)
        if len(made) >= 2 and len(at_newest) == 1 and at_newest[0].model_id != lowest_id:
            return made
    pytest.fail("MLflow never made a newest logged model with a higher id")


@pytest.mark.parametrize("fixture", ["mlflow-3.18.0-file", "mlflow-3.18.0-sqlite"])
def test_register_by_run_and_path_picks_the_logged_model_mlflow_picks(fixture: str, tmp_path: Path):
    ours = copy_fixture(fixture, tmp_path / "ours")
    run_id = context(ours).model_run
    made = _twin_logged_models(client_for(ours), run_id, "twin")
    theirs = tmp_path / "theirs" / fixture
    shutil.copytree(ours, theirs)

    store = open_store(store_path(ours))
    plan = RegistryWriter(store).plan_register_model("twins", run_id=run_id, artifact_path="twin")
    store.close()
    client_for(theirs)
    version = mlflow.register_model(f"runs:/{run_id}/twin", "twins")
    newest = max(made, key=lambda m: m.creation_timestamp)
    assert version.source == f"models:/{newest.model_id}"
    assert plan.operation.source == version.source


def test_logged_model_tag_appends(tmp_path: Path):
    folder = copy_fixture("mlflow-3.17.2-file", tmp_path)
    ctx = context(folder)
    store = open_store(store_path(folder))
    writer = RegistryWriter(store)
    tag_file = next((folder / "mlruns").glob(f"*/models/{ctx.model_id}/tags/{TAG_MODEL_VERSIONS}"))
    before = json.loads(tag_file.read_text())
    result = writer.register_model(C, model_id=ctx.model_id)
    assert json.loads(tag_file.read_text()) == [
        *before,
        {"name": C, "version": int(result.version)},
    ]
    store.close()


@pytest.fixture(autouse=True)
def _no_leftover_permissions(tmp_path: Path):
    yield
    # pytest's tmp_path cleanup must be able to delete what a test made read-only.
    for dirpath, dirs, _files in os.walk(tmp_path):
        for name in dirs:
            path = Path(dirpath, name)
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
