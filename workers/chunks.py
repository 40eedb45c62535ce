"""Encoding one part of a long source (domain/videos/chunks.py), wherever it runs.

The coordinator (workers/processing.py) encodes parts itself while it waits; video_chunk_process
is the task's body, for any video worker of any dyno. Either way one part is one ffmpeg run over
its span of the source (workers.pipeline.Part), beating as it goes: a beat that finds the part
no longer this encode's (its video deleted, or the part taken over after it went silent) stops
ffmpeg. A worker elsewhere stores the part's files in the attempt's HLS folder, every playlist
after the files it names, then says the part is done.
"""

from __future__ import annotations

import logging
import os
import resource
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

from domain.storage import storage_delete_under
from domain.videos import attempts, chunks
from domain.videos.attempts import ClaimLost
from domain.videos.hls import PART_FOLDER, VARIANT_PLAYLIST, hls_folder_of
from domain.videos.models import Chunk, Claim, Video
from domain.videos.storyboard import Grid, storyboard_interval, thumb_size
from workers import ffmpeg, pipeline
from workers.probe import MediaRejected, Probe, probe_file

log = logging.getLogger(__name__)

def worker_name() -> str:
    """Which worker process encodes a part (for the log and the parts' rows)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class PartLost(Exception):
    """The part is no longer this encode's: stop quietly."""


def part_encode(
    chunk: Chunk, src: Path, probe: Probe, own: Path, on_progress: Callable[[float], None] | None = None
) -> float:
    """The part's picture (and the whole sound, for the first) as HLS in `own`, beating; the CPU
    seconds its ffmpeg took."""
    last = 0.0

    def beat(fraction: float) -> None:
        nonlocal last
        if on_progress:
            on_progress(fraction)
        if time.monotonic() - last >= attempts.PROGRESS_EVERY_SECONDS:
            last = time.monotonic()
            if not chunks.chunk_beat(chunk=chunk, progress=fraction):
                raise PartLost(chunk.id)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    part = pipeline.Part(chunk.start, chunk.length, with_audio=chunk.index == 0)
    grid, ladder = part_grid(chunk, probe), pipeline.ladder(probe)
    if part.with_audio and probe.has_audio:
        # Its sound comes from a second input, and ffmpeg 5.1 reads for the output stream furthest
        # behind, which one thumbnail every few seconds always is: it reads ahead in the picture's
        # input while the sound lags, and the first segments waited 10-20 s (measured on a 10-minute
        # source). Its thumbnails come from its own smallest rung instead.
        pipeline.transcode(src, probe, ladder, own, on_progress=beat, part=part)
        pipeline.storyboard_from_rung(own, ladder[0], grid)
    else:
        pipeline.transcode(src, probe, ladder, own, on_progress=beat, part=part, storyboard=grid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def part_grid(chunk: Chunk, probe: Probe) -> Grid:
    """The part's storyboard thumbnails, on the grid every part of the video shares (the parts
    before the last are all as long as the first)."""
    regular = chunk.start / chunk.index if chunk.index else chunk.length
    interval = storyboard_interval(probe.duration, part_length=regular)
    return Grid(chunk.start, chunk.length, interval, *thumb_size(probe.width, probe.height))


def part_files(own: Path, index: int) -> list[tuple[str, Path]]:
    """(name in the attempt's HLS folder, file) of an encoded part, each variant's playlist
    after the files it names."""
    found = []
    for variant in sorted(path for path in own.iterdir() if path.is_dir()):
        folder = f"{variant.name}/{PART_FOLDER.format(index=index)}/"
        files = sorted(variant.iterdir(), key=lambda path: (path.name == VARIANT_PLAYLIST, path.name))
        found += [(folder + path.name, path) for path in files]
    return found


def video_chunk_process(*, chunk_id: int) -> None:
    """Encode the part if nobody has it yet; a failure counts against the part (three, and the
    coordinator fails the video)."""
    chunk = chunks.chunk_take(chunk_id=chunk_id, worker=worker_name())
    if chunk is None:
        return
    claim = Claim(chunk.video_id, chunk.attempt, chunk.token)
    try:
        step = attempts.video_step_begin(claim=claim, step=f"part {chunk.index + 1}")
    except ClaimLost:
        return
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"practika-{chunk.video_id}-part-") as tmp:
            src = _original(chunk.video_id, Path(tmp))
            probe = probe_file(src)
            own = Path(tmp) / "hls"
            cpu = part_encode(chunk, src, probe, own)
            for name, path in part_files(own, chunk.index):
                with path.open("rb") as fh:
                    attempts.video_store_hls(claim=claim, name=name, content=File(fh))
            if not chunks.chunk_done(chunk=chunk, cpu_seconds=cpu, seconds=time.monotonic() - started):
                raise PartLost(chunk.id)
            log.info("video %s part %s done by %s (%.1f s CPU)", chunk.video_id, chunk.index + 1, worker_name(), cpu)
    except (PartLost, ClaimLost, ffmpeg.Stopped, Video.DoesNotExist):
        attempts.video_step_end(step_id=step, reason=attempts.CLAIM_LOST)
        if not Video.objects.filter(id=chunk.video_id).exists():
            # Deleted while this part was stored: what landed after the delete would be orphaned.
            storage_delete_under(hls_folder_of(chunk.video_id, chunk.token))
        return
    except Exception as exc:
        reason = str(exc) if isinstance(exc, MediaRejected) else attempts.PROCESSING_FAILED
        attempts.video_step_end(step_id=step, reason=reason, error=exc)
        chunks.chunk_fail(chunk=chunk, error=reason)
        if not isinstance(exc, MediaRejected):
            log.exception("video %s part %s failed", chunk.video_id, chunk.index)
        return
    attempts.video_step_end(step_id=step)


def _original(video_id: str, workdir: Path) -> Path:
    """The upload as a local file: on local disk storage the stored file itself, else a copy."""
    name = Video.objects.values_list("original", flat=True).get(id=video_id)
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        dest = workdir / "original"
        with default_storage.open(name, "rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
        return dest
