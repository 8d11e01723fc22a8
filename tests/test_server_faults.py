"""A network is not a disk: each failure of a tracking server, met on a real loopback peer (a
tiny HTTP server or TCP proxy in the test), becomes one clear sentence, retried when safe."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mltui.store import StoreError
from mltui.store.server import ServerClient, ServerStore
from mltui.store.server.errors import (
    EndpointMissing,
    ServerAuthError,
    ServerFailed,
    ServerTimeout,
    ServerUnreachable,
)

EXPERIMENTS = {"experiments": [{"experiment_id": "1", "name": "e", "lifecycle_stage": "active"}]}


def run_json(run_id: str) -> dict:
    return {"info": {"run_id": run_id, "experiment_id": "1", "status": "FINISHED"}, "data": {}}


class Peer:
    """A tiny HTTP server: `answer(handler)` returns (status, headers, body) per request."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict, bytes]]):
        peer = self
        self.requests: list[tuple[str, str, dict]] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                peer.requests.append((self.command, self.path, dict(self.headers)))
                status, headers, body = answer(self)
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = handle_one

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def peer_with():
    peers: list[Peer] = []

    def make(answer) -> Peer:
        peers.append(Peer(answer))
        return peers[-1]

    yield make
    for p in peers:
        p.close()


def json_answer(value: dict, status: int = 200) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def test_401_names_the_variables_and_never_the_credentials(peer_with):
    peer = peer_with(lambda h: (401, {}, b"Unauthorized"))
    secret_url = peer.url.replace("http://", "http://alice:s3cret@")
    with pytest.raises(ServerAuthError) as caught:
        ServerStore(secret_url)
    message = str(caught.value)
    assert "401" in message and "MLFLOW_TRACKING_USERNAME" in message
    assert "s3cret" not in message and "alice" not in message
    sent = peer.requests[0][2]
    assert sent["Authorization"].startswith("Basic ")
    client = ServerClient(secret_url)
    assert "s3cret" not in repr(client) and "s3cret" not in client.location


def test_token_is_sent_as_bearer(peer_with):
    peer = peer_with(lambda h: json_answer(EXPERIMENTS))
    ServerClient(peer.url, env={"MLFLOW_TRACKING_TOKEN": "tok"}).get_json("/x")
    assert peer.requests[0][2]["Authorization"] == "Bearer tok"


def test_403_of_the_host_check_hints_at_allowed_hosts(peer_with):
    body = b"Invalid Host header - possible DNS rebinding attack detected"
    peer = peer_with(lambda h: (403, {"Content-Type": "text/plain"}, body))
    with pytest.raises(ServerAuthError, match=r"--allowed-hosts.*MLFLOW_SERVER_ALLOWED_HOSTS"):
        ServerStore(peer.url)


def test_500_is_one_sentence_with_the_servers_message(peer_with):
    error = {"error_code": "INTERNAL_ERROR", "message": "database is locked"}
    peer = peer_with(lambda h: json_answer(error, 500))
    with pytest.raises(ServerFailed, match=r"HTTP 500: database is locked\.$"):
        ServerStore(peer.url)


def test_404_of_an_endpoint_says_the_server_is_too_old(peer_with):
    peer = peer_with(lambda h: (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"))
    with pytest.raises(EndpointMissing, match="older MLflow"):
        ServerStore(peer.url)


def test_truncated_and_non_json_bodies(peer_with):
    def answer(handler):
        if "experiments" in handler.path:
            return json_answer(EXPERIMENTS)
        # Says 1000 bytes, sends 20, then closes: a server or proxy that died mid-answer.
        handler.close_connection = True
        return 200, {"Content-Length": "1000"}, b'{"runs": [{"info": '

    peer = peer_with(answer)
    store = ServerStore(peer.url)
    with pytest.raises(ServerFailed, match="cut its answer"):
        store.runs()
    html = peer_with(lambda h: (200, {"Content-Type": "text/html"}, b"<html>login</html>"))
    with pytest.raises(ServerFailed, match="other than JSON"):
        ServerStore(html.url)


def test_refused_and_dns_failure():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ServerUnreachable, match="refused the connection"):
        ServerStore(f"http://127.0.0.1:{port}")
    with pytest.raises(ServerUnreachable, match="DNS"):
        ServerStore("http://no-such-host.invalid:5000")


def test_server_killed_mid_listing_keeps_the_first_page_and_says_so(peer_with):
    killed = threading.Event()

    def answer(handler):
        if "experiments" in handler.path:
            return json_answer(EXPERIMENTS)
        handler.close_connection = True
        killed.set()
        return json_answer({"runs": [run_json("a"), run_json("b")], "next_page_token": "t"})

    peer = peer_with(answer)
    store = ServerStore(peer.url)
    batches = store.iter_runs()
    assert [r.run_id for r in next(batches)] == ["a", "b"]
    assert killed.wait(10)
    peer.close()
    with pytest.raises(ServerUnreachable, match="refused the connection"):
        next(batches)


def test_transient_503_is_retried_for_reads_only(peer_with):
    failures = iter([503, 503])

    def answer(handler):
        status = next(failures, 200)
        return json_answer(EXPERIMENTS if status == 200 else {}, status)

    peer = peer_with(answer)
    client = ServerClient(peer.url, backoff=(0.01, 0.01, 0.01))
    assert client.get_json("/api/2.0/mlflow/experiments/search")["experiments"]
    assert client.traffic.retries == 2 and len(peer.requests) == 3
    write = peer_with(lambda h: json_answer({}, 503))
    client = ServerClient(write.url, backoff=(0.01, 0.01, 0.01))
    with pytest.raises(ServerFailed, match="503"):
        client.post_json("/api/2.0/mlflow/registered-models/create", {}, idempotent=False)
    assert len(write.requests) == 1  # a write is never sent twice unchecked


class SlowProxy:
    """A TCP proxy on loopback that waits `delay` seconds before passing each answer on."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.delay = delay
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, 0), daemon=True).start()
            args = (upstream, client, self.delay)
            threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while data := source.recv(65536):
                if delay and self.stopped.wait(delay):
                    return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                s.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def test_slow_responses_time_out_with_one_sentence_and_pass_when_patient(peer_with):
    peer = peer_with(lambda h: json_answer(EXPERIMENTS))
    port = int(peer.url.rsplit(":", 1)[1])
    proxy = SlowProxy(port, delay=1.0)
    try:
        impatient = ServerClient(proxy.url, timeout=0.2)
        with pytest.raises(ServerTimeout, match=r"did not answer .* within 0\.2 s"):
            impatient.get_json("/api/2.0/mlflow/experiments/search")
        patient = ServerClient(proxy.url, timeout=30)
        assert patient.get_json("/api/2.0/mlflow/experiments/search") == EXPERIMENTS
    finally:
        proxy.close()


def test_every_error_is_a_store_error_with_one_line():
    for error in (ServerAuthError, ServerFailed, ServerTimeout, ServerUnreachable, EndpointMissing):
        assert issubclass(error, StoreError)


def test_keep_alive_reuses_one_connection(peer_with):
    peer = peer_with(lambda h: json_answer(EXPERIMENTS))
    client = ServerClient(peer.url)
    ports = set()
    for _ in range(3):
        client.get_json("/api/2.0/mlflow/experiments/search")
        ports.add(client._local.conn.sock.getsockname()[1])
    assert len(ports) == 1


def test_a_write_whose_answer_was_lost_is_checked_not_sent_again(peer_with):
    """The server applied the tag but the connection dropped before its answer: the registry
    is read again, the tag is there, and the write is not repeated."""
    from mltui.store.registry import RegistryWriter

    tags: dict[str, str] = {}
    writes = []

    def answer(handler):
        path = handler.path
        if "experiments/search" in path:
            return json_answer(EXPERIMENTS)
        if "registered-models/get" in path:
            model = {"name": "m", "tags": [{"key": k, "value": v} for k, v in tags.items()]}
            return json_answer({"registered_model": model})
        if "model-versions/search" in path:
            return json_answer({"model_versions": []})
        if "registered-models/set-tag" in path:
            body = json.loads(handler.body)
            tags[body["key"]] = body["value"]
            writes.append(body)
            handler.close_connection = True
            raise ConnectionAbortedError  # applied, then the answer is lost
        return json_answer({}, 404)

    peer = peer_with(answer)
    store = ServerStore(peer.url)
    writer = RegistryWriter(store)
    writer.apply(writer.plan_set_model_tag("m", "team", "growth"))
    assert tags == {"team": "growth"} and len(writes) == 1


@pytest.mark.anyio
async def test_the_app_keeps_what_it_showed_and_says_what_failed(peer_with):
    """The server dies after the first page of runs: those rows stay on screen, and one notice
    says what failed."""
    from textual.widgets import DataTable

    from mltui.tui.app import MltuiApp
    from mltui.tui.widgets.runs_table import RunsTable
    from tests.tui.helpers import record_notices, settle

    def answer(handler):
        if "experiments" in handler.path:
            return json_answer(EXPERIMENTS)
        if json.loads(handler.body).get("page_token"):  # every second page fails
            return json_answer({"error_code": "INTERNAL_ERROR", "message": "disk on fire"}, 500)
        page = {"runs": [run_json("a"), run_json("b")], "next_page_token": "t"}
        return json_answer(page)

    peer = peer_with(answer)
    app = MltuiApp(ServerStore(peer.url), watch=False)
    notices = record_notices(app)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        # The experiments stay listed; their run counts could not all be read, and it says so.
        experiments = app.screen.query_one("#experiments-table", DataTable)
        assert experiments.row_count == 1
        assert any("disk on fire" in n for n in notices)
        notices.clear()
        app.open_runs(["1"])
        await settle(pilot)
        table = app.screen.query_one("#runs-table", RunsTable)
        assert table.row_count == 2
        assert any("disk on fire" in n for n in notices)
