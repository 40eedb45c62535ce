"""Celery tasks: thin wrappers that take ids, call the domain functions and own retries."""

from __future__ import annotations

import logging

from celery import shared_task

from workers import selfcheck

log = logging.getLogger(__name__)


@shared_task(soft_time_limit=30, time_limit=45)
def self_check() -> str | None:
    report = selfcheck.report_record()
    if report is None:
        return None
    log.info("self-check recorded report %s: %s", report.pk, report.status)
    return report.status
