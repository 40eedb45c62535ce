"""Both settings modules, parsed in fresh interpreters with a controlled environment."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import BASE_DIR

DUMP = """
import json, django
from django.conf import settings
django.setup()
from practika_project.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "options": db.get("OPTIONS", {}), "conn_max_age": db.get("CONN_MAX_AGE"),
    "health_checks": db.get("CONN_HEALTH_CHECKS", False),
    "cache": settings.CACHES["default"]["BACKEND"], "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
    "broker": app.conf.broker_url, "broker_ssl": str(app.conf.broker_use_ssl),
    "debug": settings.DEBUG, "static": settings.STORAGES["staticfiles"]["BACKEND"],
    "media": settings.STORAGES["default"]["BACKEND"],
    "proxies": settings.REST_FRAMEWORK["NUM_PROXIES"], "login_limit": settings.AXES_FAILURE_LIMIT,
    "site_url": settings.SITE_URL,
}))
"""

UNSET = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "SITE_URL")
CLEAN = {k: v for k, v in os.environ.items() if k not in UNSET}


def run(module: str, code: str = DUMP, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**CLEAN, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(module: str, **env: str) -> dict:
    result = run(module, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


PROD = {"SECRET_KEY": secrets.token_urlsafe(50)}
PG = "postgres://postgres@127.0.0.1:5432/practika"


def test_development_needs_no_service():
    s = settings_of("practika_project.settings")
    assert s["engine"] == "django.db.backends.sqlite3"
    assert "sslmode" not in s["options"]
    assert s["cache"].endswith("FileBasedCache")
    assert s["broker"].startswith("filesystem://")
    assert s["debug"] is True
    assert s["site_url"] == "http://127.0.0.1:8000", "where make run answers"


def test_the_site_url_is_never_guessed_in_production():
    assert settings_of("practika_project.production", **PROD)["site_url"] == "", "not the development address"
    given = settings_of("practika_project.production", **PROD, SITE_URL="https://practika.example.org")
    assert given["site_url"] == "https://practika.example.org"


def test_postgres_gets_persistent_connections_and_sslmode():
    dev = settings_of("practika_project.settings", DATABASE_URL=PG)
    prod = settings_of("practika_project.production", DATABASE_URL=PG, **PROD)
    assert dev["options"]["sslmode"] == "prefer"
    assert prod["options"]["sslmode"] == "require"
    assert prod["conn_max_age"] > 0 and prod["health_checks"] is True


def test_sqlite_in_production_gets_no_sslmode():
    s = settings_of("practika_project.production", DATABASE_URL="sqlite:////tmp/x.sqlite3", **PROD)
    assert "sslmode" not in s["options"]


def test_rediss_encrypts_without_verifying_herokus_self_signed_certificate():
    s = settings_of("practika_project.production", REDIS_URL="rediss://:pw@redis.example:6380/0", **PROD)
    assert s["cache"].endswith("RedisCache")
    assert s["cache_options"]["ssl_cert_reqs"] is None
    assert s["broker"].startswith("rediss://")
    assert "ssl_cert_reqs" in s["broker_ssl"]


def test_production_hardens_static_files():
    s = settings_of("practika_project.production", **PROD)
    assert s["debug"] is False
    assert s["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_production_counts_herokus_router_and_only_it_as_a_proxy():
    assert settings_of("practika_project.settings")["proxies"] == 0
    prod = settings_of("practika_project.production", **PROD)
    assert (prod["proxies"], prod["login_limit"]) == (1, 10)
    tuned = settings_of("practika_project.production", NUM_PROXIES="2", LOGIN_MAX_FAILURES="4", **PROD)
    assert (tuned["proxies"], tuned["login_limit"]) == (2, 4)


def test_production_refuses_to_start_without_secret_key():
    result = run("practika_project.production")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("debug", ["true", "1", "on"])
def test_production_refuses_debug(debug):
    result = run("practika_project.production", DEBUG=debug, **PROD)
    assert result.returncode != 0
    assert "DEBUG is on with production settings" in result.stderr


def test_production_passes_check_deploy_without_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={**CLEAN, "DJANGO_SETTINGS_MODULE": "practika_project.production", **PROD},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


WORKER_KNOBS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({name: getattr(settings, name) for name in
                  ("FFMPEG_THREADS", "FFMPEG_MAX_MEMORY_BYTES", "VIDEO_WORKER_CONCURRENCY", "LOG_LEVEL")}))
"""


def test_the_worker_knobs_have_their_documented_defaults():
    result = run("practika_project.settings", WORKER_KNOBS)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "FFMPEG_THREADS": 2, "FFMPEG_MAX_MEMORY_BYTES": 3 * 1024**3, "VIDEO_WORKER_CONCURRENCY": 2, "LOG_LEVEL": "INFO",
    }
    tuned = run("practika_project.settings", WORKER_KNOBS, FFMPEG_THREADS="1", FFMPEG_MAX_MEMORY_BYTES="1073741824",
                VIDEO_WORKER_CONCURRENCY=" 4 ", LOG_LEVEL="WARNING")
    assert json.loads(tuned.stdout) == {
        "FFMPEG_THREADS": 1, "FFMPEG_MAX_MEMORY_BYTES": 1024**3, "VIDEO_WORKER_CONCURRENCY": 4, "LOG_LEVEL": "WARNING",
    }


@pytest.mark.parametrize("name", ["FFMPEG_THREADS", "FFMPEG_MAX_MEMORY_BYTES", "VIDEO_WORKER_CONCURRENCY"])
@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_bad_count_in_the_environment_is_an_error_not_a_guess(name, value):
    result = run("practika_project.settings", WORKER_KNOBS, **{name: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be a positive whole number, not '{value}'" in result.stderr
