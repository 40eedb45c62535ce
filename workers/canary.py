"""The canary: a clip made on the fly goes through the real pipeline on the video queue.

It catches "everything answers ping but nothing gets processed". The short-queue half
(canary_run) creates a CanaryRun row, queues the video-queue half (canary_process) and waits for
it to write its outcome to that row: no Celery result backend is configured.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from domain.health.checks import queue_consumers
from domain.health.models import CanaryRun
from practika_project.celery import app as celery_app
from workers import pipeline
from workers.ffmpeg import child_env, ffmpeg_binary
from workers.probe import probe_file

NO_VIDEO_CONSUMER = "no worker consumes the video queue"
TIMED_OUT = "the video queue did not finish the canary within {timeout:g} s"
READ_BACK_MISMATCH = "the rendition read back is {got}, expected {want}"
CANARY_TASK = "workers.tasks.video_canary_task"


def canary_run(*, timeout: float | None = None, poll: float = 0.25) -> CanaryRun:
    timeout = settings.CANARY_TIMEOUT if timeout is None else timeout
    consumed = any(settings.VIDEO_QUEUE in qs for qs in queue_consumers(timeout=1.0).values())
    run = CanaryRun.objects.create(id=uuid.uuid4().hex)  # the clock starts here
    if not consumed:
        return canary_finish(run_id=run.id, ok=False, reason=NO_VIDEO_CONSUMER)
    # By name: workers.tasks imports this module. The route sends video_* to the video queue.
    celery_app.send_task(CANARY_TASK, args=[run.id])
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        time.sleep(poll)
        run.refresh_from_db()
        if run.finished_at is not None:
            return run
    return canary_finish(run_id=run.id, ok=False, reason=TIMED_OUT.format(timeout=timeout))


def canary_finish(*, run_id: str, ok: bool, reason: str = "") -> CanaryRun:
    """First outcome wins: a canary that timed out stays failed when its job ends late."""
    run = CanaryRun.objects.get(id=run_id)
    now = timezone.now()
    duration_ms = round((now - run.created_at).total_seconds() * 1000, 2)
    CanaryRun.objects.filter(id=run_id, finished_at__isnull=True).update(
        finished_at=now, ok=ok, reason=reason, duration_ms=duration_ms
    )
    run.refresh_from_db()
    return run


def canary_process(*, run_id: str) -> None:
    """The video-queue half: probe, poster, one rendition, read back, clean up."""
    claimed = CanaryRun.objects.filter(id=run_id, started_at__isnull=True, finished_at__isnull=True).update(
        started_at=timezone.now()
    )
    if not claimed:
        return
    step = "make clip"
    try:
        with tempfile.TemporaryDirectory(prefix="practika-canary-") as tmp:
            src = canary_clip(Path(tmp) / "canary.mp4")
            step = "probe"
            probe = probe_file(src)
            step = "poster"
            pipeline.make_poster(src, probe, Path(tmp) / "poster.jpg")
            step = "transcode"
            rung = pipeline.ladder(probe)[0]
            out = Path(tmp) / f"{rung.label}.mp4"
            pipeline.transcode_mp4(src, probe, [rung], {rung.label: out})
            step = "read back"
            canary_read_back(run_id=run_id, rendition=out, want=(rung.width, rung.height))
    except Exception as exc:  # the canary reports every failure as its outcome
        canary_finish(run_id=run_id, ok=False, reason=f"{step}: {type(exc).__name__}: {exc}")
        return
    canary_finish(run_id=run_id, ok=True)


def canary_clip(dest: Path) -> Path:
    """One second of test pattern and tone, small enough to cost a fraction of a second."""
    subprocess.run(
        [
            ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(dest),
        ],
        check=True, capture_output=True, timeout=60, env=child_env(),
    )
    return dest


def canary_read_back(*, run_id: str, rendition: Path, want: tuple[int, int]) -> None:
    """The rendition must probe as what was asked for, and survive a trip through storage."""
    probe = probe_file(rendition)
    if (probe.width, probe.height) != want:
        raise RuntimeError(READ_BACK_MISMATCH.format(got=f"{probe.width}x{probe.height}", want=f"{want[0]}x{want[1]}"))
    with rendition.open("rb") as f:
        name = default_storage.save(f"health/canary-{run_id}-{rendition.name}", File(f))
    try:
        with default_storage.open(name) as stored:
            if stored.read() != rendition.read_bytes():
                raise RuntimeError("storage returned different bytes for the rendition")
    finally:
        default_storage.delete(name)
