from __future__ import annotations

import pytest

from web.health import checks

pytestmark = pytest.mark.django_db


def test_live_touches_nothing_and_says_ok(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/core/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_names_every_check_with_latency(client, redis_url):
    body = client.get("/core/health/").json()
    assert set(body["checks"]) >= {"database", "cache", "broker", "storage", "workers", "scheduler"}
    assert all(isinstance(c["latency_ms"], float) for c in body["checks"].values())
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["storage"]["ok"] is True


def test_health_without_workers_is_degraded_not_down(client, redis_url):
    response = client.get("/core/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["workers"]["ok"] is False


def test_error_details_are_for_staff_only(client, admin_client, redis_url):
    anonymous = client.get("/core/health/").json()["checks"]["workers"]
    staff = admin_client.get("/core/health/").json()["checks"]["workers"]
    assert "error" not in anonymous
    assert "no Celery worker" in staff["error"]


def test_a_check_that_hangs_costs_only_the_deadline():
    import time

    started = time.monotonic()
    results = checks.run_checks({"slow": lambda: time.sleep(5) or {}}, deadline=0.3)
    assert time.monotonic() - started < 2
    assert results["slow"]["ok"] is False
    assert results["slow"]["error"] == checks.NO_ANSWER.format(deadline=0.3)


def test_database_down_means_down():
    assert checks.overall_status({"database": {"ok": False}, "cache": {"ok": True}}) == "down"
    assert checks.overall_status({"database": {"ok": True}, "cache": {"ok": False}}) == "degraded"


@pytest.fixture
def blackhole():
    """A port that accepts TCP connections and never says a word, like a wedged Redis."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    sock.close()


def test_a_redis_that_never_answers_costs_the_deadline_and_is_not_down(client, admin_client, settings, monkeypatch, blackhole):
    from practika_project.celery import app

    settings.CACHES = {"default": {"BACKEND": "practika_project.cache.RedisCache", "LOCATION": blackhole,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 5}}}
    monkeypatch.setitem(app.conf, "broker_url", blackhole)
    response = admin_client.get("/core/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    for name in ("cache", "broker"):
        assert body["checks"][name]["error"] == checks.NO_ANSWER.format(deadline=settings.HEALTH_CHECK_TIMEOUT)
    assert body["checks"]["database"]["ok"] is True


def _report(age_seconds: float):
    from datetime import timedelta

    from django.utils import timezone

    from web.health.models import HealthReport

    report = HealthReport.objects.create(status="ok", duration_ms=1, period=1)
    HealthReport.objects.filter(pk=report.pk).update(created_at=timezone.now() - timedelta(seconds=age_seconds))


@pytest.mark.parametrize(
    ("age", "ok"), [(None, False), (10, True), (3 * 60 - 5, True), (3 * 60 + 5, False)]
)
def test_the_scheduler_is_stale_past_three_intervals(transactional_db, settings, age, ok):
    settings.SELF_CHECK_INTERVAL = 60
    if age is not None:
        _report(age)
    result = checks.run_one(checks.check_scheduler)
    assert result["ok"] is ok
    if not ok:
        assert "is beat running?" in result["error"]


def test_anonymous_callers_see_no_worker_names_or_queue_details(client, transactional_db):
    _report(1)
    body = client.get("/core/health/").json()
    for result in body["checks"].values():
        assert set(result) <= set(checks.PUBLIC_KEYS)


@pytest.mark.slow
def test_workers_names_a_queue_nobody_consumes(admin_client, processes, transactional_db):
    from tests.selfcheck_support import wait_consumers

    short_only = processes("short", "celery -A practika_project worker -n short@%h -Q short -P threads -c 1 -l INFO")
    wait_consumers("short")
    workers = admin_client.get("/core/health/").json()["checks"]["workers"]
    short_only.stop()
    assert workers["ok"] is False
    assert workers["error"] == checks.NO_CONSUMER.format(queue="video")
    assert workers["consumers"]["video"] == [] and len(workers["consumers"]["short"]) == 1


def test_health_report_prints_a_table_and_exits_non_zero_unless_ok(transactional_db, redis_url, capsys):
    from django.core.management import call_command

    with pytest.raises(SystemExit) as exited:
        call_command("health_report")
    assert exited.value.code == 1  # degraded: no worker, no scheduled report yet
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[-1] == "status: degraded"
    assert {line.split()[0] for line in lines[:-1]} >= set(checks.REPORT_CHECKS) | {"scheduler"}
    assert any(line.startswith("workers ") and " FAIL " in line for line in lines)


def test_an_unreachable_database_is_down_and_503(client, transactional_db, monkeypatch):
    from django.db import connections

    from tests.conftest import free_port

    # The checks run in threads, which open connections of their own from these settings.
    monkeypatch.setitem(connections.settings["default"], "PORT", str(free_port()))
    monkeypatch.setitem(connections.settings["default"], "HOST", "127.0.0.1")
    response = client.get("/core/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == {"ok": False, "latency_ms": body["checks"]["database"]["latency_ms"]}


def test_health_report_exits_2_when_the_database_is_down(postgres):
    import os
    import subprocess
    import sys

    from tests.conftest import BASE_DIR, free_port

    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/practika"}
    done = subprocess.run([sys.executable, "manage.py", "health_report"], cwd=BASE_DIR, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("status: down")
    assert any(line.startswith("database ") and " FAIL " in line for line in done.stdout.splitlines())
