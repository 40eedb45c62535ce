"""Processing a video on the video queue, and the reapers that keep no video stuck.

`video_process` orchestrates the plain pipeline functions (workers/pipeline.py) around one
claimed attempt: download the original from storage into a temporary folder, probe, poster,
an instant remux for browser-safe sources, the rest of the ladder, ready. Every write of an
attempt is conditional on the video still being claimed by that attempt, so a second delivery
of the job, or a worker that wakes after its attempt was recovered, changes nothing.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from practika_project.celery import app as celery_app
from web.videos.models import MAX_ATTEMPTS, JobStep, Rendition, Video
from web.videos.services import storage_names_under, video_enqueue, video_requeue
from workers import pipeline

log = logging.getLogger(__name__)

CRASHED_REPEATEDLY = "Processing crashed repeatedly."
PROCESSING_FAILED = "Something went wrong while processing this video; it has been logged."
ORIGINAL_MISSING = "The uploaded file is no longer available; please upload it again."
NOTHING_PLAYABLE = "No playable version could be made from this video."
WORKER_SILENT = "The worker stopped responding."

# Progress and heartbeat go to the database at most this often while ffmpeg runs.
PROGRESS_EVERY_SECONDS = 2.0
# A heartbeat goes to the database at least this often whatever step runs (a long probe or
# download reports no progress), so recovery can tell a live attempt from a dead one quickly.
HEARTBEAT_SECONDS = 10.0
_COPY_CHUNK = 1024 * 1024


class ClaimLost(Exception):
    """The attempt no longer owns the video (recovered, reprocessed or deleted): stop quietly."""


class _Attempt:
    def __init__(self, video: Video, attempt: int, workdir: Path) -> None:
        self.video = video
        self.attempt = attempt
        self.workdir = workdir
        self._last_beat = 0.0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        step = JobStep.objects.create(video_id=self.video.id, attempt=self.attempt, step=name)
        try:
            yield
        except pipeline.MediaRejected as exc:
            JobStep.finish(step.id, JobStep.Outcome.FAILED, str(exc))
            raise
        except ClaimLost:
            JobStep.finish(step.id, JobStep.Outcome.FAILED, "Another attempt took over this video.")
            raise
        except Exception as exc:
            JobStep.finish(step.id, JobStep.Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:2000])
            raise
        JobStep.finish(step.id, JobStep.Outcome.OK)

    def beat(self, progress: float | None = None, *, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < PROGRESS_EVERY_SECONDS:
            return
        self._last_beat = now
        if not Video.beat(self.video.id, self.attempt, None if progress is None else round(progress)):
            raise ClaimLost(self.video.id)

    def progress_between(self, start: float, end: float) -> Callable[[float], None]:
        """An on_progress callback mapping the pipeline's 0.0–1.0 onto start–end percent."""

        def report(fraction: float) -> None:
            try:
                self.beat(start + (end - start) * max(0.0, min(1.0, fraction)), force=False)
            except ClaimLost:
                # Raising inside ffmpeg's progress loop would leave the decision to the
                # pipeline; the next step boundary notices the lost claim instead.
                pass

        return report

    def _store(self, path: Path, suffix: str) -> str:
        name = f"{self.video.storage_prefix}{suffix}-{secrets.token_hex(4)}{path.suffix}"
        with path.open("rb") as fh:
            return default_storage.save(name, File(fh, name=path.name))

    @contextmanager
    def _owned(self, new_name: str) -> Iterator[None]:
        """Hold the video row while recording a stored file; drop the file if the claim is gone."""
        with transaction.atomic():
            mine = Video.objects.select_for_update().filter(
                id=self.video.id, status=Video.Status.PROCESSING, attempts=self.attempt
            ).exists()
            if not mine:
                default_storage.delete(new_name)
                raise ClaimLost(self.video.id)
            yield

    def store_poster(self, path: Path) -> None:
        name = self._store(path, "poster")
        with self._owned(name):
            old = Video.objects.values_list("poster", flat=True).get(id=self.video.id)
            Video.beat(self.video.id, self.attempt, poster=name)
        if old and old != name:
            default_storage.delete(old)

    def store_rendition(self, rung: pipeline.Rung, path: Path) -> None:
        name = self._store(path, rung.label)
        with self._owned(name):
            old = Rendition.objects.filter(video_id=self.video.id, label=rung.label).first()
            Rendition.objects.update_or_create(
                video_id=self.video.id, label=rung.label,
                defaults={"width": rung.width, "height": rung.height, "file": name,
                          "size_bytes": path.stat().st_size},
            )
        if old and old.file != name:
            default_storage.delete(old.file)

    def drop_renditions_except(self, labels: set[str]) -> None:
        for old in Rendition.objects.filter(video_id=self.video.id).exclude(label__in=labels):
            old.delete()
            default_storage.delete(old.file)

    def download_original(self) -> Path:
        if not self.video.original or not default_storage.exists(self.video.original):
            raise pipeline.MediaRejected(ORIGINAL_MISSING)
        dest = self.workdir / "original"
        with default_storage.open(self.video.original, "rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
        return dest


class _Heartbeat(threading.Thread):
    """Beats every HEARTBEAT_SECONDS while an attempt runs; stops once the claim is lost."""

    def __init__(self, video_id: str, attempt: int) -> None:
        super().__init__(name=f"heartbeat-{video_id}", daemon=True)
        self.video_id, self.attempt = video_id, attempt
        self._done = threading.Event()

    def run(self) -> None:
        try:
            while not self._done.wait(HEARTBEAT_SECONDS):
                if not Video.beat(self.video_id, self.attempt):
                    return
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> _Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self.join()


def video_process(*, video_id: str) -> None:
    """The whole pipeline for one video; a no-op unless this call claims it."""
    attempt = Video.claim_for_processing(video_id)
    if attempt is None:
        log.info("video %s is not pending; another delivery has it or it is done", video_id)
        return
    video = Video.objects.get(id=video_id)
    _remove_crashed_workdirs(video_id)
    try:
        workdir = tempfile.TemporaryDirectory(prefix=f"practika-{video_id}-")
        with _Heartbeat(video_id, attempt), workdir as tmp:
            _run(_Attempt(video, attempt, Path(tmp)))
    except ClaimLost:
        log.warning("video %s attempt %s lost its claim; stopping", video_id, attempt)
    except pipeline.MediaRejected as exc:
        log.info("video %s rejected: %s", video_id, exc)
        _reject(video, attempt, str(exc))
    except Exception:
        log.exception("processing video %s attempt %s failed", video_id, attempt)
        Video.mark_failed(video_id, attempt, PROCESSING_FAILED)


def _remove_crashed_workdirs(video_id: str) -> None:
    # A killed attempt cannot clean up after itself; the attempt that holds the claim now can,
    # on the same machine (elsewhere the folder went with the dyno).
    for workdir in Path(tempfile.gettempdir()).glob(f"practika-{video_id}-*"):
        shutil.rmtree(workdir, ignore_errors=True)


def _transcode(job: _Attempt, step: str, src: Path, probe: pipeline.Probe,
               rungs: list[pipeline.Rung], start: float, end: float) -> None:
    with job.step(step):
        dests = {rung.label: job.workdir / f"{rung.label}.mp4" for rung in rungs}
        pipeline.transcode(src, probe, rungs, dests, on_progress=job.progress_between(start, end))
        job.beat(end)
        for rung in rungs:
            job.store_rendition(rung, dests[rung.label])


def _run(job: _Attempt) -> None:
    with job.step("download"):
        src = job.download_original()
    job.beat(5)
    with job.step("probe"):
        probe = pipeline.probe(src)
    with job.step("poster"):
        poster = job.workdir / "poster.jpg"
        pipeline.make_poster(src, probe, poster)
        job.store_poster(poster)
    job.beat(10)
    ladder = pipeline.ladder(probe)
    made: set[str] = set()
    if probe.browser_safe:
        # The remux plays within seconds; the transcoded ladder follows.
        with job.step("remux"):
            remuxed = job.workdir / "remux.mp4"
            rung = pipeline.remux_faststart(src, probe, remuxed)
            job.store_rendition(rung, remuxed)
            made.add(rung.label)
        job.beat(15)
    rest = [rung for rung in ladder if rung.label not in made]
    if not made and len(rest) > 1:
        # Nothing plays yet: the smallest rung alone is quick, and watchable while the rest
        # of the ladder is made in one run after it.
        _transcode(job, "first", src, probe, rest[:1], 15, 35)
        rest = rest[1:]
    if rest:
        _transcode(job, "transcode", src, probe, rest, 35 if len(ladder) > len(rest) else 15, 99)
    # The ladder names the renditions a video keeps; a remux outside it (a 4K source) served
    # only for instant playback. With no ladder at all the remux is the one rendition.
    keep = {rung.label for rung in ladder} or made
    with job.step("finish"):
        job.drop_renditions_except(keep)
        if not Rendition.objects.filter(video_id=job.video.id).exists():
            raise pipeline.MediaRejected(NOTHING_PLAYABLE)
        if not Video.mark_ready(job.video.id, job.attempt, duration=probe.duration,
                                width=probe.width, height=probe.height):
            raise ClaimLost(job.video.id)


def _reject(video: Video, attempt: int, error: str) -> None:
    """A file that is not a usable video keeps nothing: no original, poster or renditions."""
    if not Video.mark_failed(video.id, attempt, error):
        return
    Rendition.objects.filter(video_id=video.id).delete()
    Video.objects.filter(id=video.id).update(original="", poster="")
    for name in list(storage_names_under(video.storage_prefix)):
        default_storage.delete(name)


# The registered name of the processing job, as the broker's messages carry it.
PROCESS_TASK = "workers.tasks.video_process_task"


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
    for video_id, attempt in silent.values_list("id", "attempts"):
        if attempt >= MAX_ATTEMPTS:
            if Video.fail_silent(video_id, attempt, silent_since, CRASHED_REPEATEDLY):
                JobStep.crash_running(video_id, attempt, WORKER_SILENT)
                touched.append(video_id)
        elif Video.release_silent(video_id, attempt, silent_since):
            JobStep.crash_running(video_id, attempt, WORKER_SILENT)
            video_enqueue(video_id=video_id)
            touched.append(video_id)
    return touched
