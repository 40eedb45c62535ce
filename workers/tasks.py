"""Celery tasks: thin wrappers that take ids, call the domain functions and own retries."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from domain.health import schedule
from domain.spaces import notifications
from workers import canary as canary_mod
from workers import chunks, processing, selfcheck
from workers import maintenance as maintenance_mod

log = logging.getLogger(__name__)


@shared_task(soft_time_limit=30, time_limit=45)
def self_check() -> str | None:
    report = selfcheck.report_record()
    if report is None:
        return None
    log.info("self-check recorded report %s: %s", report.pk, report.status)
    return report.status


# The short-queue half waits for the video-queue half, so its limits cover the canary's timeout.
@shared_task(soft_time_limit=settings.CANARY_TIMEOUT + 30, time_limit=settings.CANARY_TIMEOUT + 60)
def canary() -> bool | None:
    if schedule.period_claim(name=schedule.CANARY) is None:
        return None
    run = canary_mod.canary_run()
    log.log(logging.INFO if run.ok else logging.ERROR, "canary %s: ok=%s %s", run.pk, run.ok, run.reason)
    return bool(run.ok)


# Named video_* so the route puts it on the video queue, behind real jobs like a user's video.
@shared_task(soft_time_limit=120, time_limit=150)
def video_canary_task(run_id: str) -> None:
    canary_mod.canary_process(run_id=run_id)


@shared_task(soft_time_limit=600, time_limit=660)
def maintenance() -> int | None:
    if schedule.period_claim(name=schedule.MAINTENANCE) is None:
        return None
    run = maintenance_mod.maintenance_run()
    return run.pk


# A crashed or killed job is not retried by Celery: its heartbeat goes silent and
# domain.videos.services.video_recover_silent (run by the self-check's healing) re-queues it, or fails
# it after three attempts.
@shared_task(soft_time_limit=settings.VIDEO_JOB_TIME_LIMIT - 60, time_limit=settings.VIDEO_JOB_TIME_LIMIT)
def video_process_task(video_id: str) -> None:
    processing.video_process(video_id=video_id)


# A part of a long source, for whichever video worker takes it first; its coordinator (the task
# above) retries a part that fails and takes over one whose worker dies.
@shared_task(soft_time_limit=settings.VIDEO_JOB_TIME_LIMIT - 60, time_limit=settings.VIDEO_JOB_TIME_LIMIT)
def video_chunk_task(chunk_id: int) -> None:
    chunks.video_chunk_process(chunk_id=chunk_id)


# SMTP and socket errors are OSErrors: the mail is tried again, and the notification row stays
# whatever happens to its mail.
@shared_task(autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=600, max_retries=8,
             soft_time_limit=30, time_limit=45)
def notification_mail_task(notification_id: int) -> bool:
    return notifications.notification_mail(notification_id=notification_id)
