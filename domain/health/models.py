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
    # The status that has held for HEALTH_ALERT_CONFIRMATIONS reports in a row as of this one;
    # alerts go out when it changes, so a flapping check cannot cause an alert storm.
    confirmed = models.CharField(max_length=10, choices=Status.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.status}"

    def failing(self) -> list[str]:
        return sorted(name for name, result in self.checks.items() if not result.get("ok"))


class CanaryRun(models.Model):
    """One trip of a generated clip through the real pipeline on the video queue.

    The short-queue task creates the row and waits; the video-queue task claims it, runs the
    pipeline and writes the outcome here (there is no Celery result backend).
    """

    id = models.CharField(primary_key=True, max_length=32)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    reason = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"canary {self.id} ok={self.ok}"


class MaintenanceRun(models.Model):
    """What the daily maintenance removed; the next health report shows the latest one."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    reports_deleted = models.PositiveIntegerField(default=0)
    orphans_deleted = models.PositiveIntegerField(default=0)
    orphan_bytes = models.PositiveBigIntegerField(default=0)
    details = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"maintenance {self.created_at:%Y-%m-%d %H:%M}"
