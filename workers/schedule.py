"""Periodic tasks, declared in code and written into django-celery-beat's tables at release."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

SELF_CHECK = "self-check"


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int
    queue: str

    @property
    def fingerprint(self) -> str:
        """What the code says; the release rewrites the row only when this changes."""
        return f"code:{self.task}:{self.every_seconds}:{self.queue}"


def periodic_tasks() -> list[Periodic]:
    return [
        Periodic(SELF_CHECK, "workers.tasks.self_check", settings.SELF_CHECK_INTERVAL, settings.SHORT_QUEUE),
        Periodic("canary", "workers.tasks.canary", settings.CANARY_INTERVAL, settings.SHORT_QUEUE),
        Periodic("maintenance", "workers.tasks.maintenance", settings.MAINTENANCE_INTERVAL, settings.SHORT_QUEUE),
    ]


def self_check_interval() -> int:
    """The self-check's interval as beat runs it: an operator may have changed it in the admin."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.filter(name=SELF_CHECK, enabled=True).select_related("interval").first()
    if task is None or task.interval is None:
        return settings.SELF_CHECK_INTERVAL
    return max(1, int(task.interval.schedule.run_every.total_seconds()))
