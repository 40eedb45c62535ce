"""Alerts on a change of the confirmed health status: an ERROR log line, mail to ADMINS, and a
JSON POST to HEALTH_ALERT_WEBHOOK_URL with retries and backoff.

A status counts as changed only once it held for HEALTH_ALERT_CONFIRMATIONS consecutive reports
(see report_confirm in workers.selfcheck), so a check that flaps between reports never turns
into a storm: it alerts once it settles, never once per period.
"""

from __future__ import annotations

import logging
import time

import requests
from django.conf import settings
from django.core.mail import mail_admins

from domain.health.models import HealthReport

log = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = 4
WEBHOOK_TIMEOUT = 3.0
WEBHOOK_BACKOFF = 0.5  # seconds before the 2nd attempt, doubled for each one after


def alert_payload(*, report: HealthReport, previous: str) -> dict:
    return {
        "event": "health.status_changed",
        "status": report.confirmed,
        "previous": previous,
        "report_id": report.pk,
        "created_at": report.created_at.isoformat(),
        "failing": {name: report.checks[name].get("error", "") for name in report.failing()},
        "version": settings.VERSION,
    }


def alert_send(*, report: HealthReport, previous: str) -> None:
    payload = alert_payload(report=report, previous=previous)
    failing = ", ".join(payload["failing"]) or "nothing"
    summary = f"Practika health: {previous} -> {report.confirmed} (failing: {failing})"
    log.error("%s; report %s", summary, report.pk)
    lines = [f"{name}: {error}" for name, error in payload["failing"].items()]
    mail_admins(summary, "\n".join([summary, "", *lines]), fail_silently=True)
    if settings.HEALTH_ALERT_WEBHOOK_URL:
        webhook_post(url=settings.HEALTH_ALERT_WEBHOOK_URL, payload=payload)


def webhook_post(*, url: str, payload: dict) -> bool:
    """POST with retries and exponential backoff; a 4xx other than 429 is final."""
    for attempt in range(WEBHOOK_ATTEMPTS):
        if attempt:
            time.sleep(WEBHOOK_BACKOFF * 2 ** (attempt - 1))
        try:
            response = requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT)
        except requests.RequestException as exc:
            log.warning("health webhook attempt %d failed: %s", attempt + 1, exc)
            continue
        if response.status_code < 400:
            return True
        log.warning("health webhook attempt %d answered %d", attempt + 1, response.status_code)
        if response.status_code < 500 and response.status_code != 429:
            return False
    log.error("health webhook gave up after %d attempts", WEBHOOK_ATTEMPTS)
    return False
