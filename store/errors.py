"""Errors the store raises; each carries one sentence a person can act on."""

from __future__ import annotations


class StoreError(Exception):
    """Something about the store could not be read or written."""


class NotAStoreError(StoreError):
    """The path or URI does not name a local MLflow store."""


class StoreLocked(StoreError):
    """A writer held the database's lock for longer than a reader waits for it."""


class FilterError(StoreError, ValueError):
    """A filter or order-by expression is not valid MLflow search syntax."""


class ReadOnlyError(StoreError):
    """A write was refused: the store is read-only or its format is not one we write."""
