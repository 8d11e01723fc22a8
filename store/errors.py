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


def as_sentence(clause: str) -> str:
    """A reason as a sentence: capital first, full stop last.

    The first word is capitalised only when it is a plain lowercase word: a file name or path
    (`mlflow.db`, `/data/mlruns`) or a name holding a dash, digit or underscore keeps its case.
    """
    clause = clause.strip()
    if not clause:
        return clause
    first = clause.split(maxsplit=1)[0].rstrip(",:;")
    if first.isalpha() and first.islower():
        clause = clause[0].upper() + clause[1:]
    return clause if clause.endswith(".") else clause + "."
