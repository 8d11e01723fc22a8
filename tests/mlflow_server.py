"""A real `mlflow server` for tests: started on 127.0.0.1 at a free port, killed at the end."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.postgres_server import free_port

#: MLflow's imports take most of a start: 10-25 s, more on a busy machine.
START_TIMEOUT = 180.0


def wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"mlflow server did not answer /health in {START_TIMEOUT} s")


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path, log: Path, workers: int = 1) -> Iterator[str]:
    """The URL of an `mlflow server` over `backend_uri` with `workers` worker processes (one
    for tests: each takes MLflow's imports to start), proxying artifacts stored in
    `artifacts`; every MLFLOW_* variable of ours is kept from it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", backend_uri,
                "--artifacts-destination", str(artifacts),
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            ],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        # Killed outright: a graceful stop waits for idle keep-alive connections to close.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class CountingProxy:
    """An HTTP proxy on loopback in front of a server that records each request it passes on
    as (path without the query, JSON body or None): what a client asked for, per endpoint.
    `hold(path, body)` may return an Event: the request waits for it before it is passed on.
    `edit_request(body)` and `edit_answer(data)` may change what is passed on either way;
    where `fail(path, body)` is true, the request is answered HTTP 500 and not passed on."""

    def __init__(self, target: str) -> None:
        upstream = urlsplit(target)
        proxy = self
        self.requests: list[tuple[str, object]] = []
        self.hold: Callable[[str, object], threading.Event | None] = lambda path, body: None
        self.edit_request: Callable[[bytes], bytes] = lambda body: body
        self.edit_answer: Callable[[bytes], bytes] = lambda data: data
        self.fail: Callable[[str, object], bool] = lambda path, body: False
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                try:
                    sent = json.loads(body) if body else None
                except ValueError:
                    sent = None
                path = self.path.split("?", 1)[0]
                with proxy._lock:
                    proxy.requests.append((path, sent))
                gate = proxy.hold(path, sent)
                if gate is not None:
                    gate.wait(120)
                if proxy.fail(path, sent):
                    self.answer(500, b'{"error_code": "INTERNAL_ERROR", "message": "failed"}', {})
                    return
                conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
                # http.client sets Content-Length from the body (edited or not).
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length")
                }
                if body:
                    body = proxy.edit_request(body)
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = proxy.edit_answer(answer.read())
                conn.close()
                self.answer(answer.status, data, dict(answer.getheaders()))

            def answer(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = forward

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def taken(self) -> list[tuple[str, object]]:
        """The requests recorded since the last call."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
