"""Periodic tasks, declared in code and written into django-celery-beat's tables at release."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int
    queue: str


def periodic_tasks() -> list[Periodic]:
    return [
        Periodic("self-check", "workers.tasks.self_check", settings.SELF_CHECK_INTERVAL, settings.SHORT_QUEUE),
    ]
