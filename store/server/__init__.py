"""The tracking-server backend: MLflow's REST API over HTTP(S), standard library only."""

from .http import ServerClient, is_server_uri, strip_credentials
from .store import ServerStore

__all__ = ["ServerClient", "ServerStore", "is_server_uri", "strip_credentials"]
