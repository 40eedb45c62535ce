"""Videos, their renditions, and the history of every processing attempt.

State changes are short methods that claim by conditional update: each one names the state it
expects, and when the row is not in that state the update touches nothing and the caller backs
off. A job delivered twice, a zombie worker woken after recovery, and a reaper racing a worker
therefore do no harm.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

from web.videos.changes import ChangeTrackingQuerySet

# After this many claimed attempts that crashed, a video is failed instead of re-queued.
MAX_ATTEMPTS = 3


def new_video_id() -> str:
    """Unguessable and URL-safe: 96 random bits, 16 characters."""
    return secrets.token_urlsafe(12)


class Video(models.Model):
    class Visibility(models.TextChoices):
        PRIVATE = "private"
        UNLISTED = "unlisted"
        PUBLIC = "public"

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSING = "processing"
        READY = "ready"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=32, default=new_video_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="videos")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PRIVATE)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Storage names under storage_prefix; the user's filename is kept for display only.
    original = models.CharField(max_length=500, blank=True, default="")
    original_filename = models.CharField(max_length=255, blank=True, default="")
    size = models.BigIntegerField(default=0)
    duration = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    poster = models.CharField(max_length=500, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the job of the video's current pending round was published (stamped just before the
    # publish). NULL means no job has been: a new upload, a reprocess or a released attempt whose
    # publish has not happened yet, or one the broker refused. The reaper publishes those at
    # once, and re-publishes older ones only when the broker no longer holds their job.
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = ChangeTrackingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="video_status_heartbeat")]

    def __str__(self) -> str:
        return f"{self.title} ({self.id})"

    @property
    def storage_prefix(self) -> str:
        return f"videos/{self.id}/"

    # --- state changes: each is one conditional UPDATE ----------------------------------------

    @classmethod
    def _update(cls, video_id: str, expect: dict, **changes) -> bool:
        return cls.objects.filter(id=video_id, **expect).update(**changes) == 1

    @classmethod
    def claim_for_processing(cls, video_id: str) -> int | None:
        """Take a pending video; the new attempt number, or None when someone else has it."""
        now = timezone.now()
        claimed = cls._update(
            video_id, {"status": cls.Status.PENDING},
            status=cls.Status.PROCESSING, attempts=F("attempts") + 1, progress=0, error="",
            heartbeat_at=now,
        )
        if not claimed:
            return None
        return cls.objects.values_list("attempts", flat=True).get(id=video_id)

    @classmethod
    def _mine(cls, attempt: int) -> dict:
        return {"status": cls.Status.PROCESSING, "attempts": attempt}

    @classmethod
    def beat(cls, video_id: str, attempt: int, progress: int | None = None, **fields) -> bool:
        """Heartbeat (and progress) of a running attempt; False once the attempt lost its claim."""
        if progress is not None:
            fields["progress"] = max(0, min(100, int(progress)))
        return cls._update(video_id, cls._mine(attempt), heartbeat_at=timezone.now(), **fields)

    @classmethod
    def mark_ready(cls, video_id: str, attempt: int, *, duration: float, width: int, height: int) -> bool:
        return cls._update(
            video_id, cls._mine(attempt),
            status=cls.Status.READY, progress=100, error="", duration=duration, width=width,
            height=height, processed_at=timezone.now(), heartbeat_at=timezone.now(),
        )

    @classmethod
    def mark_failed(cls, video_id: str, attempt: int, error: str) -> bool:
        return cls._update(
            video_id, cls._mine(attempt),
            status=cls.Status.FAILED, error=error, processed_at=timezone.now(),
        )

    @classmethod
    def release_silent(cls, video_id: str, attempt: int, silent_since: datetime) -> bool:
        """Give a crashed attempt's video back to the queue (it stays claimable as pending)."""
        return cls._update(
            video_id, {**cls._mine(attempt), "heartbeat_at__lt": silent_since},
            status=cls.Status.PENDING, queued_at=None,
        )

    @classmethod
    def fail_silent(cls, video_id: str, attempt: int, silent_since: datetime, error: str) -> bool:
        return cls._update(
            video_id, {**cls._mine(attempt), "heartbeat_at__lt": silent_since},
            status=cls.Status.FAILED, error=error, processed_at=timezone.now(),
        )

    @classmethod
    def mark_queued(cls, video_id: str, **expect) -> datetime | None:
        """Stamp queued_at just before a job is published; the stamp, or None when the video is
        no longer pending (or no longer matches `expect`: someone else published meanwhile)."""
        stamp = timezone.now()
        if cls._update(video_id, {**expect, "status": cls.Status.PENDING}, queued_at=stamp):
            return stamp
        return None

    @classmethod
    def unmark_queued(cls, video_id: str, stamp: datetime) -> bool:
        """The publish stamped at `stamp` failed: back to NULL, "no job published"."""
        return cls._update(video_id, {"queued_at": stamp}, queued_at=None)

    @classmethod
    def reset_for_reprocess(cls, video_id: str) -> bool:
        """Ready or failed → pending with a fresh attempt count; False while a job has it."""
        return cls._update(
            video_id, {"status__in": [cls.Status.READY, cls.Status.FAILED]},
            status=cls.Status.PENDING, attempts=0, progress=0, error="", queued_at=None,
        )


class Rendition(models.Model):
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="renditions")
    label = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    file = models.CharField(max_length=500)
    size_bytes = models.BigIntegerField()

    objects = ChangeTrackingQuerySet.as_manager()

    class Meta:
        ordering = ["height", "width"]
        constraints = [models.UniqueConstraint(fields=["video", "label"], name="rendition_one_per_label")]

    def __str__(self) -> str:
        return f"{self.video_id} {self.label}"


class JobStep(models.Model):
    """One step of one processing attempt: what ran, when, and how it ended."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        OK = "ok"
        FAILED = "failed"
        CRASHED = "crashed"

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="steps")
    attempt = models.PositiveSmallIntegerField()
    step = models.CharField(max_length=20)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.video_id} #{self.attempt} {self.step}: {self.outcome}"

    @classmethod
    def finish(cls, step_id: int, outcome: str, reason: str = "") -> bool:
        return cls.objects.filter(id=step_id, outcome=cls.Outcome.RUNNING).update(
            outcome=outcome, reason=reason, finished_at=timezone.now()
        ) == 1

    @classmethod
    def crash_running(cls, video_id: str, attempt: int, reason: str) -> int:
        return cls.objects.filter(video_id=video_id, attempt=attempt, outcome=cls.Outcome.RUNNING).update(
            outcome=cls.Outcome.CRASHED, reason=reason, finished_at=timezone.now()
        )
