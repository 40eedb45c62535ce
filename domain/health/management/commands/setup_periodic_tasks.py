"""Write the periodic tasks declared in domain.health.schedule into django-celery-beat's tables.

Idempotent, run by the release phase. An operator's change in the admin (interval, enabled)
survives a release unless the code's definition of that task changed: its fingerprint is kept
in `description`. Tasks the code no longer declares are removed.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from domain.health.schedule import periodic_tasks


class Command(BaseCommand):
    help = "Create or update the periodic tasks declared in code (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = periodic_tasks()
        for spec in declared:
            existing = PeriodicTask.objects.filter(name=spec.name).first()
            if existing is not None and existing.description == spec.fingerprint:
                self.stdout.write(f"{spec.name}: unchanged")
                continue
            schedule = IntervalSchedule.objects.filter(
                every=spec.every_seconds, period=IntervalSchedule.SECONDS
            ).first() or IntervalSchedule.objects.create(every=spec.every_seconds, period=IntervalSchedule.SECONDS)
            PeriodicTask.objects.update_or_create(
                name=spec.name,
                defaults={
                    "task": spec.task,
                    "interval": schedule,
                    "crontab": None,
                    "solar": None,
                    "clocked": None,
                    "queue": spec.queue,
                    "expire_seconds": spec.expire_seconds,
                    "kwargs": json.dumps({}),
                    "enabled": True,
                    "description": spec.fingerprint,
                },
            )
            if existing is None and spec.due_at_once:
                PeriodicTask.objects.filter(name=spec.name).update(
                    last_run_at=timezone.now() - timedelta(seconds=spec.every_seconds)
                )
            self.stdout.write(f"{spec.name}: {'updated' if existing else 'created'}")
        retired = PeriodicTask.objects.filter(description__startswith="code:").exclude(
            name__in=[spec.name for spec in declared]
        )
        for task in retired:
            task.delete()  # delete() per row, so beat's change signal fires
            self.stdout.write(f"{task.name}: removed (no longer declared in code)")
