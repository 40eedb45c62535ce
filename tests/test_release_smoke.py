"""The release report's smoke table, for real: the Procfile's processes with production settings
against the real PostgreSQL and Redis."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.conftest import BASE_DIR, free_port, wait_http

pytestmark = pytest.mark.slow

HTTPS = {"X-Forwarded-Proto": "https"}  # what Heroku's router adds; production redirects without it


def test_release_web_worker_and_beat_pass_the_smoke_table(processes, production_env):
    port = free_port()
    prod = {**production_env, "PORT": str(port), "SELF_CHECK_INTERVAL": "5", "WEB_CONCURRENCY": "2"}
    release = processes("release", **prod)
    assert release.popen.wait(120) == 0, release.output()
    web, worker, beat = (processes(name, **prod) for name in ("web", "worker", "beat"))
    base = f"http://127.0.0.1:{port}"

    assert wait_http(f"{base}/core/health/live/", timeout=60).json() == {"status": "ok"}
    # The release report's table, as operators run it: every row, every health check, ok.
    smoke = subprocess.run(
        [sys.executable, "bin/smoke", base, "--wait", "90"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=150,
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    for row in ("/core/health/", "workers", "scheduler", "/core/api/videos/", "static"):
        assert row in smoke.stdout

    home = requests.get(f"{base}/", headers=HTTPS, timeout=10)
    assert home.headers["X-Request-ID"] and home.headers["X-Content-Type-Options"] == "nosniff"

    for proc in (web, worker, beat):
        assert proc.stop(timeout=30) == 0, proc.output()[-3000:]
        assert proc.stopped_in is not None and proc.stopped_in < 30
        assert "Traceback" not in proc.output(), proc.output()
    assert "Traceback" not in release.output()
