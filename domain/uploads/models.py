from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_upload_key() -> str:
    return secrets.token_urlsafe(24)


class UploadQuerySet(models.QuerySet):
    def unfinished(self) -> UploadQuerySet:
        """Uploads a client may still continue: not complete, not idle past their expiry. Their
        declared length (while it is deferred, the bytes received so far) is reserved from the
        owner's quota."""
        cutoff = timezone.now() - timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS)
        return self.filter(completed_at__isnull=True, updated_at__gt=cutoff)


class Upload(models.Model):
    """One tus upload: its progress lives here, its bytes in storage, so any web process can
    take the next chunk."""

    key = models.CharField(primary_key=True, max_length=64, default=new_upload_key, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    # Reserved at creation: the bytes go straight to the video's own prefix.
    video_id = models.CharField(max_length=64, unique=True)
    original_name = models.CharField(max_length=500)
    # None while the length is deferred (tus creation-defer-length: a recording that is still
    # going); a later PATCH declares it, once.
    length = models.BigIntegerField(null=True, blank=True)
    offset = models.BigIntegerField(default=0)
    filename = models.CharField(max_length=255)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=16, default="private")
    # S3 only: the multipart upload and the ETags of its parts, in order.
    s3_upload_id = models.CharField(max_length=255, blank=True)
    s3_parts = models.JSONField(default=list, blank=True)
    # Fixed when the multipart upload starts, so a changed UPLOAD_CHUNK_BYTES never shifts the
    # part boundaries of an upload already under way.
    part_bytes = models.PositiveIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = UploadQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return f"{self.key} ({self.offset}/{'?' if self.length is None else self.length})"

    @property
    def length_deferred(self) -> bool:
        return self.length is None

    @property
    def expires_at(self) -> datetime:
        return self.updated_at + timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS)

    @property
    def is_expired(self) -> bool:
        return self.completed_at is None and self.expires_at <= timezone.now()
