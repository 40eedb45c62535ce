"""Periodic tasks, declared in code and written into django-celery-beat's tables at release."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django_celery_beat.models import PeriodicTask

SELF_CHECK = "self-check"
CANARY = "canary"
MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int
    queue: str
    # Due as soon as beat first starts, so a fresh deploy's first report does not wait an interval.
    due_at_once: bool = False

    @property
    def expire_seconds(self) -> int:
        # A run still queued an interval later is stale: the next one is already on its way.
        return self.every_seconds

    @property
    def fingerprint(self) -> str:
        """What the code says; the release rewrites the row only when this changes."""
        return f"code:{self.task}:every={self.every_seconds}:queue={self.queue}:expires={self.expire_seconds}"


def periodic_tasks() -> list[Periodic]:
    return [
        Periodic(SELF_CHECK, "workers.tasks.self_check", settings.SELF_CHECK_INTERVAL, settings.SHORT_QUEUE,
                 due_at_once=True),
        Periodic(CANARY, "workers.tasks.canary", settings.CANARY_INTERVAL, settings.SHORT_QUEUE),
        Periodic(MAINTENANCE, "workers.tasks.maintenance", settings.MAINTENANCE_INTERVAL, settings.SHORT_QUEUE),
    ]


def interval_of(name: str) -> int:
    """A periodic task's interval as beat runs it: an operator may have changed it in the admin."""
    task = PeriodicTask.objects.filter(name=name, enabled=True).select_related("interval").first()
    if task is None or task.interval is None:
        return next(p.every_seconds for p in periodic_tasks() if p.name == name)
    return max(1, int(task.interval.schedule.run_every.total_seconds()))


def self_check_interval() -> int:
    return interval_of(SELF_CHECK)


def period_claim(*, name: str, now: float | None = None) -> int | None:
    """Claim the current period of a periodic task: its number, or None when a run has it.

    Two beats (a deploy overlap) send every task twice per interval; the first run in a period
    wins and the other returns before doing anything. Fire times that straddle a period
    boundary give one run to each period, never two to one. With the cache down every caller
    wins: the self-check's unique `period` column still decides, and a doubled canary or
    maintenance run does no harm.
    """
    now = time.time() if now is None else now
    interval = interval_of(name)
    period = int(now // interval)
    try:
        claimed = cache.add(f"period:{name}:{period}", "1", timeout=2 * interval)
    except Exception:  # the cache is down (the report will say so)
        claimed = True
    return period if claimed else None
