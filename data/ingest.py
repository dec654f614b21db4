"""The push feed: the collector listens for a desk's own observations (`POST /ingest`).

For desks that have their own data (a Bloomberg or LSEG terminal, an internal tick feed). Off
unless CM_INGEST_PORT is set; it listens on CM_INGEST_HOST (127.0.0.1 by default) and every
request must carry `Authorization: Bearer <CM_INGEST_TOKEN>`. It runs inside the collector
process and stores through `Collector.ingest` — validation, the data-quality gate, source health
and the alert pipeline, as for any source — so the collector stays the store's one writer.

Answers (JSON):
    200  {"received": n, "stored": k, "held": h, "rejected": [reasons]}: the good rows are stored,
         each bad one is named with its reason (unknown series, bad timestamp, non-finite or
         out-of-range value, ahead of the clock);
    400  a malformed body (not JSON / CSV of series,ts,value, no observations): nothing stored;
    401  no or a wrong token (nothing read, nothing stored); 404 another path; 405 another method;
    411  no Content-Length; 413 a body over CM_MAX_BODY; 503 this process is not writing.
"""
from __future__ import annotations

import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from data.sources.push import parse_push
from errors import MalformedPayload, WritesClosed
from universe import Universe

__all__ = ["IngestServer", "PATH"]

log = logging.getLogger("contagion.ingest")

PATH = "/ingest"
SOURCE = "push"


class IngestServer:
    """The listener; `start()` binds and serves on a daemon thread, `stop()` closes it. The
    collector starts it once it holds the lease and stops it first at shutdown."""

    source = SOURCE

    def __init__(self, collector: Any, universe: Universe, *, token: str, host: str = "127.0.0.1",
                 port: int = 0, max_body: int = 1 << 20) -> None:
        if not token:
            raise ValueError("the push feed needs a token")
        self.collector = collector
        self.universe = universe
        self._token = token.encode()
        self.host, self.port, self.max_body = host, port, max_body
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"push feed listener on {self.host}:{self.port}"

    __str__ = __repr__

    def start(self) -> None:
        if self._httpd is not None:
            return
        handler = type("IngestHandler", (_Handler,), {"server_ref": self})
        self._httpd = ThreadingHTTPServer((self.host, self.port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        daemon=True, name="ingest")
        self._thread.start()
        log.info("push feed: POST http://%s:%d%s (Bearer token required)", self.host, self.port, PATH)

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.info("push feed stopped")

    def authorised(self, header: str | None) -> bool:
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token)

    def handle(self, body: bytes, content_type: str | None) -> tuple[int, dict]:
        """A body that passed auth and size → (HTTP status, answer)."""
        try:
            frame = parse_push(body, content_type, self.universe, self.collector.clock.now())
        except MalformedPayload as exc:
            log.warning("push feed: rejected a malformed body (%d bytes), nothing stored: %s", len(body), exc)
            return 400, {"error": str(exc), "stored": 0}
        received = len(frame) + len(frame.attrs.get("rejected", []))
        try:
            result = self.collector.ingest(SOURCE, frame)
        except WritesClosed as exc:
            return 503, {"error": f"not storing now: {exc}", "stored": 0}
        return 200, {"received": received, "stored": result.rows, "held": result.held, "rejected": result.rejected}


class _Handler(BaseHTTPRequestHandler):
    server_ref: IngestServer
    protocol_version = "HTTP/1.1"
    server_version = "contagion-ingest"
    sys_version = ""

    def log_message(self, fmt: str, *args) -> None:      # no request lines on stderr (nor the token)
        log.debug("push feed %s: " + fmt, self.client_address[0], *args)

    def _answer(self, status: int, doc: dict, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(raw)

    def _refuse_method(self) -> None:
        self._answer(405, {"error": f"{self.command} not allowed: POST {PATH}"}, {"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = _refuse_method

    def do_HEAD(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        srv = self.server_ref
        if self.path.split("?", 1)[0] != PATH:
            return self._answer(404, {"error": f"no such endpoint: POST {PATH}"})
        if not srv.authorised(self.headers.get("Authorization")):
            log.warning("push feed: refused a request from %s without a valid token", self.client_address[0])
            return self._answer(401, {"error": "a valid Bearer token is required (CM_INGEST_TOKEN)"},
                                {"WWW-Authenticate": 'Bearer realm="contagion-ingest"'})
        length = self.headers.get("Content-Length")
        if length is None or not length.strip().isdigit():
            return self._answer(411, {"error": "Content-Length required"})
        n = int(length)
        if n > srv.max_body:
            return self._answer(413, {"error": f"body of {n} bytes: at most {srv.max_body} (CM_MAX_BODY)"})
        body = self.rfile.read(n)
        try:
            status, doc = srv.handle(body, self.headers.get("Content-Type"))
        except Exception:     # a bug must answer, not hang the desk's client; the collector goes on
            log.exception("push feed: unexpected error")
            status, doc = 500, {"error": "internal error (see the collector's log)", "stored": 0}
        self._answer(status, doc)
