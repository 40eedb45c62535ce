"""Alerts: a log line, mail to admins, and a webhook POST that retries with backoff."""

from __future__ import annotations

import logging

import pytest

from domain.health.models import HealthReport
from tests.selfcheck_support import Webhook
from workers import alerts


@pytest.fixture
def report(db):
    return HealthReport.objects.create(
        status="degraded", confirmed="degraded", duration_ms=3.0, period=1,
        checks={"database": {"ok": True}, "broker": {"ok": False, "error": "Error 111 connecting"}},
    )


@pytest.fixture
def flaky_hook(request):
    hook = Webhook(statuses=request.param)
    yield hook
    hook.close()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    monkeypatch.setattr(alerts, "WEBHOOK_BACKOFF", 0.01)


@pytest.mark.parametrize("flaky_hook", [[500, 503, 429]], indirect=True)
def test_the_webhook_is_retried_until_it_answers(report, flaky_hook, settings):
    settings.HEALTH_ALERT_WEBHOOK_URL = flaky_hook.url
    alerts.alert_send(report=report, previous="ok")
    assert flaky_hook.attempts == 4
    [body] = flaky_hook.bodies
    assert body["status"] == "degraded" and body["previous"] == "ok"
    assert body["failing"] == {"broker": "Error 111 connecting"}
    assert body["report_id"] == report.pk


@pytest.mark.parametrize("flaky_hook", [[400]], indirect=True)
def test_a_client_error_is_not_retried(report, flaky_hook):
    assert alerts.webhook_post(url=flaky_hook.url, payload={}) is False
    assert flaky_hook.attempts == 1


@pytest.mark.parametrize("flaky_hook", [[500] * alerts.WEBHOOK_ATTEMPTS], indirect=True)
def test_the_webhook_gives_up_after_its_attempts(report, flaky_hook):
    assert alerts.webhook_post(url=flaky_hook.url, payload={}) is False
    assert flaky_hook.attempts == alerts.WEBHOOK_ATTEMPTS


def test_an_unreachable_webhook_costs_its_retries_and_no_exception(report):
    from tests.conftest import free_port

    assert alerts.webhook_post(url=f"http://127.0.0.1:{free_port()}/", payload={}) is False


def test_an_alert_is_an_error_line_and_a_mail(report, settings, mailoutbox, caplog):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.HEALTH_ALERT_WEBHOOK_URL = ""
    with caplog.at_level(logging.ERROR, logger="workers.alerts"):
        alerts.alert_send(report=report, previous="ok")
    [record] = [r for r in caplog.records if r.name == "workers.alerts"]
    assert record.levelno == logging.ERROR and "ok -> degraded" in record.getMessage()
    [mail] = mailoutbox
    assert "ok -> degraded" in mail.subject and "broker: Error 111 connecting" in mail.body
