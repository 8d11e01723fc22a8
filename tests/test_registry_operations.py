"""Registry writes as typed values (store/registry/operations.py), and the writer and follower
each Store hands out."""

from __future__ import annotations

import dataclasses

import pytest

from mltui.store import ReadOnlyError, open_store
from mltui.store.follow import StoreFollower
from mltui.store.registry import InvalidWriteError, RegistryWriter
from mltui.store.registry.operations import (
    CreateRegisteredModel,
    SetAlias,
    SetModelTag,
    TransitionStage,
)
from tests.conftest import copy_fixture, store_path


def test_an_operation_is_validated_once_when_made():
    with pytest.raises(InvalidWriteError, match="reserved"):
        SetAlias("m", alias="latest", version=1)
    with pytest.raises(InvalidWriteError, match="whole number"):
        SetAlias("m", alias="champion", version="one")
    with pytest.raises(InvalidWriteError, match="invalid stage"):
        TransitionStage("m", version=1, stage="Live")
    with pytest.raises(InvalidWriteError, match="cannot contain"):
        CreateRegisteredModel("a/b")


def test_an_operation_is_a_normalised_frozen_value():
    op = TransitionStage("m", version="2", stage="production")
    assert (op.version, op.stage) == (2, "Production")
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.stage = "Archived"  # type: ignore[misc]


@pytest.mark.parametrize("fixture", ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"])
def test_each_store_plans_and_applies_a_typed_operation(fixture, tmp_path):
    store = open_store(store_path(copy_fixture(fixture, tmp_path)))
    writer = store.registry_writer()
    assert isinstance(writer, RegistryWriter)
    name = store.registered_models()[0].name
    plan = writer.plan(SetModelTag(name, key="reviewed-by", value="vision"))
    assert plan.operation == SetModelTag(name, key="reviewed-by", value="vision")
    assert f"{name}: tag reviewed-by = 'vision' (new)" in plan.changes
    # The file store bumps the model's last-updated time on a tag write; SQLite does not.
    bumped = f"{name}: last updated time → now" in plan.changes
    assert bumped == (store.kind == "file")
    writer.apply(plan)
    model = next(m for m in store.registered_models() if m.name == name)
    assert model.tags["reviewed-by"] == "vision"


def test_the_file_store_refuses_names_it_cannot_hold(tmp_path):
    store = open_store(store_path(copy_fixture("mlflow-3.17.2-file", tmp_path)))
    with pytest.raises(InvalidWriteError, match="file store refuses"):
        store.registry_writer().plan(CreateRegisteredModel("50%"))


def test_a_read_only_writer_refuses_before_validating(tmp_path):
    store = open_store(store_path(copy_fixture("mlflow-3.17.2-file", tmp_path)))
    with pytest.raises(ReadOnlyError):
        store.registry_writer(read_only=True).plan_set_alias("m", "latest", 1)


def test_a_store_hands_out_its_follower(tmp_path):
    store = open_store(store_path(copy_fixture("mlflow-3.17.2-file", tmp_path)))
    follower = store.follower(poll_seconds=0.5, since_ns=store.opened_ns)
    assert isinstance(follower, StoreFollower)
    assert (follower.mode, follower.since_ns) == ("polling", store.opened_ns)
    assert not follower.running
