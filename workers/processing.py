"""Processing a video on the video queue: one attempt, orchestrated.

`video_process` claims the video, downloads its original from storage into a temporary folder
and runs the plain pipeline functions on it (workers/probe.py, workers/pipeline.py): probe,
the ladder as HLS published while ffmpeg makes it (workers/publisher.py; the video plays it from
its first segments), an instant remux of a browser-safe source made beside it from the start and
the poster from the first segments on, the MP4 renditions joined from the same segments, ready.
What an attempt may write, and what each way of ending it keeps, are the domain's rules
(domain/videos/attempts.py); this module calls them in order, keeps a heartbeat going on a
thread of its own, and stops the attempt's ffmpeg once its claim is gone.
"""

from __future__ import annotations

import contextvars
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from domain.videos import attempts, chunks
from domain.videos.attempts import ClaimLost
from domain.videos.hls import (
    AUDIO_VARIANT,
    MASTER,
    PART_FOLDER,
    VARIANT_PLAYLIST,
    hls_folder_of,
)
from domain.videos.models import Chunk, Claim, Progress, Video
from domain.videos.storyboard import (
    STORYBOARD,
    STORYBOARD_FOLDER,
    Grid,
    storyboard_interval,
    storyboard_vtt,
    thumb_size,
)
from workers import ffmpeg, pipeline
from workers.chunks import PartLost, part_encode, part_grid, worker_name
from workers.probe import MediaRejected, OverLimit, Probe, probe_file
from workers.publisher import HlsPublisher, PartsPublisher

log = logging.getLogger(__name__)

ORIGINAL_MISSING = "The uploaded file is no longer available; please upload it again."
NOTHING_PLAYABLE = "No playable version could be made from this video."
_COPY_CHUNK = 1024 * 1024


class _Attempt:
    def __init__(self, video: Video, claim: Claim, workdir: Path) -> None:
        self.video, self.claim, self.workdir = video, claim, workdir
        self._pulse = attempts.Heartbeat(claim, every=attempts.PROGRESS_EVERY_SECONDS)
        self.hls_playable = False
        self.when_playable: Callable[[], None] = lambda: None

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
            attempts.video_hls_playable(claim=self.claim)
            self.hls_playable = True
            self.when_playable()

    @contextmanager
    def meanwhile(self) -> Iterator[None]:
        """For what ffmpeg's progress callback writes besides its beat: a database fault skips it
        until the next report, on a new connection, as a beat does (see beat)."""
        try:
            yield
        except attempts.DB_FAULTS as exc:
            log.warning("video %s: database fault in a progress report (%s); trying at the next", self.video.id, exc)
            connection.close()

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


class _Beside:
    """A side job of the attempt (the remux, the poster): its ffmpeg `make`s a file on a thread
    of its own, under the attempt's StopSwitch as the attempt's others are, while the attempt's
    thread goes on; its step, its `store` and what it raised belong to the attempt's thread."""

    def __init__(
        self, job: _Attempt, step: str, make: Callable[[], object] | None, store: Callable[[object], None]
    ) -> None:
        self.job, self.name, self._make, self._store = job, step, make, store
        self._step = ExitStack()
        self._thread: threading.Thread | None = None
        self._made: object = None
        self._error: BaseException | None = None
        self._ended = False

    def begin(self) -> None:
        """Starts it, once; one with nothing to make (make=None) never starts, and has no step."""
        if self._thread is None and self._make is not None:
            self._step.enter_context(self.job.step(self.name))
            run = contextvars.copy_context().run
            self._thread = threading.Thread(target=run, args=(self._run,), name=f"{self.name}-{self.job.video.id}")
            self._thread.start()

    def _run(self) -> None:
        try:
            self._made = self._make()
        except BaseException as exc:
            self._error = exc

    def end(self, *, wait: bool = True) -> object:
        """Stores what it made (once) and ends its step, raising what it raised: waits for it
        (begun now if it was not), or with wait=False returns at once while it still runs.
        Returns what it made: None while it runs, or when it has nothing to make."""
        if wait:
            self.begin()
        if self._thread is None or self._ended or (not wait and self._thread.is_alive()):
            return self._made if self._ended else None
        self._thread.join()
        if self._error is None:
            try:
                self._store(self._made)
            except attempts.DB_FAULTS:
                raise  # not ended: the next end() stores it again
            except BaseException as exc:
                self._error = exc
        self._ended = True
        with self._step:
            if self._error is not None:
                raise self._error
        return self._made

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, *exc_info) -> None:
        # The attempt ended another way: its file is in the workdir, about to go, and its step
        # (if still open) ends as the job itself did.
        if self._thread is not None:
            self._thread.join()
        if self._error is None:
            self._step.close()
        else:
            self._step.__exit__(type(self._error), self._error, None)


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
    except (ClaimLost, PartLost, ffmpeg.Stopped):
        log.warning("video %s attempt %s lost its claim; stopping", video_id, claim.attempt)
    except OverLimit as exc:
        log.warning("video %s attempt %s hit a limit: %s", video_id, claim.attempt, exc.__cause__)
        attempts.video_give_back(claim=claim, error=str(exc))
    except MediaRejected as exc:
        log.info("video %s rejected: %s", video_id, exc)
        attempts.video_reject(claim=claim, error=str(exc))
    except PartsFailed as exc:
        log.warning("video %s attempt %s: %s", video_id, claim.attempt, exc)
        attempts.video_fail(claim=claim, error=str(exc))
    except Exception:
        log.exception("processing video %s attempt %s failed", video_id, claim.attempt)
        attempts.video_fail(claim=claim)
    attempts.video_drop_hls(claim=claim)


def _remove_crashed_workdirs(video_id: str) -> None:
    # A killed attempt cannot clean up after itself; the attempt that holds the claim now can,
    # on the same machine (elsewhere the folder went with the dyno).
    for workdir in Path(tempfile.gettempdir()).glob(f"practika-{video_id}-*"):
        shutil.rmtree(workdir, ignore_errors=True)


def _poster(job: _Attempt, src: Path, probe: Probe) -> _Beside:
    """The poster, begun once the video first plays (or after its ladder, if it never played
    before): the first segments wait for nothing they don't need."""
    path = job.workdir / "poster.jpg"
    return _Beside(
        job, "poster", lambda: pipeline.make_poster(src, probe, path),
        lambda _: attempts.video_store_poster(claim=job.claim, path=path),
    )  # fmt: skip


def _remux(job: _Attempt, src: Path, probe: Probe) -> _Beside:
    """A browser-safe source as it is, a faststart MP4, stored as the rendition of its Rung
    (nothing to make for any other source)."""
    remuxed = job.workdir / "remux.mp4"
    make = (lambda: pipeline.remux_faststart(src, probe, remuxed)) if probe.browser_safe else None
    return _Beside(job, "remux", make, lambda rung: job.store_rendition(rung, remuxed))


def _transcode(job: _Attempt, src: Path, probe: Probe, rungs: list[pipeline.Rung], remux: _Beside) -> None:
    """The ladder as HLS, published as it grows, then the MP4 renditions joined from it (the
    remux running beside it keeps the rung it made)."""
    folder = job.workdir / "hls"
    publisher = HlsPublisher(folder, store=job.store_hls)
    report = job.progress_between(Progress.TRANSCODING, Progress.LADDER)

    def on_progress(fraction: float) -> None:
        report(fraction)
        with job.meanwhile():
            job.publish(publisher)
            remux.end(wait=False)

    grid = Grid(0.0, probe.duration, storyboard_interval(probe.duration), *thumb_size(probe.width, probe.height))
    with job.step("transcode"):
        pipeline.transcode(src, probe, rungs, folder, on_progress=on_progress, storyboard=grid)
        job.publish(publisher)  # the ended playlists, after their last segments
        _store_storyboard(job, folder, [(STORYBOARD_FOLDER, grid)])
        _join_renditions(job, folder, probe, rungs, remuxed=remux.end())
        job.beat(Progress.LADDER)


def _join_renditions(
    job: _Attempt, folder: Path, probe: Probe, rungs: list[pipeline.Rung], remuxed: pipeline.Rung | None
) -> None:
    """Each rung's MP4 rendition joined from its HLS in `folder` and stored, but the one remuxed."""
    for rung in rungs:
        if remuxed is None or rung.label != remuxed.label:
            dest = job.workdir / f"{rung.label}.mp4"
            pipeline.join_rendition(folder, rung, dest, audio=probe.has_audio)
            job.store_rendition(rung, dest)


# How often the coordinator looks at its parts while others encode them.
PARTS_POLL_SECONDS = 1.0


class PartsFailed(Exception):
    """A part failed for good: the video fails with the sentence, keeping its original (the
    failures may have been crashed workers, not the file)."""


def _transcode_in_parts(job: _Attempt, src: Path, probe: Probe, rungs: list[pipeline.Rung], remux: _Beside) -> None:
    """A long source's ladder in parts that any video worker takes (domain/videos/chunks.py).
    This attempt encodes the first part (with the whole sound) itself, so the video plays as
    soon as it would whole, and then every part nobody else has taken; it gathers the parts
    others encoded, publishing the HLS as it grows without a gap, and joins the MP4s at the end."""
    plan = chunks.chunks_plan(
        claim=job.claim, duration=probe.duration, length=pipeline.part_length(settings.VIDEO_CHUNK_SECONDS)
    )
    folder = job.workdir / "hls"
    folder.mkdir()
    publisher = PartsPublisher(folder, store=job.store_hls, parts=len(plan), master=job.workdir / "part-0" / MASTER)
    first = chunks.chunk_take(chunk_id=plan[0].id, worker=worker_name())
    # The other parts are offered once the first plays (or failed): a worker on the same machine
    # would otherwise halve the speed of the part the viewer waits for.
    waiting = plan[1:]

    def offer_the_rest() -> None:
        nonlocal waiting
        for chunk in waiting:
            chunks.chunk_enqueue(chunk=chunk)
        waiting = []

    here: set[int] = set()
    # Each part's progress as last seen (the whole bar is their mean), this attempt's own as it goes.
    done = {chunk.index: 0.0 for chunk in plan}
    report = job.progress_between(Progress.TRANSCODING, Progress.LADDER)

    def progress(index: int | None = None, fraction: float = 0.0) -> None:
        if index is not None:
            done[index] = fraction
        report(sum(done.values()) / len(done))
        with job.meanwhile():
            job.publish(publisher)
        if job.hls_playable:
            offer_the_rest()

    try:
        while True:
            if first is not None:
                mine, first = first, None
            else:
                offer_the_rest()
                mine = chunks.chunk_take(claim=job.claim, worker=worker_name())
            if mine is not None:
                if _encode_here(job, folder, mine, src, probe, lambda f, i=mine.index: progress(i, f)):
                    here.add(mine.index)
                continue
            rows = chunks.chunks_of(claim=job.claim)
            if not rows:
                raise ClaimLost(job.video.id)
            failed = next((row for row in rows if row.state == Chunk.State.FAILED), None)
            if failed:
                raise PartsFailed(chunks.chunk_failure_sentence(failed, len(rows)))
            for row in rows:
                if row.state == Chunk.State.DONE and row.index not in here:
                    _fetch_part(job, folder, row, publisher)
                    here.add(row.index)
            done.update({row.index: row.progress for row in rows})
            progress()
            if len(here) == len(rows):
                break
            for row in chunks.chunks_recover_silent(claim=job.claim, silent_for=settings.VIDEO_CHUNK_SILENT_SECONDS):
                chunks.chunk_enqueue(chunk=row)
            time.sleep(PARTS_POLL_SECONDS)
        # A long source plays by HLS as soon as a short one does, so its remux (seconds of
        # copying at this length) waits for the join.
        remuxed = remux.end()
        with job.step("join"):
            job.publish(publisher)
            spans = [(f"{STORYBOARD_FOLDER}/{PART_FOLDER.format(index=c.index)}", part_grid(c, probe)) for c in plan]
            _store_storyboard(job, folder, spans, sheets=False)
            _join_renditions(job, folder, probe, rungs, remuxed)
            job.beat(Progress.LADDER)
    finally:
        chunks.chunks_drop(claim=job.claim)


def _encode_here(
    job: _Attempt, folder: Path, chunk: Chunk, src: Path, probe: Probe, on_progress: Callable[[float], None]
) -> bool:
    """Encode a part in this attempt, reporting (and so publishing) as it grows; False when it
    failed (it counts against the part, which goes back for another try)."""
    own = job.workdir / f"part-{chunk.index}"
    variants = [rung.label for rung in pipeline.ladder(probe)] + [STORYBOARD_FOLDER]
    variants += [AUDIO_VARIANT] if chunk.index == 0 and probe.has_audio else []
    links = [folder / variant / PART_FOLDER.format(index=chunk.index) for variant in variants]
    for link, variant in zip(links, variants):
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(own / variant, target_is_directory=True)
    started = time.monotonic()
    try:
        with job.step(f"part {chunk.index + 1}"):
            cpu = part_encode(chunk, src, probe, own, on_progress=on_progress)
            on_progress(1.0)
            sheets = f"{STORYBOARD_FOLDER}/{PART_FOLDER.format(index=chunk.index)}"
            for sheet in sorted((own / STORYBOARD_FOLDER).iterdir()):
                with sheet.open("rb") as fh:
                    job.store_hls(f"{sheets}/{sheet.name}", File(fh))
            if not chunks.chunk_done(chunk=chunk, cpu_seconds=cpu, seconds=time.monotonic() - started):
                raise ClaimLost(job.video.id)
        log.info("video %s part %s done by %s (%.1f s CPU)", chunk.video_id, chunk.index + 1, worker_name(), cpu)
        return True
    except (ClaimLost, PartLost, ffmpeg.Stopped):
        raise
    except Exception as exc:
        chunks.chunk_fail(chunk=chunk, error=str(exc) if isinstance(exc, MediaRejected) else attempts.PROCESSING_FAILED)
        shutil.rmtree(own, ignore_errors=True)
        # The part may be done elsewhere next and fetched into real folders in their place.
        for link in links:
            link.unlink(missing_ok=True)
        return False


def _store_storyboard(job: _Attempt, folder: Path, spans: list[tuple[str, Grid]], *, sheets: bool = True) -> None:
    """The thumbnail sheets in `folder` (unless stored already, part by part) and the VTT of the
    spans' cues, into the attempt's HLS folder."""
    if sheets:
        for sheet in sorted((folder / STORYBOARD_FOLDER).iterdir()):
            with sheet.open("rb") as fh:
                job.store_hls(f"{STORYBOARD_FOLDER}/{sheet.name}", File(fh))
    job.store_hls(STORYBOARD, ContentFile(storyboard_vtt(spans).encode()))


def _fetch_part(job: _Attempt, folder: Path, chunk: Chunk, publisher: PartsPublisher) -> None:
    """A part another worker encoded, from storage into `folder` (the MP4s are joined from it)."""
    base = hls_folder_of(chunk.video_id, chunk.token)
    for variant in [path.name for path in folder.iterdir() if path.is_dir()]:
        sub = f"{variant}/{PART_FOLDER.format(index=chunk.index)}/"
        try:
            _, files = default_storage.listdir(base + sub)
        except FileNotFoundError:
            continue
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for name in sorted(files, key=lambda name: (name == VARIANT_PLAYLIST, name)):
            with default_storage.open(base + sub + name, "rb") as stored, (folder / sub / name).open("wb") as out:
                shutil.copyfileobj(stored, out, _COPY_CHUNK)
            publisher.stored(sub + name)


def _run(job: _Attempt) -> None:
    with job.step("download"):
        src = job.download_original()
    job.beat(Progress.DOWNLOADED)
    with job.step("probe"):
        probe = probe_file(src)
    ladder = pipeline.ladder(probe)
    with _poster(job, src, probe) as poster, _remux(job, src, probe) as remux:
        job.when_playable = poster.begin
        if probe.duration > settings.VIDEO_CHUNKED_FROM:
            _transcode_in_parts(job, src, probe, ladder, remux)
        else:
            # A rendition within a second, made beside the ladder's first segments.
            remux.begin()
            job.beat(Progress.TRANSCODING)
            _transcode(job, src, probe, ladder, remux)
        poster.end()
    # The ladder names the renditions a video keeps; a remux outside it (a 4K source) served
    # only for instant playback.
    with job.step("finish"):
        ready = attempts.video_mark_ready(
            claim=job.claim, keep={rung.label for rung in ladder}, duration=probe.duration,
            width=probe.width, height=probe.height, fps=probe.fps, hls=True,
        )
        if not ready:
            raise MediaRejected(NOTHING_PLAYABLE)
