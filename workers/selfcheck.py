"""The scheduled self-check: run the service checks and keep the result as a health report."""

from __future__ import annotations

import time

from django.conf import settings
from django.db import IntegrityError

from web.health.checks import SERVICE_CHECKS, overall_status, run_checks
from web.health.models import HealthReport


def report_record(*, now: float | None = None) -> HealthReport | None:
    """Record this period's report; None when another beat already recorded it."""
    now = time.time() if now is None else now
    period = int(now // settings.SELF_CHECK_INTERVAL)
    if HealthReport.objects.filter(period=period).exists():
        return None
    started = time.perf_counter()
    results = run_checks(SERVICE_CHECKS)
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    try:
        return HealthReport.objects.create(
            status=overall_status(results), duration_ms=duration_ms, checks=results, period=period
        )
    except IntegrityError:
        return None
