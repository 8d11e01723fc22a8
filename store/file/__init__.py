"""Everything about the file store, an `mlruns/` folder: reading it, following it, writing its
model registry, and its caches."""

from .reader import FileStore

__all__ = ["FileStore"]
