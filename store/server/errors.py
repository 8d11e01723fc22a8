"""What can go wrong talking to a tracking server, each as one sentence a person can act on."""

from __future__ import annotations

from ..errors import NotAStoreError, StoreError


class ServerError(StoreError):
    """The tracking server could not be reached, or answered with an error."""


class ServerUnreachable(ServerError, NotAStoreError):
    """Connection refused, DNS failure, TLS failure or the like: nothing was answered."""


class ServerTimeout(ServerError):
    """The server took longer than the timeout to answer."""


class ServerAuthError(ServerError):
    """401 or 403: the credentials (or the Host header) were refused."""


class EndpointMissing(ServerError):
    """404 of an endpoint: a server of an older MLflow (or not an MLflow server at all)."""


class NotFound(ServerError):
    """The server says the thing asked about does not exist (RESOURCE_DOES_NOT_EXIST)."""


class BadRequest(ServerError):
    """The server refused the request's parameters (INVALID_PARAMETER_VALUE and the like)."""


class ServerFailed(ServerError):
    """A 5xx answer, a truncated body or one that is not JSON."""
