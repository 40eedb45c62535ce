"""Self-checks end to end: real worker and beat processes against the test database, with a
two-second interval."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from domain.health import checks
from domain.health.models import HealthReport
from tests.conftest import BASE_DIR
from tests.selfcheck_support import own_redis, stopping, webhook  # noqa: F401 (fixtures)
from workers import selfcheck

pytestmark = [pytest.mark.slow]

INTERVAL = 2
REPORT_NAMES = {
    "database", "cache", "broker", "storage", "workers", "ffmpeg", "disk", "pending", "processing",
    "failed", "canary", "maintenance", "heal_unclaimed", "heal_silent", "uploads", "scheduler",
}


@pytest.fixture
def schedule(settings):
    settings.SELF_CHECK_INTERVAL = INTERVAL
    call_command("setup_periodic_tasks", verbosity=0)
    return {
        "SELF_CHECK_INTERVAL": str(INTERVAL),
        "CANARY_INTERVAL": "3600",
        "MAINTENANCE_INTERVAL": "86400",
        "WORKER_SOFT_SHUTDOWN_TIMEOUT": "2",  # a self-check is short: do not wait 20 s at teardown
    }


def wait_report(predicate, *, after: int = 0, timeout: float = 30) -> HealthReport:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for report in HealthReport.objects.filter(pk__gt=after).order_by("pk"):
            if predicate(report):
                return report
        time.sleep(0.3)
    seen = [(r.pk, r.status, r.confirmed, r.failing()) for r in HealthReport.objects.order_by("pk")]
    raise AssertionError(f"no matching report within {timeout} s; reports: {seen}")


def wait_until(predicate, *, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout} s")


def test_reports_appear_on_schedule_with_every_check(stopping, schedule, live_env):
    stopping("worker", **schedule)
    stopping("beat", **schedule)
    first = wait_report(lambda r: r.checks["workers"]["ok"])
    assert set(first.checks) == REPORT_NAMES
    assert all(isinstance(c["latency_ms"], float) for c in first.checks.values())
    second = wait_report(lambda r: True, after=first.pk, timeout=3 * INTERVAL)
    assert second.period > first.period
    assert second.status == "ok", second.checks
    assert second.checks["workers"]["consumers"]["video"] and second.checks["workers"]["consumers"]["short"]
    # The operator's command agrees, and says so with its exit code.
    command = subprocess.run([sys.executable, "manage.py", "health_report"], cwd=BASE_DIR, env=live_env,
                             capture_output=True, text=True, timeout=60)
    assert command.returncode == 0, command.stdout
    assert command.stdout.rstrip().endswith("status: ok")
    assert all(f"\n{name} " in "\n" + command.stdout for name in REPORT_NAMES - {"heal_unclaimed", "heal_silent", "uploads"})


def test_a_redis_outage_is_reported_and_alerted_once_each_way(own_redis, webhook, stopping, schedule):
    env = {**schedule, "REDIS_URL": own_redis.url, "HEALTH_ALERT_WEBHOOK_URL": webhook.url}
    stopping("worker", **env)
    stopping("beat", **env)
    settled = wait_report(lambda r: r.confirmed == "ok", timeout=40)
    before = len(webhook.bodies)

    own_redis.stop()
    outage = wait_report(lambda r: r.status == "degraded", after=settled.pk, timeout=30)
    assert {"broker", "cache"} <= set(outage.failing())
    assert outage.checks["scheduler"]["recorded_by"] == "beat"
    assert outage.checks["heal_unclaimed"]["skipped"] == selfcheck.HEAL_SKIPPED
    wait_until(lambda: len(webhook.bodies) > before, timeout=30, what="no alert for the outage")

    own_redis.start()
    wait_report(lambda r: r.confirmed == "ok", after=outage.pk, timeout=60)
    wait_until(lambda: len(webhook.bodies) > before + 1, timeout=10, what="no alert for the recovery")
    time.sleep(2 * INTERVAL)  # room for a duplicate to show up, if there were one
    alerts = webhook.bodies[before:]
    assert [(a["previous"], a["status"]) for a in alerts] == [("ok", "degraded"), ("degraded", "ok")]
    assert "broker" in alerts[0]["failing"] and "cache" in alerts[0]["failing"]


def test_a_dead_beat_makes_the_scheduler_stale_and_its_return_says_how_long(stopping, schedule):
    stopping("worker", **schedule)
    beat = stopping("beat", **schedule)
    last = wait_report(lambda r: r.checks["workers"]["ok"])
    beat.signal(9)
    beat.popen.wait()
    last = HealthReport.objects.first()
    wait_until(lambda: not checks.run_one(checks.check_scheduler)["ok"], timeout=3 * INTERVAL + 5,
               what="the scheduler check did not turn stale")
    assert "is beat running?" in checks.run_one(checks.check_scheduler)["error"]

    stopping("beat", **schedule)
    back = wait_report(lambda r: True, after=last.pk, timeout=30)
    assert back.checks["scheduler"]["gap_seconds"] > 3 * INTERVAL
    assert checks.run_one(checks.check_scheduler)["ok"]


def test_two_beats_make_one_report_per_period(stopping, schedule):
    stopping("worker", **schedule)
    first_beat = stopping("beat", **schedule)
    wait_report(lambda r: r.checks["workers"]["ok"])
    second_beat = stopping("beat", **schedule)
    second_beat.wait_for("Sending due task self-check", timeout=15)
    start = HealthReport.objects.first()
    time.sleep(6 * INTERVAL)
    reports = list(HealthReport.objects.filter(pk__gt=start.pk))
    sent = first_beat.output().count("Sending due task self-check") + second_beat.output().count(
        "Sending due task self-check"
    )
    assert sent >= 10  # both beats were sending all along
    periods = [r.period for r in reports]
    assert len(periods) == len(set(periods))
    assert 4 <= len(reports) <= 7  # one per two-second period, not one per task sent
