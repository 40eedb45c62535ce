"""The scheduled report: every check, one per period, the gap, healing, confirmation."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from domain.health.models import HealthReport
from domain.videos.models import Video
from tests.selfcheck_support import webhook  # noqa: F401 (fixture)
from workers import selfcheck

NAMES = {
    "database", "cache", "broker", "storage", "workers", "ffmpeg", "disk", "pending", "processing",
    "failed", "canary", "maintenance", "heal_unclaimed", "heal_silent", "uploads", "scheduler",
}


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


def test_a_report_has_every_check_and_names_what_failed(postgres, clean_redis):
    report = selfcheck.report_record()
    assert set(report.checks) == NAMES
    # No worker runs in this test: the report says so, and only that is wrong.
    assert report.status == "degraded"
    assert report.failing() == ["workers"]
    assert report.checks["ffmpeg"]["version"]
    assert report.checks["broker"]["queues"] == {"video": 0, "short": 0}


def test_a_period_gets_one_report_however_many_tasks_arrive(postgres, clean_redis, settings):
    now = (timezone.now().timestamp() // settings.SELF_CHECK_INTERVAL) * settings.SELF_CHECK_INTERVAL
    assert selfcheck.report_record(now=now) is not None
    assert selfcheck.report_record(now=now + 0.5) is None
    assert HealthReport.objects.count() == 1


def test_concurrent_tasks_of_one_period_make_one_report(transactional_db, postgres, clean_redis):
    now = timezone.now().timestamp()
    results = []

    def task() -> None:
        try:
            results.append(selfcheck.report_record(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=task) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert HealthReport.objects.count() == 1
    assert sum(r is not None for r in results) == 1


def test_with_the_cache_down_the_period_column_still_decides(postgres, settings):
    settings.CACHES = {"default": {"BACKEND": "practika_project.cache.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    now = timezone.now().timestamp()
    assert selfcheck.report_record(now=now).checks["cache"]["ok"] is False
    assert selfcheck.report_record(now=now) is None
    assert HealthReport.objects.count() == 1


def test_the_first_report_after_a_gap_says_how_long_it_was(postgres, clean_redis, settings):
    old = selfcheck.report_record(now=timezone.now().timestamp() - 600)
    HealthReport.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=600))
    report = selfcheck.report_record()
    assert 599 < report.checks["scheduler"]["gap_seconds"] < 700
    follow_up = selfcheck.report_record(now=timezone.now().timestamp() + settings.SELF_CHECK_INTERVAL)
    assert "gap_seconds" not in follow_up.checks["scheduler"]


# The checks run in threads with connections of their own: they see only committed rows.
def test_healing_is_recorded_with_what_it_did(transactional_db, postgres, clean_redis, alice, settings):
    settings.HEAL_UNCLAIMED_AFTER = 60
    hour_ago = timezone.now() - timedelta(hours=1)
    lost = Video.objects.create(owner=alice, title="lost message", created_at=hour_ago, queued_at=hour_ago)
    unpublished = Video.objects.create(owner=alice, title="uploaded while the broker was down")
    fresh = Video.objects.create(owner=alice, title="just uploaded", queued_at=timezone.now())
    report = selfcheck.report_record()
    assert sorted(report.checks["heal_unclaimed"]["requeued"]) == sorted([lost.pk, unpublished.pk])
    assert fresh.pk not in report.checks["heal_unclaimed"]["requeued"]
    assert report.checks["heal_silent"] == {"ok": True, "recovered": [], "latency_ms": pytest.approx(0, abs=1e3)}
    assert report.checks["uploads"]["abandoned_expired"] == 0
    assert report.checks["pending"]["count"] == 3


def test_an_old_pending_video_makes_the_report_degraded(transactional_db, postgres, clean_redis, alice, settings):
    settings.HEALTH_MAX_PENDING_AGE = 60
    stuck = Video.objects.create(owner=alice, title="stuck", created_at=timezone.now() - timedelta(hours=2))
    report = selfcheck.report_record()
    assert report.checks["pending"]["ok"] is False
    assert report.checks["pending"]["oldest_id"] == stuck.pk
    assert report.checks["pending"]["age_seconds"] > 7000


def _confirm(status: str) -> HealthReport:
    report = HealthReport.objects.create(status=status, duration_ms=1, checks={}, period=HealthReport.objects.count())
    selfcheck.report_confirm(report=report)
    return report


def test_only_a_settled_change_of_status_alerts(db, settings, webhook, mailoutbox):
    settings.HEALTH_ALERT_CONFIRMATIONS = 2
    settings.HEALTH_ALERT_WEBHOOK_URL = webhook.url
    settings.ADMINS = [("Ops", "ops@example.com")]
    flapping = ["ok", "ok", "degraded", "ok", "degraded", "ok", "degraded", "degraded", "degraded", "ok", "ok"]
    confirmed = [_confirm(status).confirmed for status in flapping]
    assert confirmed == ["", "ok", "ok", "ok", "ok", "ok", "ok", "degraded", "degraded", "degraded", "ok"]
    assert [(b["previous"], b["status"]) for b in webhook.bodies] == [("ok", "degraded"), ("degraded", "ok")]
    assert len(mailoutbox) == 2


def test_with_one_confirmation_every_change_alerts(db, settings, webhook):
    settings.HEALTH_ALERT_CONFIRMATIONS = 1
    settings.HEALTH_ALERT_WEBHOOK_URL = webhook.url
    for status in ["ok", "ok", "down", "ok"]:
        _confirm(status)
    assert [(b["previous"], b["status"]) for b in webhook.bodies] == [("ok", "down"), ("down", "ok")]


def test_with_the_broker_down_nothing_is_requeued_and_the_report_says_why(transactional_db, postgres, clean_redis, alice, settings, monkeypatch):
    from practika_project.celery import app
    from tests.conftest import free_port

    settings.HEAL_UNCLAIMED_AFTER = 60
    lost = Video.objects.create(owner=alice, title="lost message", created_at=timezone.now() - timedelta(hours=1))
    monkeypatch.setitem(app.conf, "broker_url", f"redis://127.0.0.1:{free_port()}/0")
    report = selfcheck.report_record()
    assert report.checks["broker"]["ok"] is False
    assert report.checks["heal_unclaimed"]["skipped"] == selfcheck.HEAL_SKIPPED
    assert Video.objects.get(pk=lost.pk).status == "pending"
