"""The release report's smoke table, for real: the Procfile's processes with production settings
against the real PostgreSQL and Redis."""

from __future__ import annotations

import re
import secrets
import subprocess
import time

import pytest
import requests

from tests.conftest import BASE_DIR, free_port, wait_http

pytestmark = pytest.mark.slow

HTTPS = {"X-Forwarded-Proto": "https"}  # what Heroku's router adds; production redirects without it


def test_release_web_worker_and_beat_pass_the_smoke_table(processes, live_env):
    port = free_port()
    prod = {
        "DJANGO_SETTINGS_MODULE": "practika_project.production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_SSLMODE": "disable",  # the local server has no TLS; Heroku's requires it
        "PORT": str(port),
        "SELF_CHECK_INTERVAL": "5",
        "WEB_CONCURRENCY": "2",
    }
    subprocess.run(
        [".venv/bin/python", "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR, env={**live_env, **prod}, check=True, timeout=120,
    )
    release = processes("release", **prod)
    assert release.popen.wait(120) == 0, release.output()
    web, worker, beat = (processes(name, **prod) for name in ("web", "worker", "beat"))
    base = f"http://127.0.0.1:{port}"

    assert wait_http(f"{base}/core/health/live/", timeout=60).json() == {"status": "ok"}
    health = None
    end = time.monotonic() + 90
    while time.monotonic() < end:
        health = requests.get(f"{base}/core/health/", timeout=10)
        if health.json()["status"] == "ok":
            break
        time.sleep(1)
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok", health.text
    assert {"database", "cache", "broker", "storage", "workers", "scheduler"} <= set(health.json()["checks"])

    home = requests.get(f"{base}/", headers=HTTPS, timeout=10)
    assert home.status_code == 200
    assert home.headers["X-Request-ID"] and home.headers["X-Content-Type-Options"] == "nosniff"

    videos = requests.get(f"{base}/core/api/videos/", headers=HTTPS, timeout=10)
    assert videos.status_code == 200
    assert set(videos.json()) >= {"count", "next", "previous", "results"}

    static_path = re.search(r'(/static/[^"\']+\.css)', home.text).group(1)
    static = requests.get(f"{base}{static_path}", headers=HTTPS, timeout=10)
    assert static.status_code == 200
    assert "max-age=315360000" in static.headers["Cache-Control"]

    for proc in (web, worker, beat):
        assert proc.stop(timeout=30) == 0, proc.output()[-3000:]
        assert proc.stopped_in is not None and proc.stopped_in < 30
        assert "Traceback" not in proc.output(), proc.output()
    assert "Traceback" not in release.output()
