"""Daily maintenance: drop old health reports, sweep stored files that belong to nothing.

A file under videos/<id>/ belongs to the video <id>, or to the upload that reserved that id
and is still receiving its bytes; a file under uploads/<key>/ belongs to that upload; files
under health/ are probes and canary renditions a crash left behind. A file is only swept when
its owner does not exist at the moment of deletion and it is older than ORPHAN_MIN_AGE, so a
video whose row is about to be committed is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from domain.health.models import CanaryRun, HealthReport, MaintenanceRun
from domain.storage import storage_names_under
from domain.uploads.models import Upload
from domain.videos.models import Video

log = logging.getLogger(__name__)


def maintenance_run(*, now: datetime | None = None) -> MaintenanceRun:
    now = now or timezone.now()
    reports = reports_prune(before=now - timedelta(days=settings.HEALTH_REPORT_RETENTION_DAYS))
    swept = orphans_sweep(older_than=now - timedelta(seconds=settings.ORPHAN_MIN_AGE))
    run = MaintenanceRun.objects.create(
        reports_deleted=reports,
        orphans_deleted=len(swept),
        orphan_bytes=sum(swept.values()),
        details={"orphans": sorted(swept)[:100]},
    )
    log.info("maintenance: %d old reports deleted, %d orphan files (%d bytes) swept", reports, len(swept), run.orphan_bytes)
    return run


def reports_prune(*, before: datetime) -> int:
    deleted, _ = HealthReport.objects.filter(created_at__lt=before).delete()
    CanaryRun.objects.filter(created_at__lt=before).delete()
    MaintenanceRun.objects.filter(created_at__lt=before).delete()
    return deleted


def _video_owned(owner: str) -> bool:
    return Video.objects.filter(pk=owner).exists() or Upload.objects.filter(video_id=owner).exists()


def _upload_owned(owner: str) -> bool:
    return Upload.objects.filter(pk=owner).exists()


OWNERS: dict[str, Callable[[str], bool]] = {
    "videos": _video_owned,
    "uploads": _upload_owned,
    "health": lambda owner: False,
}


def orphans_sweep(*, older_than: datetime) -> dict[str, int]:
    """Delete orphan files last modified before `older_than`; {name: size} of those deleted."""
    swept: dict[str, int] = {}
    for top, owned in OWNERS.items():
        by_owner: dict[str, list[str]] = {}
        for name in storage_names_under(f"{top}/"):
            by_owner.setdefault(name[len(top) + 1 :].split("/", 1)[0], []).append(name)
        for owner, names in by_owner.items():
            old = [n for n in names if default_storage.get_modified_time(n) < older_than]
            # Asked per owner, right before deleting, so a row committed meanwhile still counts.
            if not old or owned(owner):
                continue
            for name in old:
                swept[name] = default_storage.size(name)
                default_storage.delete(name)
    return swept
