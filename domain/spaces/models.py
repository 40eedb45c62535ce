"""The practice loop: spaces (a coach's group), their exercises, the video replies to them,
comments pinned to a moment of any video, and the notifications they cause.

The rules a row must keep hold in PostgreSQL, not only here: one membership per person and space,
`at <= until`, and every video a person attaches (a demonstration, a reply, a comment's video
reply) owned by that person (triggers in migration 0002, since the owner lives in another table).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


def new_invite_code() -> str:
    """Unguessable and URL-safe: whoever holds it may join, so it is as strong as a video id."""
    return secrets.token_urlsafe(12)


class Space(models.Model):
    name = models.CharField(max_length=200)
    # The creator; the space stays with its other coaches when that account goes.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="owned_spaces"
    )
    invite_code = models.CharField(max_length=32, unique=True, default=new_invite_code)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        COACH = "coach"
        MEMBER = "member"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="space_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["space", "user"], name="membership_once_per_space"),
            models.CheckConstraint(condition=Q(role__in=["coach", "member"]), name="membership_role_known"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.space} ({self.role})"


class Exercise(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="exercises")
    title = models.CharField(max_length=200)
    # Plain text: pages make links clickable and render nothing else.
    instructions = models.TextField(blank=True, default="")
    # The demonstration, one of the creating coach's videos; deleting it leaves the exercise.
    video = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="demonstrated_in"
    )
    replies_visible = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="exercises_created"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class Reply(models.Model):
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="replies")
    # A reply is its video: when the video goes, so does the reply.
    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="replies")
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "replies"

    def __str__(self) -> str:
        return f"{self.author} on {self.exercise}"


class Comment(models.Model):
    """Feedback pinned to a moment (`at`) or a range (`at`–`until`) of a video, in seconds."""

    video = models.ForeignKey("videos.Video", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
    at = models.FloatField()
    until = models.FloatField(null=True, blank=True)
    # "Here is how that bar should sound": one of the author's videos; the comment outlives it.
    video_reply = models.ForeignKey(
        "videos.Video", on_delete=models.SET_NULL, null=True, blank=True, related_name="replying_comments"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(at__gte=0), name="comment_at_not_negative"),
            models.CheckConstraint(condition=Q(until__isnull=True) | Q(until__gte=F("at")), name="comment_at_until"),
        ]

    def __str__(self) -> str:
        return f"{self.author} at {self.at:g}s on {self.video_id}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        REPLY = "reply"
        COMMENT = "comment"
        JOINED = "joined"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.CharField(max_length=500)
    url = models.CharField(max_length=200)
    read = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    # When its mail went out; a retried mail task that finds it set sends nothing twice.
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read"], name="notification_user_read")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["reply", "comment", "joined"]), name="notification_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user}: {self.text}"
