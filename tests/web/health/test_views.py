from __future__ import annotations

import pytest

from domain.health import checks
from workers import selfcheck

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

    from domain.health.models import HealthReport

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
    assert {line.split()[0] for line in lines[:-1]} >= set(selfcheck.REPORT_CHECKS) | {"scheduler"}
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


# --- Anonymous callers share one run of the checks --------------------------------------------
@pytest.fixture
def runs(monkeypatch):
    """How often the endpoint's costly checks ran: each storage probe is a write and a delete, each
    workers check an inspect broadcast to every worker. The real checks still run."""
    import collections

    counted: collections.Counter = collections.Counter()
    for name in ("storage", "workers"):
        def counting(real=checks.ENDPOINT_CHECKS[name], name=name) -> dict:
            counted[name] += 1
            return real()

        monkeypatch.setitem(checks.ENDPOINT_CHECKS, name, counting)
    return counted


def test_many_anonymous_calls_run_the_checks_once(client, redis_url, runs):
    bodies = [client.get("/core/health/").json() for _ in range(20)]
    assert runs == {"storage": 1, "workers": 1}
    assert all(body == bodies[0] for body in bodies)
    assert set(bodies[0]) == {"status", "version", "duration_ms", "checks"}
    assert set(bodies[0]["checks"]) == set(checks.ENDPOINT_CHECKS)
    assert all(set(c) <= set(checks.PUBLIC_KEYS) and "latency_ms" in c for c in bodies[0]["checks"].values())


def test_concurrent_anonymous_calls_run_the_checks_once(redis_url, runs):
    from concurrent.futures import ThreadPoolExecutor

    from django.test import Client

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: Client().get("/core/health/").status_code, range(48)))
    assert statuses == [200] * 48
    assert runs == {"storage": 1, "workers": 1}


def test_staff_calls_run_the_checks_live(client, admin_client, redis_url, runs):
    client.get("/core/health/")
    admin_client.get("/core/health/")
    admin_client.get("/core/health/")
    client.get("/core/health/")
    assert runs == {"storage": 3, "workers": 3}


def test_while_another_process_refreshes_an_aged_result_still_answers(client, redis_url, runs, settings):
    from django.core.cache import cache

    first = client.get("/core/health/").json()
    settings.HEALTH_CACHE_SECONDS = 0  # it has aged...
    cache.add(checks.REFRESHING_KEY, "another process", timeout=30)  # ...and someone else is on it
    assert client.get("/core/health/").json() == first
    assert runs == {"storage": 1, "workers": 1}


def test_at_a_cold_start_a_call_waits_for_the_process_that_is_refreshing(client, redis_url, runs):
    import threading
    import time

    from django.core.cache import cache

    theirs = {"at": None, "duration_ms": 12.5,
              "checks": {name: {"ok": True, "latency_ms": 1.0} for name in checks.ENDPOINT_CHECKS}}
    cache.add(checks.REFRESHING_KEY, "another process", timeout=30)
    done = threading.Timer(0.5, lambda: cache.set(checks.SNAPSHOT_KEY, {**theirs, "at": time.time()}, 60))
    done.start()
    body = client.get("/core/health/").json()
    done.join()
    assert not runs, "this process ran the checks too"
    assert body["status"] == "ok" and body["duration_ms"] == 12.5


COUNT_RUNS_IN_ANOTHER_PROCESS = """
import django
django.setup()
from django.test import Client
from domain.health import checks
ran = []
for name in ("storage", "workers"):
    checks.ENDPOINT_CHECKS[name] = lambda real=checks.ENDPOINT_CHECKS[name], name=name: ran.append(name) or real()
assert Client(HTTP_HOST="localhost").get("/core/health/").status_code == 200
print(len(ran))
"""


def test_another_web_process_answers_from_the_same_run(client, postgres, redis_url, runs):
    import os
    import subprocess
    import sys

    from django.db import connection

    from tests.conftest import BASE_DIR

    client.get("/core/health/")
    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "practika_project.settings", "REDIS_URL": redis_url,
           "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "HEALTH_CACHE_SECONDS": "60"}
    other = subprocess.run([sys.executable, "-c", COUNT_RUNS_IN_ANOTHER_PROCESS], cwd=BASE_DIR, env=env,
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr
    assert other.stdout.split()[-1] == "0", "the other process ran the checks itself"
    assert runs == {"storage": 1, "workers": 1}


def test_with_the_cache_down_a_process_still_runs_the_checks_once(client, redis_url, runs):
    from django.test import override_settings

    from tests.conftest import free_port

    dead = {"BACKEND": "practika_project.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    with override_settings(CACHES={"default": dead}):
        bodies = [client.get("/core/health/").json() for _ in range(10)]
    assert runs == {"storage": 1, "workers": 1}
    assert bodies[-1]["status"] == "degraded" and bodies[-1]["checks"]["cache"]["ok"] is False


def test_a_database_outage_is_down_once_the_shared_result_is_older_than_its_max_age(
    client, transactional_db, redis_url, settings, monkeypatch
):
    from django.db import connections

    from tests.conftest import free_port

    assert client.get("/core/health/").json()["checks"]["database"]["ok"] is True
    monkeypatch.setitem(connections.settings["default"], "PORT", str(free_port()))
    monkeypatch.setitem(connections.settings["default"], "HOST", "127.0.0.1")
    assert client.get("/core/health/").status_code == 200, "a result younger than HEALTH_CACHE_SECONDS answers"
    settings.HEALTH_CACHE_SECONDS = 0  # as if those seconds had passed
    response = client.get("/core/health/")
    assert response.status_code == 503 and response.json()["status"] == "down"
