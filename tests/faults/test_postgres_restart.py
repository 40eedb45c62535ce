"""PostgreSQL restarted under a running web, worker and beat: down while away, then recovery."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.faults.conftest import assert_no_traceback, release, wait_until

pytestmark = pytest.mark.slow


def latest_report(pg, db: str) -> float:
    """Epoch seconds of the newest scheduled report (0 when there is none)."""
    out = pg.psql("SELECT coalesce(max(extract(epoch FROM created_at)), 0) FROM health_healthreport "
                  "WHERE period IS NOT NULL", db=db)
    return float(out or 0)


def test_postgres_restart_is_down_while_away_and_recovers_without_a_restart(stack, private_postgres):
    db = f"faults_{uuid.uuid4().hex[:12]}"
    private_postgres.psql(f"CREATE DATABASE {db}")
    url = private_postgres.url(db)
    release(stack, DATABASE_URL=url)
    procs = [stack.web(DATABASE_URL=url), stack.start("worker", DATABASE_URL=url), stack.start("beat", DATABASE_URL=url)]

    wait_until(lambda: latest_report(private_postgres, db) > 0, 60, "a first scheduled report")
    assert stack.get("/core/health/").json()["checks"]["database"]["ok"] is True

    private_postgres.stop("fast")
    try:
        wait_until(lambda: stack.get("/core/health/").status_code == 503, 10, "/core/health/ answering 503")
        health = stack.get("/core/health/")
        assert health.status_code == 503
        assert health.json()["status"] == "down"
        assert health.json()["checks"]["database"]["ok"] is False
        assert "error" not in health.json()["checks"]["database"], "error details are for staff only"
        page = stack.get("/")
        assert page.status_code == 500
        assert_no_traceback(page.text)
        api = stack.get("/core/api/videos/")
        assert api.status_code >= 500 and "error" in api.json()
        assert_no_traceback(api.text)
        assert stack.get("/core/health/live/").status_code == 200
        time.sleep(6)  # beat ticks and the worker's self-check fail at least once while it is away
    finally:
        private_postgres.start()
    back_at = time.time()

    wait_until(lambda: stack.get("/core/health/").json()["checks"]["database"]["ok"], 30,
               "the web's database check passing again")
    assert stack.get("/").status_code == 200
    assert stack.get("/core/api/videos/").status_code == 200
    # A report written after the restart proves beat scheduled and the worker ran it.
    wait_until(lambda: latest_report(private_postgres, db) > back_at, 60,
               "a scheduled report after PostgreSQL came back")
    for proc in procs:
        assert proc.popen.poll() is None, f"{proc.name} exited:\n{proc.output()[-3000:]}"
