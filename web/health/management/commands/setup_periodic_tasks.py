"""Write the periodic tasks declared in workers.schedule into django-celery-beat's tables.

Idempotent, run by the release phase. An operator's change in the admin survives a release
unless the code's definition of that task changed (its fingerprint is kept in `description`).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from workers.schedule import periodic_tasks


class Command(BaseCommand):
    help = "Create or update the periodic tasks declared in code (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        for spec in periodic_tasks():
            fingerprint = f"code:{spec.task}:{spec.every_seconds}:{spec.queue}"
            existing = PeriodicTask.objects.filter(name=spec.name).first()
            if existing is not None and existing.description == fingerprint:
                self.stdout.write(f"{spec.name}: unchanged")
                continue
            schedule, _ = IntervalSchedule.objects.get_or_create(
                every=spec.every_seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.update_or_create(
                name=spec.name,
                defaults={
                    "task": spec.task,
                    "interval": schedule,
                    "queue": spec.queue,
                    "kwargs": json.dumps({}),
                    "enabled": True,
                    "description": fingerprint,
                },
            )
            self.stdout.write(f"{spec.name}: {'updated' if existing else 'created'}")
