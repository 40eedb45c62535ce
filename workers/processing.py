"""Processing a video on the video queue: one attempt, orchestrated.

`video_process` claims the video, downloads its original from storage into a temporary folder
and runs the plain pipeline functions on it (workers/probe.py, workers/pipeline.py): probe,
poster, an instant remux for browser-safe sources, the ladder as HLS published while ffmpeg
makes it (workers/publisher.py; the video plays it from its first segments), the MP4 renditions
joined from the same segments, ready. What an attempt
may write, and what each way of ending it keeps, are the domain's rules
(domain/videos/attempts.py); this module calls them in order, keeps a heartbeat going on a
thread of its own, and stops the attempt's ffmpeg once its claim is gone.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection

from domain.videos import attempts
from domain.videos.attempts import ClaimLost
from domain.videos.models import Claim, Progress, Video
from workers import ffmpeg, pipeline
from workers.probe import MediaRejected, OverLimit, Probe, probe_file
from workers.publisher import HlsPublisher

log = logging.getLogger(__name__)

ORIGINAL_MISSING = "The uploaded file is no longer available; please upload it again."
NOTHING_PLAYABLE = "No playable version could be made from this video."
_COPY_CHUNK = 1024 * 1024


class _Attempt:
    def __init__(self, video: Video, claim: Claim, workdir: Path) -> None:
        self.video, self.claim, self.workdir = video, claim, workdir
        self._pulse = attempts.Heartbeat(claim, every=attempts.PROGRESS_EVERY_SECONDS)
        self.hls_playable = False

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        step_id = attempts.video_step_begin(claim=self.claim, step=name)
        try:
            yield
        except (MediaRejected, OverLimit) as exc:
            attempts.video_step_end(step_id=step_id, reason=str(exc), error=exc.__cause__)
            raise
        except (ClaimLost, ffmpeg.Stopped):  # Stopped: the heartbeat saw the claim go
            attempts.video_step_end(step_id=step_id, reason=attempts.CLAIM_LOST)
            raise
        except Exception as exc:
            # The owner gets a sentence; what happened is for staff (and the log).
            attempts.video_step_end(step_id=step_id, reason=attempts.PROCESSING_FAILED, error=exc)
            raise
        attempts.video_step_end(step_id=step_id)

    def beat(self, progress: float | None = None, *, force: bool = True) -> None:
        """Heartbeat and progress; raises ClaimLost once the claim is gone. A database error
        skips this beat (the next one, after a backoff, uses a new connection): raising here,
        inside ffmpeg's progress callback, would kill an hours-long transcode over a blip."""
        if self._pulse.beat(progress, force=force) is False:
            raise ClaimLost(self.video.id)

    def progress_between(self, start: float, end: float) -> Callable[[float], None]:
        """An on_progress callback mapping the pipeline's 0.0–1.0 onto start–end percent. A lost
        claim raises ClaimLost out of it, which stops ffmpeg (run_limited kills its child when
        the callback raises) and removes its partial outputs."""

        def report(fraction: float) -> None:
            self.beat(start + (end - start) * max(0.0, min(1.0, fraction)), force=False)

        return report

    def store_rendition(self, rung: pipeline.Rung, path: Path) -> None:
        attempts.video_store_rendition(
            claim=self.claim, label=rung.label, width=rung.width, height=rung.height, path=path
        )

    def store_hls(self, name: str, content: File) -> None:
        attempts.video_store_hls(claim=self.claim, name=name, content=content)

    def publish(self, publisher: HlsPublisher) -> None:
        """Store what the HLS gained; the first time it plays, say so (once)."""
        if publisher.publish() and not self.hls_playable:
            self.hls_playable = True
            attempts.video_hls_playable(claim=self.claim)

    def download_original(self) -> Path:
        if not self.video.original or not default_storage.exists(self.video.original):
            raise MediaRejected(ORIGINAL_MISSING)
        dest = self.workdir / "original"
        with default_storage.open(self.video.original, "rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, _COPY_CHUNK)
        return dest


class _HeartbeatThread(threading.Thread):
    """Beats every HEARTBEAT_SECONDS while an attempt runs, whatever step it is in. A database
    error is retried with backoff on a new connection; once the claim is lost it calls on_lost
    (which stops the attempt's ffmpeg) and ends."""

    def __init__(self, claim: Claim, on_lost: Callable[[], None]) -> None:
        super().__init__(name=f"heartbeat-{claim.video_id}", daemon=True)
        self.claim, self.on_lost = claim, on_lost
        self._done = threading.Event()

    def run(self) -> None:
        heartbeat = attempts.Heartbeat(self.claim, every=attempts.HEARTBEAT_SECONDS)
        try:
            while not self._done.wait(heartbeat.wait()):
                if heartbeat.beat() is False:
                    self.on_lost()
                    return
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> _HeartbeatThread:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._done.set()
        self.join()


def video_process(*, video_id: str) -> None:
    """The whole pipeline for one video; a no-op unless this call claims it."""
    claim = attempts.video_claim(video_id=video_id)
    if claim is None:
        log.info("video %s is not pending; another delivery has it or it is done", video_id)
        return
    video = Video.objects.get(id=video_id)
    _remove_crashed_workdirs(video_id)
    children = ffmpeg.StopSwitch()
    try:
        workdir = tempfile.TemporaryDirectory(prefix=f"practika-{video_id}-")
        with _HeartbeatThread(claim, on_lost=children.stop), workdir as tmp, children:
            _run(_Attempt(video, claim, Path(tmp)))
        return
    except (ClaimLost, ffmpeg.Stopped):
        log.warning("video %s attempt %s lost its claim; stopping", video_id, claim.attempt)
    except OverLimit as exc:
        log.warning("video %s attempt %s hit a limit: %s", video_id, claim.attempt, exc.__cause__)
        attempts.video_give_back(claim=claim, error=str(exc))
    except MediaRejected as exc:
        log.info("video %s rejected: %s", video_id, exc)
        attempts.video_reject(claim=claim, error=str(exc))
    except Exception:
        log.exception("processing video %s attempt %s failed", video_id, claim.attempt)
        attempts.video_fail(claim=claim)
    attempts.video_drop_hls(claim=claim)


def _remove_crashed_workdirs(video_id: str) -> None:
    # A killed attempt cannot clean up after itself; the attempt that holds the claim now can,
    # on the same machine (elsewhere the folder went with the dyno).
    for workdir in Path(tempfile.gettempdir()).glob(f"practika-{video_id}-*"):
        shutil.rmtree(workdir, ignore_errors=True)


def _transcode(job: _Attempt, src: Path, probe: Probe, rungs: list[pipeline.Rung], made: set[str]) -> None:
    """The ladder as HLS, published as it grows, then the MP4 renditions joined from it (a rung
    `made` already, a browser-safe source's remux, keeps that one)."""
    folder = job.workdir / "hls"
    publisher = HlsPublisher(folder, store=job.store_hls)
    report = job.progress_between(Progress.TRANSCODING, Progress.LADDER)

    def on_progress(fraction: float) -> None:
        report(fraction)
        job.publish(publisher)

    with job.step("transcode"):
        pipeline.transcode(src, probe, rungs, folder, on_progress=on_progress)
        job.publish(publisher)  # the ended playlists, after their last segments
        for rung in rungs:
            if rung.label not in made:
                dest = job.workdir / f"{rung.label}.mp4"
                pipeline.join_rendition(folder, rung, dest, audio=probe.has_audio)
                job.store_rendition(rung, dest)
        job.beat(Progress.LADDER)


def _run(job: _Attempt) -> None:
    with job.step("download"):
        src = job.download_original()
    job.beat(Progress.DOWNLOADED)
    with job.step("probe"):
        probe = probe_file(src)
    with job.step("poster"):
        poster = job.workdir / "poster.jpg"
        pipeline.make_poster(src, probe, poster)
        attempts.video_store_poster(claim=job.claim, path=poster)
    job.beat(Progress.POSTER)
    ladder = pipeline.ladder(probe)
    made: set[str] = set()
    if probe.browser_safe:
        # A rendition within seconds, before the first HLS segments of the ladder.
        with job.step("remux"):
            remuxed = job.workdir / "remux.mp4"
            rung = pipeline.remux_faststart(src, probe, remuxed)
            job.store_rendition(rung, remuxed)
            made.add(rung.label)
        job.beat(Progress.TRANSCODING)
    _transcode(job, src, probe, ladder, made)
    # The ladder names the renditions a video keeps; a remux outside it (a 4K source) served
    # only for instant playback.
    with job.step("finish"):
        ready = attempts.video_mark_ready(
            claim=job.claim, keep={rung.label for rung in ladder}, duration=probe.duration,
            width=probe.width, height=probe.height, hls=True,
        )
        if not ready:
            raise MediaRejected(NOTHING_PLAYABLE)
