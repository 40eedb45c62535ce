"""The worker killed or restarted mid-transcode, and one job delivered twice: one outcome."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import redis

from tests.faults.conftest import kill_group, upload, user_token, wait_ready, wait_until
from tests.media import make_clip

pytestmark = pytest.mark.slow

# Heroku: SIGTERM, then SIGKILL 30 s later.
HEROKU_GRACE_SECONDS = 30


def transcoding(video_id: str) -> bool:
    from domain.videos.models import JobStep

    return JobStep.objects.filter(video_id=video_id, step="transcode", outcome="running").exists()


def long_clip(tmp_path: Path) -> Path:
    # Not browser-safe and 720p, so the job spends long enough in the transcode step (three
    # rungs) to be caught there even on an idle machine; mpeg4 keeps making it cheap.
    return make_clip(tmp_path / "long.mp4", seconds=30, width=1280, height=720, vcodec="mpeg4", acodec=None)


def stray_processes(media_root: Path) -> list[int]:
    """Worker nodes, pool processes or ffmpeg still running against this test's media folder."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            mine = f"MEDIA_ROOT={media_root}".encode() in (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if mine and (b"ffmpeg" in cmdline or b"\x00worker\x00" in cmdline or b"\x00workers\x00" in cmdline):
            found.append(int(proc.name))
    return found


def assert_one_clean_set(video_id: str, media_root: Path) -> None:
    """One rendition per label, and on disk exactly the files the rows name (and one attempt's HLS):
    nothing doubled."""
    from domain.videos.models import Rendition, Video

    video = Video.objects.get(id=video_id)
    renditions = list(Rendition.objects.filter(video_id=video_id))
    labels = [r.label for r in renditions]
    assert labels and len(labels) == len(set(labels)), labels
    named = {video.original, video.poster, *(r.file for r in renditions)}
    # The HLS master names its folder: the playlists and segments of one attempt.
    assert video.hls_playlist
    hls = (media_root / video.hls_playlist).parent
    named |= {str(p.relative_to(media_root)) for p in hls.rglob("*") if p.is_file()}
    stored = {str(p.relative_to(media_root)) for p in (media_root / "videos" / video_id).rglob("*") if p.is_file()}
    assert stored == named, f"stored {sorted(stored)} but the rows name {sorted(named)}"


def test_sigkill_mid_transcode_is_recovered_by_the_running_stack(stack, media_root, tmp_path):
    env = {"HEAL_SILENT_AFTER": "8", "VIDEO_WORKER_CONCURRENCY": "1"}
    stack.web(**env)
    stack.start("beat", **env)
    first = stack.start("worker", **env)
    # Uploading before any worker declared the queue on a just-emptied Redis would test another
    # fault (the publish finds no binding; healing re-queues it much later).
    wait_until(lambda: first.output().count("ready.") >= 2, 60, "worker nodes ready")
    response = upload(stack.base, user_token("alice"), long_clip(tmp_path))
    assert response.status_code == 201, response.text
    video_id = response.json()["id"]
    wait_until(lambda: transcoding(video_id), 120, "the transcode step to start", interval=0.1)

    kill_group(first, signal.SIGKILL)
    # The worker's nodes and their ffmpeg die with it: nothing keeps writing this video's files.
    wait_until(lambda: not stray_processes(media_root), 10, "the killed worker's nodes and ffmpeg to be gone")
    stack.start("worker", **env)
    # Beat's self-check notices the silent heartbeat and re-queues; the new worker finishes.
    wait_ready([video_id], 240)

    from domain.videos.models import Video

    assert Video.objects.get(id=video_id).attempts == 2
    assert_one_clean_set(video_id, media_root)


def test_sigterm_mid_transcode_gives_the_job_back_to_the_broker(stack, media_root, tmp_path, clean_redis):
    env = {"HEAL_SILENT_AFTER": "8", "VIDEO_WORKER_CONCURRENCY": "1", "WORKER_SOFT_SHUTDOWN_TIMEOUT": "2"}
    stack.web(**env)
    first = stack.start("worker", **env)
    # Uploading before any worker declared the queue on a just-emptied Redis would test another
    # fault (the publish finds no binding; healing re-queues it much later).
    wait_until(lambda: first.output().count("ready.") >= 2, 60, "worker nodes ready")
    response = upload(stack.base, user_token("alice"), long_clip(tmp_path))
    assert response.status_code == 201, response.text
    video_id = response.json()["id"]
    wait_until(lambda: transcoding(video_id), 120, "the transcode step to start", interval=0.1)

    first.stop(timeout=HEROKU_GRACE_SECONDS)  # SIGTERM, and SIGKILL if it outlives the grace period
    assert first.stopped_in is not None, "the worker needed SIGKILL:\n" + first.output()[-3000:]
    # Not acknowledged and lost: the message is back in the video queue for the next worker.
    assert redis.Redis.from_url(clean_redis).llen("video") == 1

    stack.start("beat", **env)
    stack.start("worker", **env)
    wait_ready([video_id], 240)
    assert_one_clean_set(video_id, media_root)


def test_the_same_job_delivered_twice_at_once_has_one_outcome(stack, media_root, tmp_path):
    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.core.files.storage import default_storage

    from domain.videos import services
    from domain.videos.models import JobStep, Video, new_video_id
    from workers import tasks

    worker = stack.start("worker", VIDEO_WORKER_CONCURRENCY="2")
    wait_until(lambda: worker.output().count("ready.") >= 2, 60, "worker nodes ready")
    owner = get_user_model().objects.create_user("bob")
    video_id = new_video_id()
    clip = make_clip(tmp_path / "c.mp4", seconds=2, width=320, height=240, vcodec="mpeg4")
    with clip.open("rb") as f:
        name = default_storage.save(services.original_name_for(video_id, "c.mp4"), File(f))
    Video.objects.create(id=video_id, owner=owner, title="twice", original=name, size=clip.stat().st_size)

    both = [threading.Thread(target=tasks.video_process_task.delay, args=(video_id,)) for _ in range(2)]
    for t in both:
        t.start()
    for t in both:
        t.join()
    wait_ready([video_id], 120)
    wait_until(lambda: "another delivery has it" in worker.output() or "not pending" in worker.output(), 30,
               "the second delivery backing off")
    assert Video.objects.get(id=video_id).attempts == 1
    assert set(JobStep.objects.filter(video_id=video_id).values_list("attempt", flat=True)) == {1}
    assert_one_clean_set(video_id, media_root)


def test_a_node_that_dies_alone_is_started_again_in_place(stack):
    worker = stack.start("worker")
    wait_until(lambda: worker.output().count("ready.") >= 2, 60, "worker nodes ready")
    children = Path(f"/proc/{worker.popen.pid}/task/{worker.popen.pid}/children").read_text().split()
    short = next(int(pid) for pid in children if b"short@" in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(short, signal.SIGKILL)  # as kombu's "unrecoverable error" on a Redis drop ends a node
    wait_until(lambda: "starting it again" in worker.output() and worker.output().count("ready.") >= 3, 60,
               "the short node started again")
    assert worker.popen.poll() is None, "the worker process exited instead"
