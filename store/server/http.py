"""A small HTTP client for MLflow's REST API, on the standard library.

Keep-alive connections (one per thread), a timeout on every request, retries with back-off for
transient failures of reads, and authentication as MLflow's own client takes it from the
environment. Credentials never appear in a message, a repr or a log line: only `location`
(the URL without user or password) is ever named.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

from ..errors import as_sentence
from .errors import (
    BadRequest,
    EndpointMissing,
    NotFound,
    ServerAuthError,
    ServerError,
    ServerFailed,
    ServerTimeout,
    ServerUnreachable,
)

#: MLflow's client reads its timeout from this variable, 120 s by default, as ours: a large
#: listing from a file-store-backed server takes tens of seconds.
TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"
DEFAULT_TIMEOUT = 120.0
#: Statuses worth asking again after a pause (MLflow's client retries the same ones, and 500).
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
#: Pauses before each retry of a read; a Retry-After header is honoured up to MAX_PAUSE.
BACKOFF = (0.25, 0.5, 1.0, 2.0)
MAX_PAUSE = 10.0
#: Failures of a kept-alive connection that the server closed meanwhile: ask again at once.
STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)
HOST_HINT = (
    "; the server checks the Host header: start it with --allowed-hosts (or set "
    "MLFLOW_SERVER_ALLOWED_HOSTS) to include the host name used here"
)


def is_server_uri(target: str) -> bool:
    """True for an http(s):// URL, which names a tracking server."""
    return target.split(":", 1)[0].lower() in ("http", "https") and "://" in target


def strip_credentials(url: str) -> str:
    """The URL without user:password@ (shown and used as the store's location)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


@dataclass(slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    #: The body was cut at the caller's limit (the rest was never read).
    cut: bool = False


@dataclass(slots=True)
class Traffic:
    """Requests made and bytes received, for measurements (benchmarks, tests)."""

    requests: int = 0
    bytes_received: int = 0
    retries: int = 0


class ServerClient:
    """Talks to one tracking server; safe to use from several threads at once."""

    def __init__(
        self,
        url: str,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        env = os.environ if env is None else env
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ServerUnreachable(f"{strip_credentials(url)} is not an http(s)://host URL.")
        self.location = strip_credentials(url)
        self.scheme = scheme
        self.host = parts.hostname
        try:
            self.port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise ServerUnreachable(f"{url.split('@')[-1]}: the port is not a number.") from None
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout if timeout is not None else _timeout_from(env)
        self.backoff = backoff
        self.traffic = Traffic()
        self._authorization = _authorization(env, parts.username, parts.password)
        self._tls = _tls_context(env) if scheme == "https" else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []

    def __repr__(self) -> str:
        return f"ServerClient({self.location!r})"

    # -- JSON endpoints ----------------------------------------------------------------------
    def get_json(self, endpoint: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET `endpoint` (e.g. "/api/2.0/mlflow/runs/get") with query `params`."""
        query = urlencode(_query_pairs(params or {}), doseq=True)
        path = endpoint + ("?" + query if query else "")
        return self._json(endpoint, self.request("GET", path, endpoint=endpoint))

    def post_json(
        self,
        endpoint: str,
        body: Mapping[str, Any],
        *,
        idempotent: bool = True,
        method: str = "POST",
    ) -> dict[str, Any]:
        """Send a JSON body (POST, or PATCH/DELETE as MLflow's writes take it); `idempotent`
        (a search) may be retried, a write never is: its caller checks first."""
        data = json.dumps(body).encode("utf-8")
        response = self.request(
            method, endpoint, body=data, endpoint=endpoint, idempotent=idempotent
        )
        return self._json(endpoint, response)

    def _json(self, endpoint: str, response: Response) -> dict[str, Any]:
        self.raise_for_status(endpoint, response)
        try:
            value = json.loads(response.body)
        except ValueError:
            raise ServerFailed(
                f"{self.location} answered {endpoint} with something other than JSON "
                f"({len(response.body)} bytes); is it an MLflow tracking server?"
            ) from None
        if not isinstance(value, dict):
            raise ServerFailed(f"{self.location} answered {endpoint} with unexpected JSON.")
        return value

    def raise_for_status(self, endpoint: str, response: Response) -> None:
        """An error for any status but 2xx, as one sentence."""
        status = response.status
        if 200 <= status < 300:
            return
        code, message = _error_of(response.body)
        where = f"{self.location} ({endpoint})"
        if status == 401:
            raise ServerAuthError(
                f"{where} answered 401 Unauthorized: set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN."
            )
        if status == 403:
            text = message or response.body[:200].decode("utf-8", "replace")
            hint = HOST_HINT if "host" in text.lower() else ""
            raise ServerAuthError(as_sentence(f"{where} answered 403 Forbidden: {text}{hint}"))
        if code == "RESOURCE_DOES_NOT_EXIST" or (status == 404 and code):
            raise NotFound(as_sentence(message or f"{where}: not found"))
        if status == 404:
            raise EndpointMissing(
                f"{where} answered 404: this server does not offer that endpoint (an older "
                "MLflow, or not an MLflow tracking server)."
            )
        if status in (400, 409, 422) or code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
            raise BadRequest(as_sentence(message or f"{where} refused the request ({status})"))
        detail = f": {message}" if message else ""
        raise ServerFailed(as_sentence(f"{where} failed with HTTP {status}{detail}"))

    # -- raw requests ------------------------------------------------------------------------
    def url_path(self, path: str) -> str:
        """`path` below the server's prefix, quoted as a URL path."""
        return self.prefix + quote(path, safe="/?&=%:@")

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        endpoint: str | None = None,
        idempotent: bool = True,
        limit: int | None = None,
    ) -> Response:
        """One request (retried when it is safe to), answered with any status.

        `limit`: read at most this many bytes of the body (the connection is then dropped).
        """
        endpoint = endpoint or path.split("?", 1)[0]
        all_headers = {"Accept": "application/json", "User-Agent": "mltui"}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        if self._authorization:
            all_headers["Authorization"] = self._authorization
        all_headers.update(headers or {})
        pauses = list(self.backoff) if idempotent else []
        fresh_retry = idempotent
        while True:
            try:
                response = self._once(method, self.url_path(path), body, all_headers, limit)
            except STALE_CONNECTION as exc:
                self._drop()
                if fresh_retry:  # the server closed an idle connection: one immediate retry
                    fresh_retry = False
                    self.traffic.retries += 1
                    continue
                if pauses:
                    self._pause(pauses.pop(0))
                    continue
                raise ServerUnreachable(
                    f"{self.location} closed the connection during {endpoint} "
                    f"({_reason(exc)}); is the server still running?"
                ) from None
            except TimeoutError:
                self._drop()
                raise ServerTimeout(
                    f"{self.location} did not answer {endpoint} within {self.timeout:g} s "
                    f"(set {TIMEOUT_VARIABLE} to wait longer)."
                ) from None
            except http.client.IncompleteRead as exc:
                self._drop()
                raise ServerFailed(
                    f"{self.location} cut its answer to {endpoint} short ({len(exc.partial)} "
                    "bytes received); the server or a proxy between may have failed."
                ) from None
            except ssl.SSLError as exc:
                self._drop()
                raise ServerUnreachable(
                    f"TLS with {self.location} failed: {_reason(exc)} (see "
                    "MLFLOW_TRACKING_SERVER_CERT_PATH and MLFLOW_TRACKING_INSECURE_TLS)."
                ) from None
            except socket.gaierror:
                self._drop()
                raise ServerUnreachable(
                    f"cannot find the host {self.host} (DNS lookup failed) for {self.location}."
                ) from None
            except ConnectionRefusedError:
                self._drop()
                raise ServerUnreachable(
                    f"{self.location} refused the connection; is `mlflow server` running there?"
                ) from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise ServerUnreachable(
                    f"cannot talk to {self.location} ({endpoint}): {_reason(exc)}."
                ) from None
            if response.status in TRANSIENT_STATUSES and pauses:
                self.traffic.retries += 1
                self._pause(pauses.pop(0), response.headers.get("retry-after"))
                continue
            return response

    def _once(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        limit: int | None,
    ) -> Response:
        conn = self._connection()
        conn.request(method, url, body=body, headers=dict(headers))
        raw = conn.getresponse()
        with self._lock:
            self.traffic.requests += 1
        self._local.requests = self.thread_requests() + 1
        data = raw.read() if limit is None else raw.read(limit)
        cut = limit is not None and not raw.isclosed()
        if cut or raw.will_close:
            self._drop()  # an unread body cannot share the connection with the next request
        with self._lock:
            self.traffic.bytes_received += len(data)
        headers_out = {k.lower(): v for k, v in raw.getheaders()}
        return Response(raw.status, headers_out, data, cut)

    def thread_requests(self) -> int:
        """Requests sent from the calling thread (a follower bounds its own rate by them)."""
        return getattr(self._local, "requests", 0)

    def count_for_thread(self, requests: int = 1) -> None:
        """Count requests sent by a pool on the calling thread's behalf as its own."""
        self._local.requests = self.thread_requests() + requests

    def _pause(self, seconds: float, retry_after: str | None = None) -> None:
        if retry_after:
            with contextlib.suppress(ValueError):
                seconds = max(seconds, min(float(retry_after), MAX_PAUSE))
        time.sleep(seconds)

    # -- connections -------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._tls is not None:
                conn = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=self._tls
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)

    def close(self) -> None:
        """Close every kept-alive connection (of every thread)."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


def _query_pairs(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            pairs.extend((key, v) for v in value)
        elif isinstance(value, bool):
            pairs.append((key, "true" if value else "false"))
        else:
            pairs.append((key, value))
    return pairs


def _error_of(body: bytes) -> tuple[str | None, str | None]:
    """MLflow's error JSON: (error_code, message); (None, None) for anything else."""
    try:
        value = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(value, dict):
        return None, None
    code, message = value.get("error_code"), value.get("message")
    return (str(code) if code else None), (str(message).strip() if message else None)


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _timeout_from(env: Mapping[str, str]) -> float:
    raw = env.get(TIMEOUT_VARIABLE, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        value = DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _authorization(env: Mapping[str, str], user: str | None, password: str | None) -> str | None:
    """The Authorization header MLflow's client would send: basic from the variables (or the
    URL's user:password), else a bearer token."""
    user = env.get("MLFLOW_TRACKING_USERNAME") or (unquote(user) if user else None)
    password = env.get("MLFLOW_TRACKING_PASSWORD") or (unquote(password) if password else None)
    if user and password:
        pair = f"{user}:{password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")
    token = env.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return f"Bearer {token}"
    return None


def _tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    insecure = env.get("MLFLOW_TRACKING_INSECURE_TLS", "").strip().lower() in ("true", "1")
    cafile = env.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None
    try:
        context = ssl.create_default_context(cafile=None if insecure else cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ServerError(
            f"cannot load MLFLOW_TRACKING_SERVER_CERT_PATH={cafile}: {_reason(exc)}."
        ) from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    client_cert = env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
    if client_cert:
        try:
            context.load_cert_chain(client_cert)  # one file holding the certificate and key
        except (OSError, ssl.SSLError) as exc:
            raise ServerError(
                f"cannot load the client certificate MLFLOW_TRACKING_CLIENT_CERT_PATH="
                f"{client_cert}: {_reason(exc)}."
            ) from None
    return context
