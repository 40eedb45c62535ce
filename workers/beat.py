"""The beat scheduler: django-celery-beat's database scheduler, plus one duty.

When the broker does not answer, the self-check cannot travel to a worker, and an outage of
the broker would leave no report at all. So when sending the self-check fails, beat runs it
in its own process: the report names the broker (and the cache, when it is the same Redis).
The period claim in report_record keeps this to one report per period.
"""

from __future__ import annotations

import logging

from celery.beat import SchedulingError
from django_celery_beat.schedulers import DatabaseScheduler

from workers import selfcheck

log = logging.getLogger(__name__)

SELF_CHECK_TASK = "workers.tasks.self_check"


class Scheduler(DatabaseScheduler):
    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        try:
            return super().apply_async(entry, producer, advance, **kwargs)
        except SchedulingError as exc:
            if entry.task != SELF_CHECK_TASK:
                raise
            log.error("could not send the self-check (%s): beat records the report itself", exc.__cause__ or exc)
            report = selfcheck.report_record(recorded_by="beat")
            if report is not None:
                log.error("beat recorded report %s: %s, failing: %s", report.pk, report.status, ", ".join(report.failing()))
            return None
