"""Videos, their renditions, and the history of every processing attempt.

State changes are short methods that claim by conditional update: each one names the state it
expects, and when the row is not in that state the update touches nothing and the caller backs
off. A job delivered twice, a zombie worker woken after recovery, and a reaper racing a worker
therefore do no harm.

An attempt is fenced by its claim, a random token written when it takes the video and never
reused: `attempts` counts the attempts since the last reprocess (a reprocess starts it again),
so it cannot tell a zombie of before a reprocess from the attempt that runs now.

A video that was ever ready keeps what plays whatever a later attempt does: a failed reprocess
puts it back to ready with a sentence in `error`, and only a video that never played loses its
original when its file turns out not to be a usable video.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import IntEnum
from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from domain.videos.changes import ChangeTrackingQuerySet

# After this many claimed attempts that crashed (or hit a limit), a video fails instead of
# going back to the queue.
MAX_ATTEMPTS = 3


class Progress(IntEnum):
    """Where an attempt's steps leave `progress`: the quick steps take a little of the bar, and
    the transcodes share the rest by ffmpeg's own progress between these marks."""

    DOWNLOADED = 5
    # The quick steps are done (a browser-safe source's remux too): transcoding starts here.
    TRANSCODING = 15
    LADDER = 99
    READY = 100

# The error of a video that was ready before an attempt that failed: its earlier renditions play.
REPROCESSING_FAILED = "Reprocessing failed; the earlier version still plays. {reason}"


def new_video_id() -> str:
    """Unguessable and URL-safe: 96 random bits, 16 characters."""
    return secrets.token_urlsafe(12)


def storage_prefix_of(video_id: str) -> str:
    """Where every stored file of a video lives (and goes with it)."""
    return f"videos/{video_id}/"


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
    # The probe's frame rate (average for a variable-rate source): players step one frame by it.
    fps = models.FloatField(null=True, blank=True)
    poster = models.CharField(max_length=500, blank=True, default="")
    # The HLS master playlist, set once the lowest rung's first segments are stored: from then on
    # the video plays while it is transcoded (its media playlists grow until the video is ready).
    hls_playlist = models.CharField(max_length=500, blank=True, default="", db_default="")
    # The storyboard's WebVTT (domain/videos/storyboard.py), made with the HLS it sits beside; set
    # when that HLS is ready, so a video processed before storyboards has none.
    storyboard = models.CharField(max_length=500, blank=True, default="", db_default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    # The running attempt's claim token (see the module docstring); empty before the first claim.
    claim = models.CharField(max_length=32, blank=True, default="", db_default="", editable=False)
    # When the video first became ready; never cleared, so a failed reprocess knows it plays.
    first_ready_at = models.DateTimeField(null=True, blank=True)
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
        return storage_prefix_of(self.id)

    # --- state changes: each is one conditional UPDATE ----------------------------------------

    @classmethod
    def _update(cls, video_id: str, expect: dict, **changes) -> bool:
        return cls.objects.filter(id=video_id, **expect).update(**changes) == 1

    @classmethod
    def claim_for_processing(cls, video_id: str) -> Claim | None:
        """Take a pending video: the new attempt's number and token, or None when someone else has it."""
        now = timezone.now()
        token = secrets.token_hex(16)
        claimed = cls._update(
            video_id, {"status": cls.Status.PENDING},
            status=cls.Status.PROCESSING, claim=token, attempts=F("attempts") + 1, progress=0, error="",
            heartbeat_at=now,
        )
        if not claimed:
            return None
        return Claim(video_id, cls.objects.values_list("attempts", flat=True).get(id=video_id), token)

    @classmethod
    def _mine(cls, token: str, silent_since: datetime | None = None) -> dict:
        """The row as the attempt holding `token` left it (and silent since then, for the reaper)."""
        expect = {"status": cls.Status.PROCESSING, "claim": token}
        if silent_since is not None:
            expect["heartbeat_at__lt"] = silent_since
        return expect

    @classmethod
    def lock_if_claimed(cls, video_id: str, token: str) -> bool:
        """Lock the row (FOR UPDATE, inside a transaction) while the attempt holding `token` still
        has it; False, and nothing locked, once that attempt lost its claim or the video is gone."""
        return cls.objects.select_for_update().filter(id=video_id, **cls._mine(token)).exists()

    @classmethod
    def beat(cls, video_id: str, token: str, progress: int | None = None, **fields) -> bool:
        """Heartbeat (and progress) of a running attempt; False once the attempt lost its claim."""
        if progress is not None:
            fields["progress"] = max(0, min(Progress.READY, int(progress)))
        return cls._update(video_id, cls._mine(token), heartbeat_at=timezone.now(), **fields)

    @classmethod
    def mark_ready(
        cls, video_id: str, token: str, *, duration: float, width: int, height: int, **fields
    ) -> bool:
        now = timezone.now()
        return cls._update(
            video_id, cls._mine(token),
            status=cls.Status.READY, progress=Progress.READY, error="", duration=duration, width=width,
            height=height, processed_at=now, heartbeat_at=now,
            first_ready_at=Coalesce(F("first_ready_at"), now), **fields,
        )

    @classmethod
    def mark_failed(cls, video_id: str, token: str, error: str, *, silent_since: datetime | None = None) -> str | None:
        """End an attempt that failed, keeping every file: a video that was ever ready goes back
        to ready (its earlier renditions play) with the reason in `error`, any other becomes
        failed. The status it ended in, or None when the attempt had lost its claim."""
        mine = cls._mine(token, silent_since)
        if cls._update(
            video_id, {**mine, "first_ready_at__isnull": False},
            status=cls.Status.READY, progress=Progress.READY, error=REPROCESSING_FAILED.format(reason=error),
        ):
            return cls.Status.READY
        if cls._update(
            video_id, {**mine, "first_ready_at__isnull": True},
            status=cls.Status.FAILED, error=error, processed_at=timezone.now(),
        ):
            return cls.Status.FAILED
        return None

    @classmethod
    def mark_rejected(cls, video_id: str, token: str, error: str) -> bool:
        """Fail a video that never played because its file is not a usable video, forgetting its
        original, poster and HLS; True when the caller must remove its files. False (nothing changed)
        for a video that was ever ready: mark_failed keeps what it has."""
        return cls._update(
            video_id, {**cls._mine(token), "first_ready_at__isnull": True},
            status=cls.Status.FAILED, error=error, processed_at=timezone.now(), original="", poster="",
            hls_playlist="",
        )

    @classmethod
    def release(cls, video_id: str, token: str, *, silent_since: datetime | None = None) -> bool:
        """Give an attempt's video back to the queue (it stays claimable as pending): after a
        crash (silent since `silent_since`) or a limit hit."""
        return cls._update(video_id, cls._mine(token, silent_since), status=cls.Status.PENDING, queued_at=None)

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


class Claim(NamedTuple):
    """What claim_for_processing hands the attempt: its video, its number (for the history) and
    its token, which every later write of the attempt names."""

    video_id: str
    attempt: int
    token: str

    @property
    def is_last(self) -> bool:
        """Past this attempt a failure is final: no more going back to the queue."""
        return self.attempt >= MAX_ATTEMPTS


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
    # A sentence for the owner; what went wrong in detail (exception text, ffmpeg's last words,
    # paths) is for staff only, in `detail`.
    reason = models.TextField(blank=True, default="")
    detail = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"{self.video_id} #{self.attempt} {self.step}: {self.outcome}"

    @classmethod
    def finish(cls, step_id: int, outcome: str, reason: str = "", detail: str = "") -> bool:
        return cls.objects.filter(id=step_id, outcome=cls.Outcome.RUNNING).update(
            outcome=outcome, reason=reason, detail=detail, finished_at=timezone.now()
        ) == 1

    @classmethod
    def crash_running(cls, video_id: str, attempt: int, reason: str) -> int:
        return cls.objects.filter(video_id=video_id, attempt=attempt, outcome=cls.Outcome.RUNNING).update(
            outcome=cls.Outcome.CRASHED, reason=reason, finished_at=timezone.now()
        )


class Chunk(models.Model):
    """One part of a long source's transcode (domain/videos/chunks.py): `start` to `start +
    length` seconds of the video, encoded by whichever worker claims it, for the attempt whose
    claim token it carries. A deleted video takes its chunks along, which stops them."""

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="chunks")
    token = models.CharField(max_length=32)
    attempt = models.PositiveSmallIntegerField()
    index = models.PositiveSmallIntegerField()
    start = models.FloatField()
    length = models.FloatField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # The running encode's own token, so a chunk taken over after its worker went silent ignores
    # what the silent one writes if it wakes.
    runner = models.CharField(max_length=32, blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")
    failures = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    progress = models.FloatField(default=0.0)
    beat_at = models.DateTimeField(null=True, blank=True)
    cpu_seconds = models.FloatField(null=True, blank=True)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["video", "token", "index"]
        constraints = [
            models.UniqueConstraint(fields=["video", "token", "index"], name="chunk_one_per_index"),
            models.CheckConstraint(condition=models.Q(length__gt=0, start__gte=0), name="chunk_span_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.video_id} chunk {self.index} ({self.state})"


class SavedLoop(models.Model):
    """A named A–B loop (seconds) that one user keeps on a video, theirs or one they may watch;
    nobody else sees it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_loops")
    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="saved_loops")
    name = models.CharField(max_length=100)
    a = models.FloatField()
    b = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["a", "b", "id"]
        indexes = [models.Index(fields=["owner", "video"], name="savedloop_owner_video")]
        constraints = [
            models.CheckConstraint(condition=models.Q(a__gte=0, b__gt=F("a")), name="savedloop_a_before_b"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.a:g}–{self.b:g}s of {self.video_id})"
