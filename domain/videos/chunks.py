"""A long source transcoded in parts that any worker may take.

The attempt that claimed the video (the coordinator) plans the parts (chunks_plan) and queues a
task for each; whichever worker takes one first (chunk_take: the coordinator itself, or a video
worker of any dyno) encodes it, beating (chunk_beat) until it is done (chunk_done) or failed
(chunk_fail). The coordinator never waits for a part nobody runs: it takes pending ones itself,
and one whose worker went silent (chunks_recover_silent) counts as a failure and is taken
again. A part that failed MAX_CHUNK_FAILURES times fails the video, with a sentence saying
which part.

Every write names the chunk's `runner`, a token of the encode that took it: a worker that wakes
after its part was taken over changes nothing. A deleted video takes its chunks along, so its
workers' next beat stops them; a later attempt's chunks carry its own claim token.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from domain.videos.models import Chunk, Claim
from practika_project.celery import app as celery_app

log = logging.getLogger(__name__)

CHUNK_TASK = "workers.tasks.video_chunk_task"
MAX_CHUNK_FAILURES = 3
WORKER_STOPPED = "its worker stopped answering"


def chunks_plan(*, claim: Claim, duration: float, length: float) -> list[Chunk]:
    """The attempt's parts: `length` seconds each from the start, the last one what is left (a
    remainder under a second joins the part before). Parts of earlier attempts go."""
    whole, rest = divmod(duration, length)
    count = max(1, int(whole) + (rest >= 1.0))
    with transaction.atomic():
        Chunk.objects.filter(video_id=claim.video_id).exclude(token=claim.token).delete()
        return Chunk.objects.bulk_create(
            Chunk(
                video_id=claim.video_id, token=claim.token, attempt=claim.attempt, index=index,
                start=index * length, length=length if index < count - 1 else duration - index * length,
            )
            for index in range(count)
        )


def chunk_enqueue(*, chunk: Chunk) -> None:
    """Queue the task that offers the part to every video worker. A broker error is logged only:
    the coordinator takes a part nobody runs itself."""
    try:
        celery_app.send_task(CHUNK_TASK, args=[chunk.id])
    except Exception:
        log.exception("could not queue chunk %s of video %s; its coordinator will run it", chunk.index, chunk.video_id)


def chunk_take(*, worker: str, chunk_id: int | None = None, claim: Claim | None = None) -> Chunk | None:
    """Start encoding a pending part: the one named by `chunk_id`, or the first pending one of
    `claim`'s attempt. None when there is none (taken, done, or its video deleted)."""
    with transaction.atomic():
        pending = Chunk.objects.select_for_update(skip_locked=True).filter(state=Chunk.State.PENDING)
        pending = pending.filter(id=chunk_id) if chunk_id is not None else pending.filter(token=claim.token)
        chunk = pending.order_by("index").first()
        if chunk is None:
            return None
        chunk.state, chunk.runner, chunk.worker = Chunk.State.RUNNING, secrets.token_hex(16), worker
        chunk.progress, chunk.beat_at = 0.0, timezone.now()
        chunk.save(update_fields=["state", "runner", "worker", "progress", "beat_at"])
        return chunk


def _running(chunk: Chunk):
    return Chunk.objects.filter(id=chunk.id, runner=chunk.runner, state=Chunk.State.RUNNING)


def chunk_beat(*, chunk: Chunk, progress: float) -> bool:
    """The part's encode lives and has done `progress` (0.0-1.0); False once it is no longer
    this encode's (its video deleted, or taken over after it went silent)."""
    return _running(chunk).update(progress=progress, beat_at=timezone.now()) == 1


def chunk_done(*, chunk: Chunk, cpu_seconds: float, seconds: float) -> bool:
    """The part is encoded and stored; False when it was no longer this encode's."""
    return _running(chunk).update(
        state=Chunk.State.DONE, progress=1.0, beat_at=timezone.now(), cpu_seconds=cpu_seconds, seconds=seconds
    ) == 1


def chunk_fail(*, chunk: Chunk, error: str) -> None:
    """This encode of the part failed: it goes back to pending for another try, or fails for good
    after MAX_CHUNK_FAILURES."""
    with transaction.atomic():
        row = Chunk.objects.select_for_update().filter(id=chunk.id, runner=chunk.runner).first()
        if row is None or row.state != Chunk.State.RUNNING:
            return
        _count_failure(row, error)


def _count_failure(row: Chunk, error: str) -> None:
    row.failures += 1
    row.state = Chunk.State.FAILED if row.failures >= MAX_CHUNK_FAILURES else Chunk.State.PENDING
    row.error, row.runner, row.progress = error, "", 0.0
    row.save(update_fields=["failures", "state", "error", "runner", "progress"])
    log.warning("video %s chunk %s failed (%s of %s): %s", row.video_id, row.index, row.failures, MAX_CHUNK_FAILURES, error)


def chunks_recover_silent(*, claim: Claim, silent_for: float) -> list[Chunk]:
    """Running parts of the attempt whose worker has not beaten for `silent_for` seconds count as
    failed; those that go back to pending are returned, to be queued again."""
    since = timezone.now() - timedelta(seconds=silent_for)
    again = []
    with transaction.atomic():
        silent = Chunk.objects.select_for_update(skip_locked=True).filter(
            token=claim.token, video_id=claim.video_id, state=Chunk.State.RUNNING, beat_at__lt=since
        )
        for row in silent:
            _count_failure(row, WORKER_STOPPED)
            if row.state == Chunk.State.PENDING:
                again.append(row)
    return again


def chunks_of(*, claim: Claim) -> list[Chunk]:
    return list(Chunk.objects.filter(video_id=claim.video_id, token=claim.token).order_by("index"))


def chunk_failure_sentence(chunk: Chunk, count: int) -> str:
    """What the owner reads when a part failed for good."""
    return (
        f"Part {chunk.index + 1} of {count} of the video ({_clock(chunk.start)}–{_clock(chunk.start + chunk.length)}) "
        f"could not be converted after {chunk.failures} tries: the file may be damaged there."
    )


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}" if whole >= 3600 else f"{whole // 60}:{whole % 60:02d}"


def chunks_drop(*, claim: Claim) -> None:
    """The attempt is over: its parts' rows go (their files are in its HLS folder)."""
    Chunk.objects.filter(video_id=claim.video_id, token=claim.token).delete()
