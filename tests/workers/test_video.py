"""Processing videos: the orchestration called directly with real clips and ffmpeg, then the
real `worker` process end to end — upload, SIGKILL mid-transcode and recovery, lost jobs.

Alice uploads; nobody else appears here (who sees what is tests/web/test_api_videos.py).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from practika_project.celery import app as celery_app
from tests.conftest import free_port
from tests.web.test_s3 import keys, moto_endpoint, s3  # noqa: F401 (fixtures)
from web.videos import services
from web.videos.models import JobStep, Rendition, Video
from workers import pipeline
from workers import video as worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


def add_video(owner, path: Path, **fields) -> Video:
    """What an upload leaves behind: the original in storage and a pending row."""
    video_id = Video._meta.get_field("id").default()
    with path.open("rb") as fh:
        name = services.video_store_original(video_id=video_id, filename=path.name, content=File(fh))
    return services.video_create(
        owner=owner, title=path.stem, video_id=video_id, original_name=name,
        original_filename=path.name, size=path.stat().st_size, **fields,
    )


def stored(video: Video) -> list[str]:
    return sorted(services.storage_names_under(video.storage_prefix))


def leftover_workdirs(video: Video) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"practika-{video.id}-*"))


def steps(video: Video) -> list[tuple[int, str, str]]:
    return [(s.attempt, s.step, s.outcome) for s in JobStep.objects.filter(video=video)]


# --- the orchestration, called directly -----------------------------------------------------


def test_a_browser_safe_upload_is_remuxed_then_the_ladder_follows(alice, clip):
    video = add_video(alice, clip("phone.mp4", seconds=2, width=854, height=480))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.progress, video.error) == ("ready", 100, "")
    assert (video.width, video.height) == (854, 480)
    assert video.duration == pytest.approx(2.0, abs=0.2)
    assert video.processed_at and video.heartbeat_at and video.attempts == 1
    renditions = {r.label: r for r in video.renditions.all()}
    assert set(renditions) == {"360p", "480p"}
    assert (renditions["480p"].width, renditions["480p"].height) == (854, 480)
    for r in renditions.values():
        assert default_storage.size(r.file) == r.size_bytes > 0
        assert r.file.startswith(video.storage_prefix)
    assert video.poster.startswith(video.storage_prefix) and default_storage.exists(video.poster)
    assert steps(video) == [(1, name, "ok") for name in ("download", "probe", "poster", "remux", "transcode", "finish")]
    assert leftover_workdirs(video) == []


def test_a_vp9_upload_is_transcoded_with_no_remux(alice, clip):
    video = add_video(alice, clip("cam.webm", seconds=1, width=480, height=360, vcodec="libvpx-vp9",
                                  acodec="libopus", container="webm"))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready"
    assert [(r.label, r.width, r.height) for r in video.renditions.all()] == [("360p", 480, 360)]
    assert "remux" not in [s.step for s in video.steps.all()]


def test_a_source_that_needs_transcoding_is_watchable_before_its_ladder_is_done(alice, clip):
    video = add_video(alice, clip("cam.webm", seconds=1, width=854, height=480, vcodec="libvpx-vp9",
                                  acodec="libopus", container="webm"))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready"
    assert steps(video) == [(1, name, "ok") for name in ("download", "probe", "poster", "first", "transcode", "finish")]
    first, rest = video.steps.get(step="first"), video.steps.get(step="transcode")
    assert first.finished_at <= rest.started_at  # the 360p rendition was stored before the rest began
    assert sorted(r.label for r in video.renditions.all()) == ["360p", "480p"]


@pytest.mark.parametrize("content, sentence", [
    (b"just some text, not a video\n" * 20, pipeline.NOT_A_VIDEO),
    (b"", pipeline.EMPTY),
])
def test_a_file_that_is_not_a_video_fails_early_and_keeps_nothing(alice, tmp_path, content, sentence):
    fake = tmp_path / "holiday.mp4"
    fake.write_bytes(content)
    video = add_video(alice, fake)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.error) == ("failed", sentence)
    assert stored(video) == [] and not video.renditions.exists()
    assert (video.original, video.poster) == ("", "")
    assert steps(video) == [(1, "download", "ok"), (1, "probe", "failed")]
    assert JobStep.objects.get(video=video, step="probe").reason == sentence
    assert leftover_workdirs(video) == []


def test_a_second_delivery_changes_nothing(alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1))
    worker.video_process(video_id=video.id)
    before = (stored(video), list(Rendition.objects.values_list("id", "file")))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.attempts) == ("ready", 1)
    assert (stored(video), list(Rendition.objects.values_list("id", "file"))) == before


def test_only_one_delivery_claims_a_pending_video(alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1))
    assert Video.claim_for_processing(video.id) == 1
    assert Video.claim_for_processing(video.id) is None
    worker.video_process(video_id=video.id)  # a duplicate delivery while attempt 1 runs
    video.refresh_from_db()
    assert (video.status, video.attempts) == ("processing", 1)
    assert not JobStep.objects.filter(video=video).exists()


def test_reprocess_replaces_renditions_and_files_without_duplicates(alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1, width=640, height=360))
    worker.video_process(video_id=video.id)
    first = stored(video)
    old_files = set(Rendition.objects.filter(video=video).values_list("file", flat=True))
    assert services.video_reprocess(video=video)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.attempts) == ("ready", 1)
    new_files = set(Rendition.objects.filter(video=video).values_list("file", flat=True))
    assert len(new_files) == len(old_files) == 1 and new_files.isdisjoint(old_files)
    assert len(stored(video)) == len(first) == 3, "original, poster, one rendition: old ones removed"


def test_an_attempt_that_lost_its_claim_writes_nothing(alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1))
    attempt = Video.claim_for_processing(video.id)
    # Recovery gave the video to attempt 2 while attempt 1 was still running somewhere.
    Video.objects.filter(id=video.id).update(attempts=2)
    job = worker._Attempt(Video.objects.get(id=video.id), attempt, Path(tempfile.mkdtemp()))
    poster = job.workdir / "poster.jpg"
    poster.write_bytes(b"jpeg")
    with pytest.raises(worker.ClaimLost):
        job.store_poster(poster)
    assert stored(video) == [video.original], "the file it had just stored is removed again"
    assert not Video.beat(video.id, attempt, 50)


def test_the_heartbeat_beats_during_any_step_until_the_claim_is_lost(alice, tmp_path, monkeypatch, transactional_db):
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    attempt = Video.claim_for_processing(video.id)
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.05)
    with worker._Heartbeat(video.id, attempt) as heartbeat:
        first = status_of(video.id).heartbeat_at
        wait_for(lambda: status_of(video.id).heartbeat_at > first, 10, "a heartbeat")
        Video.objects.filter(id=video.id).update(attempts=attempt + 1)  # recovered elsewhere
        wait_for(lambda: not heartbeat.is_alive(), 10, "the heartbeat to stop")
    assert status_of(video.id).progress == 0, "a heartbeat never touches progress"


def test_deleting_a_video_while_it_processes_leaves_no_files(alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1))
    attempt = Video.claim_for_processing(video.id)
    job = worker._Attempt(Video.objects.get(id=video.id), attempt, Path(tempfile.mkdtemp()))
    services.video_delete(video=video)
    poster = job.workdir / "poster.jpg"
    poster.write_bytes(b"jpeg")
    with pytest.raises(worker.ClaimLost):
        job.store_poster(poster)
    assert stored(video) == []


def test_processing_and_delete_go_through_the_storage_api_on_s3(s3, alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1, width=640, height=360))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready", video.error
    stored_keys = keys(s3)
    assert len(stored_keys) == 3 and all(k.startswith(video.storage_prefix) for k in stored_keys)
    assert {video.original, video.poster, video.renditions.get().file} == set(stored_keys)
    services.video_delete(video=video)
    assert keys(s3) == []


# --- the reapers ----------------------------------------------------------------------------


def age(video: Video, **fields) -> None:
    Video.objects.filter(id=video.id).update(**fields)


def test_recover_silent_requeues_then_fails_after_three_attempts(alice, clean_redis, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"x")
    crashed, alive, third = (add_video(alice, tmp_path / "x.mp4") for _ in range(3))
    long_ago = timezone.now() - timedelta(minutes=30)
    age(crashed, status="processing", attempts=1, heartbeat_at=long_ago)
    age(alive, status="processing", attempts=1, heartbeat_at=timezone.now())
    age(third, status="processing", attempts=3, heartbeat_at=long_ago)
    JobStep.objects.create(video=crashed, attempt=1, step="transcode")

    touched = worker.video_recover_silent(silent_for=timedelta(minutes=10))

    assert sorted(touched) == sorted([crashed.id, third.id])
    crashed.refresh_from_db(), alive.refresh_from_db(), third.refresh_from_db()
    assert crashed.status == "pending" and crashed.queued_at is not None
    assert JobStep.objects.get(video=crashed).outcome == "crashed"
    assert alive.status == "processing"
    assert (third.status, third.error) == ("failed", worker.CRASHED_REPEATEDLY)
    assert queue_length(clean_redis) == 1
    assert worker.video_recover_silent(silent_for=timedelta(minutes=10)) == [], "a second run is a no-op"


def test_requeue_publishes_only_pending_videos_nobody_claimed(alice, clean_redis, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"x")
    lost, fresh, busy = (add_video(alice, tmp_path / "x.mp4") for _ in range(3))
    long_ago = timezone.now() - timedelta(minutes=30)
    age(lost, created_at=long_ago, queued_at=None)
    age(fresh, created_at=long_ago, queued_at=timezone.now())
    age(busy, created_at=long_ago, status="processing")

    assert worker.video_requeue_unclaimed(older_than=timedelta(minutes=5)) == [lost.id]
    assert queue_length(clean_redis) == 1
    assert worker.video_requeue_unclaimed(older_than=timedelta(minutes=5)) == [], "just queued"


def test_the_reaper_leaves_a_job_that_waits_in_a_backlog_alone(alice, clean_redis, tmp_path):
    # Nothing consumes the video queue here: a backlog, where a job waits longer than the
    # threshold. Each healing past it must not add another copy of the job behind it.
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    assert services.video_enqueue(video_id=video.id)
    for _ in range(2):
        long_ago = timezone.now() - timedelta(minutes=30)
        age(video, created_at=long_ago, queued_at=long_ago)
        assert worker.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == []
    assert jobs_waiting(clean_redis) == [video.id]


def test_a_job_a_worker_took_and_never_claimed_is_published_again_only_once_stale(alice, clean_redis, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    assert services.video_enqueue(video_id=video.id)
    long_ago = timezone.now() - timedelta(minutes=30)
    age(video, created_at=long_ago, queued_at=long_ago)
    with celery_app.connection_for_read() as conn:
        # What a worker does with acks_late: the message leaves the queue for kombu's `unacked`
        # hash, and stays there until the job ends.
        assert conn.default_channel.basic_get(settings.VIDEO_QUEUE) is not None
        assert jobs_waiting(clean_redis) == []
        assert worker.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == [], "a worker just took it"

        # Still pending half an hour after that delivery: the worker died before claiming it.
        unacked = redis.Redis.from_url(clean_redis)
        for tag in unacked.zrange("unacked_index", 0, -1):
            unacked.zadd("unacked_index", {tag: time.time() - 1800})
        assert worker.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == [video.id]
        assert jobs_waiting(clean_redis) == [video.id]


def test_a_reaper_that_read_the_row_before_the_uploads_own_publish_does_not_double_it(alice, clean_redis, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    seen = Video.objects.get(id=video.id).queued_at
    assert seen is None, "nothing published yet"
    assert services.video_enqueue(video_id=video.id)
    assert not services.video_requeue(video_id=video.id, queued_at=seen)
    assert jobs_waiting(clean_redis) == [video.id]


def test_with_the_filesystem_broker_the_reaper_still_publishes(alice, tmp_path):
    # `make run` without REDIS_URL: the broker cannot be asked what it holds, so a stale job is
    # published again, as before.
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    long_ago = timezone.now() - timedelta(minutes=30)
    age(video, created_at=long_ago, queued_at=long_ago)
    folder, control = tmp_path / "broker", tmp_path / "control"
    folder.mkdir(), control.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(control),
               "store_processed": False}
    with broker_at("filesystem://localhost/", options):
        assert worker.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == [video.id]
    assert len(list(folder.glob("*.msg"))) == 1


def queue_length(redis_url: str) -> int:
    return redis.Redis.from_url(redis_url).llen("video")


def jobs_waiting(redis_url: str) -> list[str]:
    """The video id of each processing job waiting in the video queue, one per message."""
    ids = []
    for raw in redis.Redis.from_url(redis_url).lrange("video", 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == "workers.tasks.video_process_task"
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0])
    return ids


@contextmanager
def broker_at(url: str, transport_options: dict | None = None):
    """Point this process's Celery publisher at another broker for a while."""

    def reset(url: str, options: dict) -> None:
        # Only forget the cached pools: kombu keeps them per URL, and closing one would leave
        # the working broker's pool closed when it is picked up again.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        celery_app.conf.broker_url = url
        celery_app.conf.broker_transport_options = options

    before = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    reset(url, transport_options or before[1])
    try:
        yield
    finally:
        reset(*before)


def broker_down():
    """A broker at a port where nothing listens."""
    return broker_at(f"redis://127.0.0.1:{free_port()}/0")


def test_an_upload_while_the_broker_is_down_succeeds_and_the_next_healing_queues_it(
    client, alice, clean_redis, transactional_db
):
    client.force_login(alice)
    with broker_down():
        response = client.post("/core/api/videos/", {"title": "t", "file": File(open(__file__, "rb"), name="v.mp4")})
    assert response.status_code == 201
    video = Video.objects.get(id=response.json()["id"])
    assert (video.status, video.queued_at) == ("pending", None), "never published"
    assert queue_length(clean_redis) == 0

    # The broker is back: the next self-check's healing publishes it at once, not after the
    # threshold meant for jobs that were published and then lost.
    heal_after = timedelta(seconds=settings.HEAL_UNCLAIMED_AFTER)
    assert worker.video_requeue_unclaimed(older_than=heal_after) == [video.id]
    assert jobs_waiting(clean_redis) == [video.id]
    assert worker.video_requeue_unclaimed(older_than=heal_after) == [], "published once"


# --- the real worker process ----------------------------------------------------------------


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything under it, as an OOM kill or a dyno crash would: the
    worker's celery nodes and ffmpeg run in sessions of their own, so a group kill misses them."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, tree = [pid], []
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def start_worker(processes):
    """The Procfile's worker; torn down with its whole tree, since its celery nodes run in
    sessions of their own and would outlive a process-group kill."""
    started = []

    def start(**env: str):
        proc = processes("worker", **env)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        kill_tree(proc.popen.pid)


def wait_for(predicate, timeout: float, what: str, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    log = proc.output()[-6000:] if proc else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{log}")


def status_of(video_id: str) -> Video:
    return Video.objects.get(id=video_id)


@pytest.mark.slow
def test_multipart_upload_becomes_ready_on_the_real_worker(client, alice, clip, start_worker):
    worker_proc = start_worker()
    source = clip("phone.mov", seconds=2, width=640, height=360, container="mov", rotate=90)
    client.force_login(alice)
    with source.open("rb") as fh:
        response = client.post("/core/api/videos/", {"title": "Scales", "file": fh, "visibility": "public"})
    assert response.status_code == 201
    video_id = response.json()["id"]
    video = wait_for(lambda: (v := status_of(video_id)).status in ("ready", "failed") and v, 300, "ready", worker_proc)
    assert video.status == "ready", video.error
    body = client.get(f"/core/api/videos/{video_id}/").json()
    assert (body["width"], body["height"]) == (360, 640), "a portrait phone video stays portrait"
    assert body["duration"] == pytest.approx(2.0, abs=0.2)
    assert body["thumbnail_url"] and [r["label"] for r in body["renditions"]] == ["360p"]
    assert (body["renditions"][0]["width"], body["renditions"][0]["height"]) == (360, 640)


@pytest.mark.slow
def test_a_worker_killed_mid_transcode_is_recovered_and_a_new_worker_finishes(alice, clip, start_worker):
    # Long and not browser-safe, so the job spends its time in the transcode step.
    source = clip("long.webm", seconds=20, width=1280, height=720, vcodec="libvpx-vp9", acodec=None,
                  container="webm")
    video = add_video(alice, source)
    first = start_worker(VIDEO_WORKER_CONCURRENCY="1")
    wait_for(lambda: JobStep.objects.filter(video=video, step="transcode").exists() and status_of(video.id).progress > 15,
             180, "the transcode to report progress", first)
    kill_tree(first.popen.pid)
    first.popen.wait()
    assert status_of(video.id).status == "processing"

    time.sleep(2.5)
    assert worker.video_recover_silent(silent_for=timedelta(seconds=2)) == [video.id]
    second = start_worker()
    done = wait_for(lambda: (v := status_of(video.id)).status in ("ready", "failed") and v, 300, "ready", second)
    assert done.status == "ready", done.error
    assert done.attempts == 2
    assert (1, "transcode", "crashed") in steps(video)
    assert {r.label for r in done.renditions.all()} == {"360p", "480p", "720p"}
    assert leftover_workdirs(video) == [], "the killed attempt's temporary files are gone too"


@pytest.mark.slow
def test_a_purged_job_is_requeued_and_processed(alice, clip, start_worker, clean_redis):
    video = add_video(alice, clip("a.mp4", seconds=1))
    wait_for(lambda: queue_length(clean_redis), 10, "the job to be published")
    assert queue_length(clean_redis) == 1
    redis.Redis.from_url(clean_redis).delete("video")  # the message is lost
    assert worker.video_requeue_unclaimed(older_than=timedelta(0)) == [video.id]
    proc = start_worker()
    done = wait_for(lambda: (v := status_of(video.id)).status in ("ready", "failed") and v, 300, "ready", proc)
    assert done.status == "ready", done.error
