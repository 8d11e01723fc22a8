"""Everything about a SQLite store, `mlflow.db`: reading it, following it, writing its model
registry, and checking its registry schema."""

from .reader import SqliteStore

__all__ = ["SqliteStore"]
