"""mltui's data layer: MLflow file and SQLite stores, read directly. No Textual, no MLflow."""

from __future__ import annotations

from .artifacts import ArtifactEntry, ArtifactRoot
from .base import Store
from .errors import FilterError, NotAStoreError, ReadOnlyError, StoreError
from .locate import open_store

__all__ = [
    "ArtifactEntry",
    "ArtifactRoot",
    "FilterError",
    "NotAStoreError",
    "ReadOnlyError",
    "Store",
    "StoreError",
    "open_store",
]
