"""Security headers on every response, in development and under production settings."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.conftest import BASE_DIR, free_port, wait_http

PATHS = [
    "/", "/accounts/login/", "/accounts/signup/", "/videos/upload/", "/no-such-page/", "/admin/login/",
    "/core/health/", "/core/health/live/", "/core/api/videos/", "/core/api/no-such-endpoint/",
    "/core/api/schema/", "/media/videos/nope/original.mp4", "/static/pages/practika.css",
]


def assert_safe_headers(path: str, headers) -> None:
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "same-origin", path
    if not path.startswith("/static/"):  # WhiteNoise answers first; frame-ancestors covers these
        assert headers.get("X-Frame-Options") == "DENY", path
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp, path
    assert headers.get("X-Request-ID"), path


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_the_security_headers(client, path):
    assert_safe_headers(path, client.get(path).headers)


@pytest.mark.slow
def test_production_adds_hsts_and_keeps_every_header(processes, live_env, tmp_path):
    port = free_port()
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.faults.prod_settings",
        "FAULTS_STATIC_ROOT": str(tmp_path / "static"),
        "SECRET_KEY": "faults-production-secret-key-" + "x" * 40,
        "DATABASE_SSLMODE": "disable",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
    }
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=BASE_DIR,
                   env={**live_env, **env}, check=True, timeout=300)
    web = processes("web", **env)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/core/health/live/", timeout=60)
    # Heroku's router terminates TLS and says so; without the header production redirects.
    assert requests.get(base + "/", allow_redirects=False, timeout=10).status_code == 301
    for path in PATHS:
        response = requests.get(base + path, headers={"X-Forwarded-Proto": "https"}, allow_redirects=False,
                                timeout=10)
        assert response.status_code < 500, (path, response.status_code, web.output()[-3000:])
        assert_safe_headers(path, response.headers)
        hsts = response.headers.get("Strict-Transport-Security", "")
        assert "max-age=31536000" in hsts and "includeSubDomains" in hsts, path
