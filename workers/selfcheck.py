"""The scheduled self-check: run every check, heal what it can, keep the result as a health
report, and alert when the confirmed status changes."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from domain.health.checks import (
    SERVICE_CHECKS,
    STATE_CHECKS,
    CheckFn,
    overall_status,
    run_checks,
    run_one,
)
from domain.health.models import HealthReport
from domain.health.schedule import SELF_CHECK, period_claim, self_check_interval
from domain.uploads.services import uploads_expire
from domain.videos.services import video_recover_silent, video_requeue_unclaimed
from workers import ffmpeg
from workers.alerts import alert_send

log = logging.getLogger(__name__)

# Every check of the scheduled report: the services, the ffmpeg this worker runs, the work's state.
REPORT_CHECKS: dict[str, CheckFn] = {**SERVICE_CHECKS, "ffmpeg": ffmpeg.check_ffmpeg, **STATE_CHECKS}


def report_record(*, now: float | None = None, recorded_by: str = "worker") -> HealthReport | None:
    """Record this period's report; None when another task already claimed the period.

    The claim (see period_claim) comes before any check or healing runs; the unique `period`
    column is the final word when the cache is down.
    """
    now = time.time() if now is None else now
    period = period_claim(name=SELF_CHECK, now=now)
    if period is None:
        return None
    if HealthReport.objects.filter(period=period).exists():
        return None
    previous = HealthReport.objects.filter(period__isnull=False).first()
    started = time.perf_counter()
    results = run_checks(REPORT_CHECKS)
    results.update(heal(broker_ok=results["broker"]["ok"]))
    elapsed = time.perf_counter() - started
    results["scheduler"] = scheduler_entry(previous=previous, now=now + elapsed, interval=self_check_interval())
    results["scheduler"]["recorded_by"] = recorded_by
    duration_ms = round(elapsed * 1000, 2)
    try:
        with transaction.atomic():
            report = HealthReport.objects.create(
                status=overall_status(results), duration_ms=duration_ms, checks=results, period=period
            )
    except IntegrityError:
        return None
    report_confirm(report=report)
    return report


def scheduler_entry(*, previous: HealthReport | None, now: float, interval: int) -> dict:
    """Time since the previous report; past three intervals it was a gap, and we say how long."""
    entry: dict = {"ok": True, "latency_ms": 0.0}
    if previous is None:
        return entry
    since = now - previous.created_at.timestamp()
    entry["since_previous_seconds"] = round(since, 1)
    if since > 3 * interval:
        entry["gap_seconds"] = round(since, 1)
        log.warning("first self-check report after a gap of %.0f s (beat or the short queue was down)", since)
    return entry


HEAL_SKIPPED = "skipped: the broker is down, so nothing can be re-queued"


def heal(*, broker_ok: bool) -> dict[str, dict]:
    """Each healing step is recorded with what it did; one failing does not stop the others.

    Re-queueing through a broker that does not answer would only pile up timeouts (in beat,
    when it records the report itself), so those steps wait for the next report.
    """
    skipped = {"ok": True, "skipped": HEAL_SKIPPED, "latency_ms": 0.0}
    return {
        "heal_unclaimed": run_one(_requeue_unclaimed) if broker_ok else dict(skipped),
        "heal_silent": run_one(_recover_silent) if broker_ok else dict(skipped),
        "uploads": run_one(_expire_uploads),
    }


def _requeue_unclaimed() -> dict:
    return {"requeued": video_requeue_unclaimed(older_than=timedelta(seconds=settings.HEAL_UNCLAIMED_AFTER))}


def _recover_silent() -> dict:
    return {"recovered": video_recover_silent(silent_for=timedelta(seconds=settings.HEAL_SILENT_AFTER))}


def _expire_uploads() -> dict:
    return {"abandoned_expired": uploads_expire()}


def report_confirm(*, report: HealthReport) -> None:
    """Settle the confirmed status, and alert when it changed.

    A status is confirmed once HEALTH_ALERT_CONFIRMATIONS reports in a row have it; until then
    the previous confirmed status stands. The very first confirmed status alerts nobody.
    """
    needed = max(1, settings.HEALTH_ALERT_CONFIRMATIONS)
    earlier = list(
        HealthReport.objects.filter(period__isnull=False, created_at__lte=report.created_at)
        .exclude(pk=report.pk)
        .order_by("-created_at", "-pk")
        .values_list("status", "confirmed")[: max(needed - 1, 1)]
    )
    previous = earlier[0][1] if earlier else ""
    streak = [report.status, *(status for status, _ in earlier)][:needed]
    settled = len(streak) == needed and len(set(streak)) == 1
    report.confirmed = report.status if settled else previous
    HealthReport.objects.filter(pk=report.pk).update(confirmed=report.confirmed)
    if previous and report.confirmed != previous:
        alert_send(report=report, previous=previous)
