"""Processing a video on the video queue, and the reapers that keep no video stuck.

`video_process` orchestrates the plain pipeline functions (workers/pipeline.py) around one
claimed attempt: download the original from storage into a temporary folder, probe, poster,
an instant remux for browser-safe sources, the rest of the ladder, ready. Every write of an
attempt is conditional on the video still being claimed by that attempt (its claim token), so a
second delivery of the job, or a worker that wakes after its attempt was recovered or the video
reprocessed, changes nothing; once the claim is gone its ffmpeg is stopped.

How an attempt ends decides what is kept. A limit hit (time, CPU, memory) says the machine was
busy, not that the file is bad: the attempt is given back to the queue like a crash, and after
MAX_ATTEMPTS the video fails with its original kept for a later reprocess. A file that is not a
usable video fails, and loses its original only if it never played. A video that was ever ready
keeps its original and renditions whatever a later attempt does (Video.mark_failed).

The database may blip during an hours-long transcode: heartbeats and progress are best effort
(a missed one is retried on a new connection, with backoff), so a blip never stops ffmpeg.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, InterfaceError, connection, transaction

from domain.storage import storage_names_under
from domain.videos.models import MAX_ATTEMPTS, Claim, JobStep, Rendition, Video
from domain.videos.services import video_enqueue
from workers import ffmpeg, pipeline

log = logging.getLogger(__name__)

PROCESSING_FAILED = "Something went wrong while processing this video; it has been logged."
ORIGINAL_MISSING = "The uploaded file is no longer available; please upload it again."
NOTHING_PLAYABLE = "No playable version could be made from this video."
CLAIM_LOST = "Another attempt took over this video."

# Progress and heartbeat go to the database at most this often while ffmpeg runs.
PROGRESS_EVERY_SECONDS = 2.0
# A heartbeat goes to the database at least this often whatever step runs (a long probe or
# download reports no progress), so recovery can tell a live attempt from a dead one quickly.
HEARTBEAT_SECONDS = 10.0
# After a database error a beat is tried again this soon, then twice as late each time, up to
# HEARTBEAT_SECONDS: a dropped connection is replaced at once, a server restart is waited out.
DB_RETRY_FIRST_SECONDS = 0.5
_COPY_CHUNK = 1024 * 1024
_DB_FAULTS = (DatabaseError, InterfaceError)


class ClaimLost(Exception):
    """The attempt no longer owns the video (recovered, reprocessed or deleted): stop quietly."""


def _retry_after(failures: int) -> float:
    return min(HEARTBEAT_SECONDS, DB_RETRY_FIRST_SECONDS * 2 ** (failures - 1))


def _beat_or_none(video_id: str, token: str, progress: int | None = None) -> bool | None:
    """Video.beat, or None when the database failed: a beat is best effort. The connection is
    closed so the next try opens a new one (Django would keep reusing the broken one)."""
    try:
        return Video.beat(video_id, token, progress)
    except _DB_FAULTS as exc:
        log.warning("video %s: could not beat (%s); trying again on a new connection", video_id, exc)
        connection.close()
        return None


def _detail(exc: BaseException | None) -> str:
    """What went wrong, for staff: the exception's type and text (ffmpeg's last lines, paths)."""
    return "" if exc is None else f"{type(exc).__name__}: {exc}"[:2000]


class _Attempt:
    def __init__(self, video: Video, claim: Claim, workdir: Path) -> None:
        self.video = video
        self.attempt, self.token = claim
        self.workdir = workdir
        self._next_beat = 0.0
        self._beat_failures = 0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        with self._owned():
            step = JobStep.objects.create(video_id=self.video.id, attempt=self.attempt, step=name)
        try:
            yield
        except (pipeline.MediaRejected, pipeline.OverLimit) as exc:
            JobStep.finish(step.id, JobStep.Outcome.FAILED, str(exc), _detail(exc.__cause__))
            raise
        except (ClaimLost, ffmpeg.Stopped):  # Stopped: the heartbeat saw the claim go
            JobStep.finish(step.id, JobStep.Outcome.FAILED, CLAIM_LOST)
            raise
        except Exception as exc:
            # The owner gets a sentence; what happened is for staff (and the log).
            JobStep.finish(step.id, JobStep.Outcome.FAILED, PROCESSING_FAILED, _detail(exc))
            raise
        JobStep.finish(step.id, JobStep.Outcome.OK)

    def beat(self, progress: float | None = None, *, force: bool = True) -> None:
        """Heartbeat and progress; raises ClaimLost once the claim is gone. A database error
        skips this beat (the next one, after a backoff, uses a new connection): raising here,
        inside ffmpeg's progress callback, would kill an hours-long transcode over a blip."""
        now = time.monotonic()
        if not force and now < self._next_beat:
            return
        mine = _beat_or_none(self.video.id, self.token, None if progress is None else round(progress))
        if mine is None:
            self._beat_failures += 1
            self._next_beat = now + _retry_after(self._beat_failures)
            return
        self._beat_failures = 0
        self._next_beat = now + PROGRESS_EVERY_SECONDS
        if not mine:
            raise ClaimLost(self.video.id)

    def progress_between(self, start: float, end: float) -> Callable[[float], None]:
        """An on_progress callback mapping the pipeline's 0.0–1.0 onto start–end percent. A lost
        claim raises ClaimLost out of it, which stops ffmpeg (run_limited kills its child when
        the callback raises) and removes its partial outputs."""

        def report(fraction: float) -> None:
            self.beat(start + (end - start) * max(0.0, min(1.0, fraction)), force=False)

        return report

    def _store(self, path: Path, suffix: str) -> str:
        name = f"{self.video.storage_prefix}{suffix}-{secrets.token_hex(4)}{path.suffix}"
        with path.open("rb") as fh:
            return default_storage.save(name, File(fh, name=path.name))

    @contextmanager
    def _owned(self, new_name: str | None = None) -> Iterator[None]:
        """Hold the video row (FOR UPDATE) while inserting a job step or recording a stored file.

        video_delete takes the same lock before Django collects the rows to cascade, so a row
        of ours lands either before (and is deleted with the video) or after the video is gone,
        when we see that and stop; never in between, where the cascade would fail its foreign
        key check. A file stored just before is dropped when the claim is gone.
        """
        with transaction.atomic():
            mine = Video.objects.select_for_update().filter(
                id=self.video.id, status=Video.Status.PROCESSING, claim=self.token
            ).exists()
            if not mine:
                if new_name:
                    default_storage.delete(new_name)
                raise ClaimLost(self.video.id)
            yield

    def store_poster(self, path: Path) -> None:
        name = self._store(path, "poster")
        with self._owned(name):
            old = Video.objects.values_list("poster", flat=True).get(id=self.video.id)
            Video.beat(self.video.id, self.token, poster=name)
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
    """Beats every HEARTBEAT_SECONDS while an attempt runs. A database error is retried with
    backoff on a new connection; once the claim is lost it calls on_lost (which stops the
    attempt's ffmpeg) and ends."""

    def __init__(self, video_id: str, token: str, on_lost: Callable[[], None]) -> None:
        super().__init__(name=f"heartbeat-{video_id}", daemon=True)
        self.video_id, self.token, self.on_lost = video_id, token, on_lost
        self._done = threading.Event()

    def run(self) -> None:
        failures = 0
        try:
            while not self._done.wait(_retry_after(failures) if failures else HEARTBEAT_SECONDS):
                mine = _beat_or_none(self.video_id, self.token)
                if mine is None:
                    failures += 1
                    continue
                failures = 0
                if not mine:
                    self.on_lost()
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
    claim = Video.claim_for_processing(video_id)
    if claim is None:
        log.info("video %s is not pending; another delivery has it or it is done", video_id)
        return
    video = Video.objects.get(id=video_id)
    _remove_crashed_workdirs(video_id)
    children = ffmpeg.StopSwitch()
    try:
        workdir = tempfile.TemporaryDirectory(prefix=f"practika-{video_id}-")
        with _Heartbeat(video_id, claim.token, on_lost=children.stop), workdir as tmp, children:
            _run(_Attempt(video, claim, Path(tmp)))
    except (ClaimLost, ffmpeg.Stopped):
        log.warning("video %s attempt %s lost its claim; stopping", video_id, claim.attempt)
    except pipeline.OverLimit as exc:
        log.warning("video %s attempt %s hit a limit: %s", video_id, claim.attempt, exc.__cause__)
        _over_limit(video, claim, str(exc))
    except pipeline.MediaRejected as exc:
        log.info("video %s rejected: %s", video_id, exc)
        _reject(video, claim, str(exc))
    except Exception:
        log.exception("processing video %s attempt %s failed", video_id, claim.attempt)
        Video.mark_failed(video_id, claim.token, PROCESSING_FAILED)


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
        if not Video.mark_ready(job.video.id, job.token, duration=probe.duration,
                                width=probe.width, height=probe.height):
            raise ClaimLost(job.video.id)


def _over_limit(video: Video, claim: Claim, error: str) -> None:
    """Give the attempt back to the queue, as a crash would be, until MAX_ATTEMPTS; then fail
    with the sentence, keeping the original so a later reprocess (on a quieter or bigger
    machine) can succeed."""
    if claim.attempt < MAX_ATTEMPTS:
        if Video.release(video.id, claim.token):
            video_enqueue(video_id=video.id)
        return
    Video.mark_failed(video.id, claim.token, error)


def _reject(video: Video, claim: Claim, error: str) -> None:
    """A new upload that is not a usable video keeps nothing: no original, poster or
    renditions. A video that was ever ready keeps everything and plays on."""
    if not Video.mark_rejected(video.id, claim.token, error):
        Video.mark_failed(video.id, claim.token, error)
        return
    Rendition.objects.filter(video_id=video.id).delete()
    for name in list(storage_names_under(video.storage_prefix)):
        default_storage.delete(name)
