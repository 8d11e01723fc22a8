"""The tested registry schemas: still what the fixture databases hold, and compared as meant."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mltui.store.sqlite.registry_schema import (
    TESTED_SCHEMAS_FILE,
    load_tested_schemas,
    registry_schema,
    untested_difference,
)
from tests.conftest import STORES_DIR, copy_fixture
from tests.fixtures.make_registry_schemas import TESTED, render, schemas


def _schema(db: Path) -> dict:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return registry_schema(conn)
    finally:
        conn.close()


def test_tested_schemas_file_is_what_the_fixtures_hold():
    # Out of date after a fixture is regenerated: run tests/fixtures/make_registry_schemas.py.
    assert TESTED_SCHEMAS_FILE.read_text(encoding="utf-8") == render(schemas())
    assert [t["mlflow"] for t in load_tested_schemas()] == list(TESTED)


def test_mlflow_3_18_left_the_registry_tables_of_3_17_alone():
    by_version = {t["mlflow"]: t for t in load_tested_schemas()}
    assert by_version["3.18.0"]["revision"] != by_version["3.17.2"]["revision"]
    assert by_version["3.18.0"]["tables"] == by_version["3.17.2"]["tables"]


@pytest.mark.parametrize("version", TESTED)
def test_fixture_schemas_are_tested(version: str):
    db = STORES_DIR / f"mlflow-{version}-sqlite" / "mlflow.db"
    assert untested_difference(_schema(db)) is None


def test_column_order_and_index_names_do_not_count(tmp_path: Path):
    """A table rebuilt with its columns in another order and its index renamed is the same."""
    db = copy_fixture("mlflow-3.18.0-sqlite", tmp_path) / "mlflow.db"
    conn = sqlite3.connect(db)
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'registered_model_tags'"
    ).fetchone()
    lines = sql.splitlines()
    # "key", value, name, workspace: move value after name.
    lines[1:4] = [lines[1], lines[3], lines[2]]
    conn.executescript(
        "PRAGMA foreign_keys = OFF; BEGIN;"
        "ALTER TABLE registered_model_tags RENAME TO old_tags;"
        + "\n".join(lines).replace('"registered_model_tags"', "registered_model_tags")
        + ";"
        "INSERT INTO registered_model_tags SELECT * FROM old_tags; DROP TABLE old_tags;"
        "CREATE INDEX renamed ON registered_model_tags (workspace, name); COMMIT;"
    )
    conn.close()
    assert untested_difference(_schema(db)) is None


def test_a_changed_column_is_named(tmp_path: Path):
    db = copy_fixture("mlflow-3.18.0-sqlite", tmp_path) / "mlflow.db"
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE registered_model_aliases ADD COLUMN note TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE model_versions DROP COLUMN run_link")
    conn.commit()
    conn.close()
    said = untested_difference(_schema(db))
    assert said == (
        "model_versions lacks the column `run_link` that MLflow 3.18.0 has, and 1 more difference"
    )
