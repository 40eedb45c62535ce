"""rediss:// with a self-signed certificate, as Heroku Redis serves it, against a real TLS Redis."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
import redis

from tests.conftest import BASE_DIR, free_port, need
from tests.practika_project.test_settings import CLEAN, PROD

USE_BOTH = """
import django
django.setup()
from domain.health.checks import check_broker, check_cache
check_cache()
check_broker()
print("cache and broker answered over TLS")
"""


@pytest.fixture
def tls_redis(tmp_path):
    need("redis-server and openssl", bool(shutil.which("redis-server") and shutil.which("openssl")))
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=redis.internal", "-keyout", key, "-out", cert],
        check=True, capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert,
         "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_cert_reqs=None)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield f"rediss://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def test_production_uses_a_self_signed_rediss_for_cache_and_broker(tls_redis):
    result = subprocess.run(
        [sys.executable, "-c", USE_BOTH],
        cwd=BASE_DIR,
        env={**CLEAN, "DJANGO_SETTINGS_MODULE": "practika_project.production", "REDIS_URL": tls_redis, **PROD},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "cache and broker answered over TLS" in result.stdout
