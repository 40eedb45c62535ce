"""Writes: creating, queueing, reprocessing and deleting videos, and their files in storage."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from domain.errors import Code, DomainError
from domain.storage import remove_empty_local_folders, storage_delete_under
from domain.videos.models import MAX_ATTEMPTS, JobStep, Rendition, Video, new_video_id
from practika_project.celery import app as celery_app

log = logging.getLogger(__name__)

# The processing job, queued by its registered name: the domain never imports workers/.
PROCESS_TASK = "workers.tasks.video_process_task"
CRASHED_REPEATEDLY = "Processing crashed repeatedly."
WORKER_SILENT = "The worker stopped responding."

# A generated storage name keeps a short, harmless extension from the user's filename, so an
# operator browsing the bucket can tell what it is; nothing else of that filename is used.
_SAFE_EXTENSION = re.compile(r"^\.[a-z0-9]{1,5}$")


def original_name_for(video_id: str, filename: str) -> str:
    ext = os.path.splitext(filename)[1].lower()
    return f"videos/{video_id}/original{ext if _SAFE_EXTENSION.match(ext) else ''}"


STORAGE_FULL = "The server is out of storage space, so the upload was not kept. Please try again later."
QUOTA_EXCEEDED = (
    "This upload would take you past your storage quota of {quota} MB; delete some videos or "
    "unfinished uploads first."
)


class Original(Protocol):
    """The bytes of a new video's original: a file still to be stored (FileOriginal), or a
    resumable upload already in storage (domain.uploads.services)."""

    filename: str  # as the user named it: shown to them, and lends the stored name its extension
    size: int

    def store(self, *, video_id: str) -> str:
        """Put the bytes where the video's original lives; the storage name."""

    def discard(self, *, video_id: str) -> None:
        """Take back what store() left in storage, whole or partial, after a failure."""


@dataclass
class FileOriginal:
    """A file to copy into storage: a multipart upload spooled to disk, or a file an operator
    imports."""

    content: File
    filename: str
    size: int

    def store(self, *, video_id: str) -> str:
        try:
            return default_storage.save(original_name_for(video_id, self.filename), self.content)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            log.error("storage full while storing the original of video %s", video_id)
            raise DomainError(Code.STORAGE_FULL, STORAGE_FULL) from exc

    def discard(self, *, video_id: str) -> None:
        default_storage.delete(original_name_for(video_id, self.filename))
        remove_empty_local_folders(f"videos/{video_id}/")


def video_create_from_upload(
    *,
    owner,
    original: Original,
    title: str,
    description: str = "",
    visibility: str = Video.Visibility.PRIVATE,
    video_id: str | None = None,
) -> Video:
    """The pending video for an upload's bytes; its processing is queued after commit.

    The quota is checked before a byte is stored, so a refusal costs no copy and leaves a
    resumable upload as it was. Whatever fails after that (a full disk, the database) takes the
    stored bytes back with it: there is never an original without its row. `video_id` is the
    id a resumable upload reserved when it began."""
    video_id = video_id or new_video_id()
    video_quota_check(owner=owner, size=original.size, video_id=video_id)
    try:
        name = original.store(video_id=video_id)
        # A savepoint when the caller holds a transaction: a failed insert leaves it usable.
        with transaction.atomic():
            video = Video.objects.create(
                id=video_id,
                owner=owner,
                title=title,
                description=description,
                visibility=visibility,
                original=name,
                original_filename=os.path.basename(original.filename).replace("\x00", "")[:255],
                size=original.size,
            )
    except BaseException:  # a worker's timeout (SystemExit) too: nothing may stay half-stored
        original.discard(video_id=video_id)
        raise
    transaction.on_commit(lambda: video_enqueue(video_id=video.id))
    return video


def video_quota_check(*, owner, size: int, video_id: str | None = None) -> None:
    """Refuse (QUOTA_EXCEEDED) when `size` more bytes would not fit in the owner's quota.

    Counted: originals, renditions, and the declared length of every unfinished resumable upload
    (reserved from its creation, so uploads in progress cannot fill a disk or a bucket; while its
    length is deferred, the bytes it has), except the one for `video_id`: its room is the `size`
    asked about."""
    from domain.uploads.models import (
        Upload,  # uploads build on videos: import late, one direction
    )

    reserved = Upload.objects.unfinished().filter(owner=owner)
    if video_id:
        reserved = reserved.exclude(video_id=video_id)
    used = (
        (Video.objects.filter(owner=owner).aggregate(n=Sum("size"))["n"] or 0)
        + (Rendition.objects.filter(video__owner=owner).aggregate(n=Sum("size_bytes"))["n"] or 0)
        + (reserved.aggregate(n=Sum(Coalesce("length", "offset")))["n"] or 0)
    )
    if used + size > settings.MAX_USER_STORAGE_BYTES:
        quota = settings.MAX_USER_STORAGE_BYTES // 1024**2
        raise DomainError(Code.QUOTA_EXCEEDED, QUOTA_EXCEEDED.format(quota=quota))


def video_enqueue(*, video_id: str) -> bool:
    """Publish the processing job of a video that just became pending. A broker outage is
    logged, not raised: the row is safe, its queued_at stays NULL, and the self-check's healing
    (video_requeue_unclaimed below) publishes it as soon as the broker answers again."""
    return _video_publish(video_id, Video.mark_queued(video_id))


def video_requeue(*, video_id: str, queued_at: datetime | None) -> bool:
    """Publish again for the reaper, which read `queued_at` on the row. A publish since then (the
    upload's own, or another reaper's) changed it, and then nothing is published a second time."""
    return _video_publish(video_id, Video.mark_queued(video_id, queued_at=queued_at))


def _video_publish(video_id: str, stamp: datetime | None) -> bool:
    # The row is stamped before the publish, so a reaper that reads it meanwhile backs off
    # instead of publishing the same job twice; a failed publish takes the stamp back.
    if stamp is None:
        return False
    try:
        celery_app.send_task(
            PROCESS_TASK, args=[video_id], retry=True, retry_policy={"max_retries": 1, "interval_start": 0.2}
        )
    except Exception:
        log.exception("could not queue processing of video %s; the self-check will queue it", video_id)
        Video.unmark_queued(video_id, stamp)
        return False
    return True


def video_update(*, video: Video, **fields) -> Video:
    for name, value in fields.items():
        setattr(video, name, value)
    video.save(update_fields=list(fields))
    return video


def video_reprocess(*, video: Video) -> bool:
    """Run the pipeline again; False while a job is still pending or running.

    The old renditions and poster stay (and keep playing) until the new ones replace them, one
    label at a time; labels the new ladder no longer makes are removed when it finishes.
    """
    if not Video.reset_for_reprocess(video.id):
        return False
    transaction.on_commit(lambda: video_enqueue(video_id=video.id))
    return True


def video_delete(*, video: Video) -> None:
    """Remove the row (renditions and history go with it) and every stored file it had."""
    prefix = video.storage_prefix
    with transaction.atomic():
        # The row lock comes first: a worker inserts a rendition or a job step only while it
        # holds the same lock (domain/videos/attempts.py), so its row is either committed before
        # Django collects what to cascade, or the worker finds the video gone and stops. A row landing
        # between the collection and the DELETE would fail its foreign key check at commit.
        list(Video.objects.select_for_update().filter(id=video.id).values_list("id", flat=True))
        video.delete()
    storage_delete_under(prefix)


def video_requeue_unclaimed(*, older_than: timedelta) -> list[str]:
    """Publish the jobs of pending videos that no job will reach; the ids published.

    A video whose job was never published (queued_at NULL: the broker was down at upload time)
    is published at once. One published more than `older_than` ago and still unclaimed is
    published again only when the broker no longer holds its job (purged, or lost with a worker
    that died before claiming it): a backlog stays a backlog, not a queue of duplicates.
    """
    cutoff = timezone.now() - older_than
    unreached = Video.objects.filter(status=Video.Status.PENDING).filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff)
    )
    candidates = list(unreached.values_list("id", "queued_at"))
    if not candidates:
        return []
    held = _jobs_held_by_broker(delivered_within=older_than)
    return [
        video_id for video_id, queued_at in candidates
        if video_id not in held and video_requeue(video_id=video_id, queued_at=queued_at)
    ]


def _jobs_held_by_broker(*, delivered_within: timedelta) -> set[str]:
    """Ids of the videos whose processing job the broker holds: waiting in the video queue, or
    handed to a worker within `delivered_within` (with acks_late kombu's Redis transport keeps a
    delivered message in its `unacked` hash until the job ends; a pending video's message that
    was delivered longer ago went to a worker that died before claiming it).

    Only Redis can be asked; the development filesystem broker answers "none", so there the
    reaper publishes every stale job again, as it always did.
    """
    with celery_app.connection_for_write() as conn:
        if conn.transport_cls not in ("redis", "rediss"):
            return set()
        channel = conn.default_channel
        client = channel.client
        # The queue first, then the deliveries: a message moving from one to the other between
        # the two reads is seen in the second. Jobs carry no priority, so one list holds them.
        raw = client.lrange(settings.VIDEO_QUEUE, 0, -1)
        payloads = [json.loads(message) for message in raw]
        since = time.time() - delivered_within.total_seconds()
        recent = client.zrangebyscore(channel.unacked_index_key, since, "+inf")
        if recent:
            payloads += [json.loads(entry)[0] for entry in client.hmget(channel.unacked_key, recent) if entry]
        held = set()
        for payload in payloads:
            if payload.get("headers", {}).get("task") != PROCESS_TASK:
                continue
            args, _kwargs, _embed = channel.Message(payload, channel=channel).decode()
            held.add(args[0])
        return held


def video_recover_silent(*, silent_for: timedelta) -> list[str]:
    """Processing videos whose heartbeat stopped (worker killed, OOM, restart): re-queue them,
    or fail them after MAX_ATTEMPTS crashed attempts; the ids touched."""
    silent_since = timezone.now() - silent_for
    silent = Video.objects.filter(status=Video.Status.PROCESSING, heartbeat_at__lt=silent_since)
    touched = []
    for video_id, attempt, token in silent.values_list("id", "attempts", "claim"):
        if attempt >= MAX_ATTEMPTS:
            if Video.mark_failed(video_id, token, CRASHED_REPEATEDLY, silent_since=silent_since):
                JobStep.crash_running(video_id, attempt, WORKER_SILENT)
                touched.append(video_id)
        elif Video.release(video_id, token, silent_since=silent_since):
            JobStep.crash_running(video_id, attempt, WORKER_SILENT)
            video_enqueue(video_id=video_id)
            touched.append(video_id)
    return touched
