from __future__ import annotations

from django.db import models


class HealthReport(models.Model):
    class Status(models.TextChoices):
        OK = "ok"
        DEGRADED = "degraded"
        DOWN = "down"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    duration_ms = models.FloatField()
    checks = models.JSONField(default=dict)
    # One report per scheduling period, even if two beats run by mistake during a deploy.
    period = models.BigIntegerField(unique=True, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.status}"
