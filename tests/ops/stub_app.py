"""A local HTTP server that answers the smoke test's URLs like a healthy (or broken) Practika.

bin/smoke's own test runs against the real app; the deploy script's test only needs something
at the app's web_url that passes or fails on demand.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATIC = "/static/app.3f2a9c1b.css"


class StubApp:
    def __init__(self) -> None:
        self.healthy = True
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                ok = stub.healthy
                if self.path == "/":
                    self.send(200, f'<link rel="stylesheet" href="{STATIC}">'.encode(), "text/html")
                elif self.path == "/core/health/":
                    checks = {"database": {"ok": True, "latency_ms": 1.0},
                              "workers": {"ok": ok, "latency_ms": 2.0, **({} if ok else {"error": "no worker"})}}
                    body = {"status": "ok" if ok else "degraded", "version": "x", "checks": checks}
                    self.send(200, json.dumps(body).encode(), "application/json")
                elif self.path == "/core/health/live/":
                    self.send(200, b'{"status": "ok"}', "application/json")
                elif self.path == "/core/api/videos/":
                    body = {"count": 0, "next": None, "previous": None, "results": []}
                    self.send(200, json.dumps(body).encode(), "application/json")
                elif self.path == STATIC:
                    self.send(200, b"body{}", "text/css", Cache_Control="max-age=315360000, public, immutable")
                else:
                    self.send(404, b"{}", "application/json")

        return Handler
