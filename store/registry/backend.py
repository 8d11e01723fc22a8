"""The protocol a backend's registry writer implements (snapshot one model; run a write inside
the backend's own transaction or compare-and-swap), and helpers every local backend uses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from .model import ModelSnapshot, Mutation


class RegistryBackend:
    """How one backend snapshots a registered model and applies a write's mutations."""

    kind: str
    #: Whether the backend's MLflow store bumps the model's last-updated time when a tag or
    #: alias is set or deleted (FileStore.set_registered_model_tag does; the SQL store does not).
    tag_writes_bump_model = False

    def check_model_name(self, name: str) -> None:
        """Raise InvalidWriteError for a name this backend cannot hold (beyond MLflow's rules)."""

    def refusal(self) -> str | None:
        raise NotImplementedError

    def refusal_for(self, mutations: list[Mutation]) -> str | None:
        return None

    def snapshot(self, name: str) -> ModelSnapshot:
        raise NotImplementedError

    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        """Snapshot, build the mutations, write them; (timestamp, created version)."""
        raise NotImplementedError


class RefusingBackend(RegistryBackend):
    """The registry of a store mltui does not write to: `refusal` says why, before anything is
    read."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason

    def refusal(self) -> str | None:
        return self.reason


def writable(path: Path) -> bool:
    """Writable by us, and not marked read-only by its owner.

    Root passes `os.access` on any local file; a file or folder with no write bit at all is
    still taken as the owner's wish that it stay unchanged.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def nearest_existing(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def model_versions_tag(current: str | None, name: str, version: int) -> str:
    entries: list[Any] = []
    if current:
        try:
            loaded = json.loads(current)
            if isinstance(loaded, list):
                entries = loaded
        except ValueError:
            entries = []
    # json.dumps with default separators, version as a number: what the fluent API writes.
    return json.dumps([*entries, {"name": name, "version": int(version)}])
