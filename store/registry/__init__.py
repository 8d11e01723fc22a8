"""Registry writes: typed operations planned and described, then applied through the store's
own backend (see writer.py)."""

from .backend import RegistryBackend
from .model import TAG_MODEL_VERSIONS, InvalidWriteError, RunModel, WritePlan, WriteResult
from .writer import RegistryWriter

__all__ = [
    "TAG_MODEL_VERSIONS",
    "InvalidWriteError",
    "RegistryBackend",
    "RegistryWriter",
    "RunModel",
    "WritePlan",
    "WriteResult",
]
