"""Test helpers for the self-checks: a local HTTP server standing in for the alert webhook, and a
Redis server of our own that a test may stop and start (never the shared one)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis

from tests.conftest import free_port, need


class Webhook:
    """Records every JSON body POSTed to it; answers `statuses` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict] = []
        self.attempts = 0
        self.statuses = list(statuses or [])
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.attempts += 1
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.bodies.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


class OwnRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("our redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    need("redis-server at /usr/bin/redis-server", Path("/usr/bin/redis-server").exists())
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stopping(processes):
    """`processes`, but what it started is stopped with SIGTERM at the end of the test: the
    fixture's SIGKILL would leave a `worker`'s Celery nodes running (each has a session of its
    own), consuming this test database's queues long after the test."""
    started = []

    def start(name: str, command: str | None = None, **env: str):
        proc = processes(name, command, **env)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):  # beat before the worker it feeds
        proc.stop(timeout=30)
        # Shown by pytest only when the test failed.
        print(f"--- {proc.name} (exit {proc.popen.returncode}) ---\n{proc.output()[-3000:]}")


def wait_consumers(*queues: str, timeout: float = 40) -> None:
    """Until some worker answers for each queue (a node is up and consuming)."""
    from domain.health.checks import queue_consumers

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        consuming = {q for qs in queue_consumers(timeout=0.5).values() for q in qs}
        if set(queues) <= consuming:
            return
    raise AssertionError(f"no worker consumed {queues} within {timeout} s")
