"""A loopback proxy in front of the BigQuery API emulator that misbehaves the way BigQuery can.

Every request is forwarded to `upstream`, except that the proxy refuses the query job whose SQL
starts with `refuse_query` with a 403 (`denied` is BigQuery's message), answers the one whose SQL
starts with `stall_query` as running, forever (never forwarded; its cancel is recorded), and presses
Ctrl-C (SIGINT to the main thread) once the query job whose SQL starts with `interrupt_after` ran,
before answering it. Serve it with `on_loopback(EmulatorProxy)`.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urlsplit


@contextmanager
def on_loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on a free loopback port in a thread; yields its endpoint."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class EmulatorProxy(BaseHTTPRequestHandler):
    """See the module docstring; its class variables are the switches and the records."""

    upstream: ClassVar[str] = ""
    refuse_query: ClassVar[str | None] = None
    denied: ClassVar[str] = "Access Denied"
    interrupt_after: ClassVar[str | None] = None
    stall_query: ClassVar[str | None] = None
    stalled: ClassVar[list[str]] = []  # the job ids of the stalled jobs
    cancelled: ClassVar[list[str]] = []
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _project(self) -> str:
        return self.path.split("/projects/")[-1].split("/")[0] if "/projects/" in self.path else ""

    def _running(self, job_id: str) -> bytes:
        return json.dumps({"jobReference": {"projectId": self._project(), "jobId": job_id, "location": "US"},
                           "status": {"state": "RUNNING"}, "configuration": {"query": {}}}).encode()

    def _stall(self, body: bytes) -> bool:
        """Whether the request is the stalled job's (answered here, never forwarded)."""
        path = self.path.split("?")[0]
        json_type = {"Content-Type": "application/json"}
        job_id = next((path.split(f"/{kind}/")[1].removesuffix("/cancel") for kind in ("jobs", "queries")
                       if f"/{kind}/" in path), "")
        if job_id in self.stalled:
            if path.endswith("/cancel"):
                type(self).cancelled.append(job_id)
                self._send(200, json_type, b'{"kind": "bigquery#jobCancelResponse", "job": ' + self._running(job_id) + b"}")
            elif "/queries/" in path:  # getQueryResults: not complete yet
                reference = {"projectId": self._project(), "jobId": job_id, "location": "US"}
                self._send(200, json_type, json.dumps({"jobReference": reference, "jobComplete": False}).encode())
            else:
                self._send(200, json_type, self._running(job_id))
            return True
        sql = self._query(body)
        if sql is not None and self.stall_query is not None and sql.startswith(self.stall_query):
            job_id = json.loads(body)["jobReference"]["jobId"]
            type(self).stalled.append(job_id)
            self._send(200, json_type, self._running(job_id))
            return True
        return False

    def _query(self, body: bytes) -> str | None:
        """The SQL of a query job being inserted."""
        if self.command != "POST" or not body:
            return None
        query = json.loads(body).get("configuration", {}).get("query")
        return None if query is None else str(query["query"])

    def _refuse(self) -> None:
        error = {"error": {"code": 403, "message": self.denied,
                           "errors": [{"reason": "accessDenied", "message": self.denied}]}}
        self._send(403, {"Content-Type": "application/json"}, json.dumps(error).encode())

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if self._stall(body):
            return
        sql = self._query(body)
        if sql is not None and self.refuse_query is not None and sql.startswith(self.refuse_query):
            self._refuse()
            return
        interrupt = sql is not None and self.interrupt_after is not None and sql.startswith(self.interrupt_after)
        target = urlsplit(self.upstream)
        connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        connection.request(self.command, self.path, body=body or None, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        kept = {k: v for k, v in answer.getheaders()
                if k.lower() not in ("transfer-encoding", "connection", "content-length")}
        if interrupt:  # the job ran; the client is waiting for its answer when Ctrl-C comes
            type(self).interrupt_after = None
            main = threading.main_thread().ident
            assert main is not None
            signal.pthread_kill(main, signal.SIGINT)
        self._send(answer.status, kept, data)
        connection.close()

    def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward
