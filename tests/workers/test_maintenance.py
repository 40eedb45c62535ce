"""Daily maintenance and the uploads healing step.

The story: Alice has a ready video and an upload in progress; a crash left files of a deleted
video and of a forgotten upload behind; Bob started an upload and walked away.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from domain.health.models import HealthReport, MaintenanceRun
from domain.uploads.models import Upload
from domain.uploads.services import upload_create
from domain.videos.models import Video
from workers import maintenance, selfcheck

DAY = 24 * 3600


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


def stored(name: str, *, age: float, data: bytes = b"x" * 100) -> Path:
    """A file in storage whose last modification was `age` seconds ago."""
    saved = default_storage.save(name, ContentFile(data))
    path = Path(default_storage.path(saved))
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_old_reports_go_and_recent_ones_stay(db, settings):
    settings.HEALTH_REPORT_RETENTION_DAYS = 14
    old = HealthReport.objects.create(status="ok", duration_ms=1, period=1)
    HealthReport.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=15))
    recent = HealthReport.objects.create(status="ok", duration_ms=1, period=2)
    run = maintenance.maintenance_run()
    assert list(HealthReport.objects.values_list("pk", flat=True)) == [recent.pk]
    assert run.reports_deleted == 1


def test_orphans_are_swept_and_what_belongs_to_a_video_or_upload_is_never_touched(db, alice, media_root):
    video = Video.objects.create(owner=alice, title="Etude")
    owned = stored(f"{video.storage_prefix}original.mp4", age=30 * DAY)
    rendition = stored(f"{video.storage_prefix}renditions/360p.mp4", age=30 * DAY)
    upload = upload_create(owner=alice, length=1000, filename="scales.mov")
    os.utime(default_storage.path(upload.original_name), (time.time() - 30 * DAY,) * 2)
    upload_tail = stored(f"uploads/{upload.key}/tail-1", age=30 * DAY)
    deleted_video = stored("videos/gone123/original.mp4", age=30 * DAY, data=b"y" * 250)
    forgotten_tail = stored("uploads/nokey/tail-3", age=30 * DAY, data=b"z" * 50)
    young_orphan = stored("videos/justnow/original.mp4", age=60)
    probe_left = stored("health/probe-left.txt", age=30 * DAY, data=b"ok")

    run = maintenance.maintenance_run()

    assert run.orphans_deleted == 3 and run.orphan_bytes == 250 + 50 + 2
    assert not deleted_video.exists() and not forgotten_tail.exists() and not probe_left.exists()
    for kept in (owned, rendition, upload_tail, young_orphan, Path(default_storage.path(upload.original_name))):
        assert kept.exists(), kept
    assert MaintenanceRun.objects.get().details["orphans"] == [
        "health/probe-left.txt", "uploads/nokey/tail-3", "videos/gone123/original.mp4"
    ]


def test_the_next_report_shows_the_latest_maintenance(transactional_db, postgres, clean_redis):
    maintenance.maintenance_run()
    entry = selfcheck.report_record().checks["maintenance"]
    assert entry["ok"] is True and entry["orphans_deleted"] == 0 and entry["reports_deleted"] == 0


def test_an_abandoned_upload_is_removed_with_its_bytes(transactional_db, postgres, clean_redis, alice, settings):
    settings.UPLOAD_EXPIRY_SECONDS = 3600
    abandoned = upload_create(owner=alice, length=5000, filename="walked-away.mp4")
    active = upload_create(owner=alice, length=5000, filename="still-going.mp4")
    Upload.objects.filter(pk=abandoned.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert default_storage.exists(abandoned.original_name)

    report = selfcheck.report_record()

    assert report.checks["uploads"]["abandoned_expired"] == 1
    assert not Upload.objects.filter(pk=abandoned.pk).exists()
    assert not default_storage.exists(abandoned.original_name)
    assert default_storage.exists(active.original_name)
