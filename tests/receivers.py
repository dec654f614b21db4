"""A local JSON receiver for notification tests: an http.server on 127.0.0.1 that records every
POST (path and JSON body) and can answer the first N with 503 (to exercise retries)."""
from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class JsonReceiver:
    port: int
    got: list[dict] = field(default_factory=list)
    fail_first: dict = field(default_factory=lambda: {"n": 0})   # answer this many POSTs with 503


@contextlib.contextmanager
def json_receiver() -> Iterator[JsonReceiver]:
    rec = JsonReceiver(port=0)

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(n) or b"{}")
            if rec.fail_first["n"] > 0:
                rec.fail_first["n"] -= 1
                self.send_response(503)
            else:
                rec.got.append({"path": self.path, "body": body})
                self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    rec.port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield rec
    finally:
        srv.shutdown()
        srv.server_close()
