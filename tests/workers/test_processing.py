"""Processing videos: the orchestration called directly with real clips and ffmpeg, then the
real `worker` process end to end — upload, SIGKILL mid-transcode and recovery, lost jobs.

Alice uploads; nobody else appears here (who sees what is tests/web/api/test_videos.py).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from domain.videos import attempts, services
from domain.videos.hls import playlist_resolve, playlist_uris
from domain.videos.models import (
    REPROCESSING_FAILED,
    JobStep,
    Rendition,
    Video,
)
from practika_project.celery import app as celery_app
from tests.conftest import free_port, wait_http
from tests.domain.test_s3_storage import keys, s3  # noqa: F401 (fixtures)
from tests.domain.videos.test_attempts import add_video, steps, stored
from workers import pipeline, probe
from workers import processing as worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


@pytest.fixture
def sam(django_user_model):
    return django_user_model.objects.create_user("sam", password="sam-secret-1", is_staff=True)


def leftover_workdirs(video: Video) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"practika-{video.id}-*"))


# --- the orchestration, called directly -----------------------------------------------------


def test_a_browser_safe_upload_is_remuxed_beside_the_ladder(alice, clip):
    video = add_video(alice, clip("phone.mp4", seconds=2, width=854, height=480))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.progress, video.error) == ("ready", 100, "")
    assert (video.width, video.height) == (854, 480)
    assert video.duration == pytest.approx(2.0, abs=0.2)
    assert video.fps == 25.0, "the probe's frame rate, for the player's frame step"
    assert video.processed_at and video.heartbeat_at and video.attempts == 1
    renditions = {r.label: r for r in video.renditions.all()}
    assert set(renditions) == {"360p", "480p"}
    assert (renditions["480p"].width, renditions["480p"].height) == (854, 480)
    for r in renditions.values():
        assert default_storage.size(r.file) == r.size_bytes > 0
        assert r.file.startswith(video.storage_prefix)
    assert video.poster.startswith(video.storage_prefix) and default_storage.exists(video.poster)
    assert steps(video) == [(1, name, "ok") for name in ("download", "probe", "remux", "transcode", "poster", "finish")]
    remux, transcode = (video.steps.get(step=name) for name in ("remux", "transcode"))
    assert remux.finished_at > transcode.started_at, "the ladder's first segments wait for no remux"
    assert leftover_workdirs(video) == []


def test_a_vp9_upload_is_transcoded_with_no_remux(alice, clip):
    video = add_video(alice, clip("cam.webm", seconds=1, width=480, height=360, vcodec="libvpx-vp9",
                                  acodec="libopus", container="webm"))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready"
    assert [(r.label, r.width, r.height) for r in video.renditions.all()] == [("360p", 480, 360)]
    assert "remux" not in [s.step for s in video.steps.all()]


def watch_hls_playable(monkeypatch, video: Video) -> list[tuple]:
    """What the video looked like each time its attempt said its HLS plays: (switched, status,
    hls_playlist, renditions, what was stored of the HLS then, poster)."""
    seen = []
    playable = attempts.video_hls_playable

    def watch(*, claim):
        switched = playable(claim=claim)
        row = Video.objects.get(id=video.id)
        seen.append((switched, row.status, row.hls_playlist, row.renditions.count(), hls_stored(video), row.poster))
        return switched

    monkeypatch.setattr(attempts, "video_hls_playable", watch)
    return seen


def hls_stored(video: Video) -> dict[str, str]:
    """Every stored playlist of the video's HLS, by name, with its text."""
    return {name: default_storage.open(name).read().decode() for name in stored(video) if name.endswith(".m3u8")}


def assert_complete(playlists: dict[str, str], master: str) -> None:
    """The master and every playlist it names are stored, and every URI they name is stored."""
    assert master in playlists
    for name, text in playlists.items():
        for uri in playlist_uris(text):
            assert default_storage.exists(playlist_resolve(name, uri)), (name, uri)


def test_a_source_that_needs_transcoding_plays_as_hls_before_any_rendition(alice, clip, monkeypatch):
    video = add_video(alice, clip("cam.webm", seconds=5, width=854, height=480, vcodec="libvpx-vp9",
                                  acodec="libopus", container="webm"))
    seen = watch_hls_playable(monkeypatch, video)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready"
    assert steps(video) == [(1, name, "ok") for name in ("download", "probe", "transcode", "poster", "finish")]
    [(switched, status, playlist, renditions, playlists, poster)] = seen
    assert (switched, status, renditions) == (True, "processing", 0), "HLS plays before any MP4 exists"
    assert poster == "" and video.poster, "the poster is made once it plays, not before"
    assert playlist == f"{video.storage_prefix}hls/{video.claim}/master.m3u8" == video.hls_playlist
    assert_complete(playlists, playlist)
    assert sorted(r.label for r in video.renditions.all()) == ["360p", "480p"]
    final = hls_stored(video)
    assert_complete(final, playlist)
    assert len(final) == 4, "master, audio, 360p and 480p"
    assert all(text.rstrip().endswith("#EXT-X-ENDLIST") for name, text in final.items() if name != playlist)


def test_a_reprocess_keeps_the_hls_that_plays_until_it_is_ready(alice, clip, monkeypatch):
    video = add_video(alice, clip("cam.webm", seconds=3, width=640, height=360, vcodec="libvpx-vp9",
                                  acodec="libopus", container="webm"))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    before = video.hls_playlist
    assert before and services.video_reprocess(video=video)
    seen = watch_hls_playable(monkeypatch, video)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    [(switched, status, playlist, _, _, _)] = seen
    assert (switched, status, playlist) == (False, "processing", before), "the earlier HLS plays on"
    assert video.status == "ready" and video.hls_playlist not in ("", before)
    assert not default_storage.exists(before), "the earlier HLS went at ready"
    assert_complete(hls_stored(video), video.hls_playlist)


def test_a_poster_that_fails_after_the_video_played_fails_the_video_with_its_sentence(alice, clip, monkeypatch):
    video = add_video(alice, clip("cam.webm", seconds=3, width=640, height=360, vcodec="libvpx-vp9",
                                  acodec="libopus", container="webm"))
    seen = watch_hls_playable(monkeypatch, video)

    def no_frame(src, probe_, dest):
        raise probe.MediaRejected(probe.UNDECODABLE)

    monkeypatch.setattr(pipeline, "make_poster", no_frame)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert len(seen) == 1, "it played first"
    assert (video.status, video.error, video.hls_playlist) == ("failed", probe.UNDECODABLE, "")
    assert [s for s in steps(video) if s[1] == "poster"] == [(1, "poster", "failed")]
    assert leftover_workdirs(video) == []


@pytest.mark.parametrize("content, sentence", [
    (b"just some text, not a video\n" * 20, probe.NOT_A_VIDEO),
    (b"", probe.EMPTY),
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
    assert Video.claim_for_processing(video.id).attempt == 1
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
    assert len(outside_hls(stored(video))) == len(outside_hls(first)) == 3, "original, poster, one rendition"
    assert hls_folders(stored(video)) == {video.claim}, "the new attempt's HLS, the old one removed"
    assert hls_folders(first).isdisjoint(hls_folders(stored(video)))


def outside_hls(names: list[str]) -> list[str]:
    return [name for name in names if "/hls/" not in name]


def hls_folders(names: list[str]) -> set[str]:
    """The attempts (claim tokens) whose HLS folders these stored names are in."""
    return {name.split("/")[3] for name in names if "/hls/" in name}


def test_the_heartbeat_beats_during_any_step_until_the_claim_is_lost(alice, tmp_path, monkeypatch, transactional_db):
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    claim = Video.claim_for_processing(video.id)
    monkeypatch.setattr(attempts, "HEARTBEAT_SECONDS", 0.05)
    lost = threading.Event()
    with worker._HeartbeatThread(claim, on_lost=lost.set) as heartbeat:
        first = status_of(video.id).heartbeat_at
        wait_for(lambda: status_of(video.id).heartbeat_at > first, 10, "a heartbeat")
        Video.objects.filter(id=video.id).update(claim="recovered-elsewhere")
        wait_for(lambda: not heartbeat.is_alive(), 10, "the heartbeat to stop")
    assert lost.is_set(), "the heartbeat said the claim was lost (so ffmpeg is stopped)"
    assert status_of(video.id).progress == 0, "a heartbeat never touches progress"


def test_processing_and_delete_go_through_the_storage_api_on_s3(s3, alice, clip):
    video = add_video(alice, clip("a.mp4", seconds=1, width=640, height=360))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready", video.error
    stored_keys = keys(s3)
    assert all(k.startswith(video.storage_prefix) for k in stored_keys)
    assert {video.original, video.poster, video.renditions.get().file} == set(outside_hls(stored_keys))
    assert video.hls_playlist in stored_keys and hls_folders(stored_keys) == {video.claim}
    assert_complete(hls_stored(video), video.hls_playlist)
    services.video_delete(video=video)
    assert keys(s3) == []


# --- what a failed attempt keeps --------------------------------------------------------------

# ffmpeg's own libraries do not fit in this much address space: every ffmpeg run hits the limit.
TINY_MEMORY = 150 * 1024**2


def test_a_limit_hit_gives_the_attempt_back_and_never_deletes_the_original(alice, clip, clean_redis, settings):
    video = add_video(alice, clip("a.mp4", seconds=1))
    original = stored(video)
    roomy, settings.FFMPEG_MAX_MEMORY_BYTES = settings.FFMPEG_MAX_MEMORY_BYTES, TINY_MEMORY

    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.attempts, video.error) == ("pending", 1, ""), "given back, as a crash would be"
    assert queue_length(clean_redis) == 1 and video.queued_at is not None
    assert stored(video) == original

    worker.video_process(video_id=video.id)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.attempts, video.error) == ("failed", 3, probe.OVER_LIMIT)
    assert stored(video) == original and video.original == original[0], "kept for a later reprocess"
    limited = JobStep.objects.filter(video=video, outcome="failed")
    # The remux and the transcode beside it both meet the limit.
    assert {(s.attempt, s.reason) for s in limited} == {(n, probe.OVER_LIMIT) for n in (1, 2, 3)}
    assert all("memory" in s.detail for s in limited), "the details (ffmpeg's words) are kept for staff"

    settings.FFMPEG_MAX_MEMORY_BYTES = roomy
    assert services.video_reprocess(video=video)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.error) == ("ready", ""), "the kept original makes a later reprocess work"


@pytest.mark.parametrize("spoil", ["lowered limit", "damaged original", "limit hit"])
def test_a_reprocess_that_fails_leaves_a_ready_video_playing(alice, clip, clean_redis, settings, spoil):
    video = add_video(alice, clip("a.mp4", seconds=2, width=640, height=360))
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready"
    files, renditions = stored(video), list(Rendition.objects.filter(video=video).values_list("label", "file"))

    if spoil == "lowered limit":
        settings.MAX_VIDEO_SECONDS = 1
        reason = probe.TOO_LONG.format(limit="1 second")
    elif spoil == "damaged original":
        Path(default_storage.path(video.original)).write_bytes(b"not a video any more\n" * 100)
        reason = probe.NOT_A_VIDEO
    else:
        settings.FFMPEG_MAX_MEMORY_BYTES = TINY_MEMORY
        reason = probe.OVER_LIMIT
    assert services.video_reprocess(video=video)
    for _ in range(3 if spoil == "limit hit" else 1):
        worker.video_process(video_id=video.id)

    video.refresh_from_db()
    assert (video.status, video.progress) == ("ready", 100), "it still plays"
    assert video.error == REPROCESSING_FAILED.format(reason=reason)
    assert (video.width, video.height) == (640, 360)
    assert stored(video) == files, "original, poster and renditions all kept"
    assert list(Rendition.objects.filter(video=video).values_list("label", "file")) == renditions
    client = Client()
    client.force_login(alice)
    body = client.get(f"/core/api/videos/{video.id}/").json()
    assert (body["status"], body["error"]) == ("ready", video.error)
    assert [r["label"] for r in body["renditions"]] == ["360p"] and body["original_url"]
    assert ("failed", reason) in [(s["outcome"], s["reason"]) for s in body["history"]]


def test_owners_get_a_sentence_in_the_history_and_staff_the_details(alice, sam, admin_client, clip):
    video = add_video(alice, clip("a.mp4", seconds=1))
    # The original turned into a folder: reading it fails with an OSError naming a server path.
    path = Path(default_storage.path(video.original))
    path.unlink()
    path.mkdir()
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert (video.status, video.error) == ("failed", attempts.PROCESSING_FAILED)
    step = JobStep.objects.get(video=video, step="download")
    assert step.detail.startswith("IsADirectoryError") and str(path) in step.detail

    client = Client()
    client.force_login(alice)
    owner = client.get(f"/core/api/videos/{video.id}/")
    assert owner.json()["history"] == [{
        "attempt": 1, "step": "download", "started_at": owner.json()["history"][0]["started_at"],
        "finished_at": owner.json()["history"][0]["finished_at"], "outcome": "failed",
        "reason": attempts.PROCESSING_FAILED, "detail": None,
    }]
    assert str(path) not in owner.content.decode() and "IsADirectoryError" not in owner.content.decode()
    client.force_login(sam)
    staff = client.get(f"/core/api/videos/{video.id}/").json()
    assert [(s["reason"], s["detail"]) for s in staff["history"]] == [(attempts.PROCESSING_FAILED, step.detail)]
    admin = admin_client.get(f"/admin/videos/video/{video.id}/change/")
    assert admin.status_code == 200 and "IsADirectoryError" in admin.content.decode()


# --- database blips, deletions and lost claims, against the real PostgreSQL -----------------


def process_in_thread(video_id: str) -> threading.Thread:
    """video_process on a thread of its own (a connection of its own), as a worker runs it."""

    def run() -> None:
        try:
            worker.video_process(video_id=video_id)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def ffmpeg_transcoding(video_id: str) -> int | None:
    """The pid of the ffmpeg transcoding this video (the run with a filter graph), if any."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(argv[0].decode()).name != "ffmpeg" or b"-filter_complex" not in argv:
            continue
        # It reads the video's original, or writes its HLS where it runs: the attempt's folder.
        try:
            where = os.readlink(cmdline.parent / "cwd").encode()
        except OSError:
            continue
        if any(f"practika-{video_id}-".encode() in arg for arg in [*argv, where]):
            return int(cmdline.parent.name)
    return None


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def terminate_other_backends() -> int:
    """pg_terminate_backend every other connection to this test database, as a failover or an
    operator would: the worker's connections die under it. The number terminated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.fixture
def live_db(transactional_db, postgres) -> None:
    """Rows committed as they are written, so threads with connections of their own see them."""


def test_the_heartbeat_outlives_a_dropped_database_connection(alice, tmp_path, monkeypatch, live_db):
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    claim = Video.claim_for_processing(video.id)
    monkeypatch.setattr(attempts, "HEARTBEAT_SECONDS", 0.05)
    with worker._HeartbeatThread(claim, on_lost=lambda: None) as heartbeat:
        first = status_of(video.id).heartbeat_at
        wait_for(lambda: status_of(video.id).heartbeat_at > first, 10, "a heartbeat")
        for _ in range(3):
            assert terminate_other_backends() >= 1
            killed_at = timezone.now()
            wait_for(lambda: status_of(video.id).heartbeat_at > killed_at, 30, "a heartbeat on a new connection")
        assert heartbeat.is_alive()


@pytest.mark.slow
def test_a_transcode_finishes_ready_while_its_database_connections_are_killed(alice, clip, monkeypatch, live_db):
    # Progress beats every 0.2 s, so each kill lands in ffmpeg's progress callback.
    monkeypatch.setattr(attempts, "PROGRESS_EVERY_SECONDS", 0.2)
    monkeypatch.setattr(attempts, "HEARTBEAT_SECONDS", 0.5)
    video = add_video(alice, clip("long.mp4", seconds=40, width=640, height=360, vcodec="mpeg4", acodec=None))
    processing = process_in_thread(video.id)
    pid = wait_for(lambda: ffmpeg_transcoding(video.id), 180, "ffmpeg to transcode")
    kills = 0
    while running(pid) and kills < 3:
        progress = status_of(video.id).progress
        kills += terminate_other_backends() > 0
        # The next progress report, on a new connection, proves the callback survived the kill.
        wait_for(lambda: status_of(video.id).progress > progress or not running(pid), 120, "progress after the kill")
    processing.join(300)
    done = status_of(video.id)
    assert kills >= 1
    assert (done.status, done.error) == ("ready", ""), done.error
    assert all(outcome == "ok" for _, _, outcome in steps(done))


def test_a_lost_claim_seen_in_ffmpeg_s_progress_stops_it(alice, clip, monkeypatch, live_db):
    monkeypatch.setattr(attempts, "PROGRESS_EVERY_SECONDS", 0.1)
    src = clip("long.mp4", seconds=60, width=640, height=360, vcodec="mpeg4", acodec=None)
    video = add_video(alice, src)
    claim = Video.claim_for_processing(video.id)
    job = worker._Attempt(Video.objects.get(id=video.id), claim, Path(tempfile.mkdtemp(prefix=f"practika-{video.id}-")))
    source = probe.probe_file(src)

    def take_over() -> None:
        wait_for(lambda: ffmpeg_transcoding(video.id), 60, "ffmpeg to transcode")
        Video.objects.filter(id=video.id).update(claim="recovered-elsewhere")
        connection.close()

    thief = threading.Thread(target=take_over)
    thief.start()
    # No heartbeat thread here: only the progress callback can notice.
    with pytest.raises(attempts.ClaimLost):
        worker._transcode(job, src, source, pipeline.ladder(source), worker._remux(job, src, source))
    thief.join()
    assert list(job.workdir.iterdir()) == [], "ffmpeg was stopped mid-run and its partial output removed"
    assert JobStep.objects.get(video=video, step="transcode").reason == attempts.CLAIM_LOST


@pytest.mark.slow
def test_deleting_a_video_mid_transcode_stops_its_ffmpeg(client, alice, clip, monkeypatch, live_db):
    monkeypatch.setattr(attempts, "HEARTBEAT_SECONDS", 0.2)
    video = add_video(alice, clip("long.mp4", seconds=30, width=640, height=360, vcodec="mpeg4", acodec=None))
    processing = process_in_thread(video.id)
    pid = wait_for(lambda: ffmpeg_transcoding(video.id), 180, "ffmpeg to transcode")
    # Frozen, it reports no progress and never finishes: only the heartbeat can end it.
    os.kill(pid, signal.SIGSTOP)
    try:
        client.force_login(alice)
        assert client.delete(f"/core/api/videos/{video.id}/").status_code == 204
        wait_for(lambda: not running(pid), 60, "the deleted video's ffmpeg to be stopped")
    finally:
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    processing.join(60)
    assert not processing.is_alive()
    assert stored(video) == [] and leftover_workdirs(video) == []


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

    touched = services.video_recover_silent(silent_for=timedelta(minutes=10))

    assert sorted(touched) == sorted([crashed.id, third.id])
    crashed.refresh_from_db(), alive.refresh_from_db(), third.refresh_from_db()
    assert crashed.status == "pending" and crashed.queued_at is not None
    assert JobStep.objects.get(video=crashed).outcome == "crashed"
    assert alive.status == "processing"
    assert (third.status, third.error) == ("failed", services.CRASHED_REPEATEDLY)
    assert queue_length(clean_redis) == 1
    assert services.video_recover_silent(silent_for=timedelta(minutes=10)) == [], "a second run is a no-op"


def test_a_ready_video_whose_reprocess_keeps_crashing_goes_back_to_ready(alice, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    age(video, status="processing", attempts=3, heartbeat_at=timezone.now() - timedelta(minutes=30),
        first_ready_at=timezone.now() - timedelta(days=1))
    assert services.video_recover_silent(silent_for=timedelta(minutes=10)) == [video.id]
    video.refresh_from_db()
    assert (video.status, video.error) == ("ready", REPROCESSING_FAILED.format(reason=services.CRASHED_REPEATEDLY))
    assert stored(video) == [video.original]


def test_requeue_publishes_only_pending_videos_nobody_claimed(alice, clean_redis, tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"x")
    lost, fresh, busy = (add_video(alice, tmp_path / "x.mp4") for _ in range(3))
    long_ago = timezone.now() - timedelta(minutes=30)
    age(lost, created_at=long_ago, queued_at=None)
    age(fresh, created_at=long_ago, queued_at=timezone.now())
    age(busy, created_at=long_ago, status="processing")

    assert services.video_requeue_unclaimed(older_than=timedelta(minutes=5)) == [lost.id]
    assert queue_length(clean_redis) == 1
    assert services.video_requeue_unclaimed(older_than=timedelta(minutes=5)) == [], "just queued"


def test_the_reaper_leaves_a_job_that_waits_in_a_backlog_alone(alice, clean_redis, tmp_path):
    # Nothing consumes the video queue here: a backlog, where a job waits longer than the
    # threshold. Each healing past it must not add another copy of the job behind it.
    (tmp_path / "x.mp4").write_bytes(b"x")
    video = add_video(alice, tmp_path / "x.mp4")
    assert services.video_enqueue(video_id=video.id)
    for _ in range(2):
        long_ago = timezone.now() - timedelta(minutes=30)
        age(video, created_at=long_ago, queued_at=long_ago)
        assert services.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == []
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
        assert services.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == [], "a worker just took it"

        # Still pending half an hour after that delivery: the worker died before claiming it.
        unacked = redis.Redis.from_url(clean_redis)
        for tag in unacked.zrange("unacked_index", 0, -1):
            unacked.zadd("unacked_index", {tag: time.time() - 1800})
        assert services.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == [video.id]
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
        assert services.video_requeue_unclaimed(older_than=timedelta(minutes=10)) == [video.id]
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
    assert services.video_requeue_unclaimed(older_than=heal_after) == [video.id]
    assert jobs_waiting(clean_redis) == [video.id]
    assert services.video_requeue_unclaimed(older_than=heal_after) == [], "published once"


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
    assert services.video_recover_silent(silent_for=timedelta(seconds=2)) == [video.id]
    second = start_worker()
    done = wait_for(lambda: (v := status_of(video.id)).status in ("ready", "failed") and v, 300, "ready", second)
    assert done.status == "ready", done.error
    assert done.attempts == 2
    assert (1, "transcode", "crashed") in steps(video)
    assert {r.label for r in done.renditions.all()} == {"360p", "480p", "720p"}
    # The attempt says ready before it removes its own folder; the killed one's must go too.
    wait_for(lambda: leftover_workdirs(video) == [], 30, "every temporary folder of the video to go", second)


@pytest.mark.slow
def test_a_purged_job_is_requeued_and_processed(alice, clip, start_worker, clean_redis):
    video = add_video(alice, clip("a.mp4", seconds=1))
    wait_for(lambda: queue_length(clean_redis), 10, "the job to be published")
    assert queue_length(clean_redis) == 1
    redis.Redis.from_url(clean_redis).delete("video")  # the message is lost
    assert services.video_requeue_unclaimed(older_than=timedelta(0)) == [video.id]
    proc = start_worker()
    done = wait_for(lambda: (v := status_of(video.id)).status in ("ready", "failed") and v, 300, "ready", proc)
    assert done.status == "ready", done.error


@pytest.mark.slow
def test_a_vp9_upload_plays_as_hls_over_http_while_it_is_still_processing(client, alice, clip, start_worker, processes):
    port = free_port()
    processes("web", PORT=str(port), WEB_CONCURRENCY="1")
    worker_proc = start_worker()
    source = clip("take.webm", seconds=20, width=1280, height=720, vcodec="libvpx-vp9", acodec="libopus",
                  container="webm")
    client.force_login(alice)
    with source.open("rb") as fh:
        response = client.post("/core/api/videos/", {"title": "Take", "file": fh})
    url = f"/core/api/videos/{response.json()['id']}/"
    body = wait_for(lambda: (b := client.get(url).json())["hls_url"] and b, 300, "hls_url", worker_proc)
    assert (body["status"], body["renditions"]) == ("processing", []), "it plays before any MP4 is made"

    site = f"http://127.0.0.1:{port}"
    wait_http(f"{site}/core/health/live/", timeout=60)
    master = requests.get(site + body["hls_url"], timeout=10)
    assert master.status_code == 200 and "?e=" in body["hls_url"]
    variant = requests.get(site + playlist_uris(master.text)[1], timeout=10)
    assert variant.status_code == 200 and "#EXT-X-ENDLIST" not in variant.text, "it still grows"
    assert variant.headers["Cache-Control"] == "no-store"
    init, first, *_ = playlist_uris(variant.text)
    for segment in (init, first):
        answer = requests.get(site + segment, timeout=10)
        assert answer.status_code == 200 and answer.content

    done = wait_for(lambda: (b := client.get(url).json())["status"] in ("ready", "failed") and b, 300, "ready",
                    worker_proc)
    assert done["status"] == "ready" and done["hls_url"].split("?")[0] == body["hls_url"].split("?")[0]
    ended = requests.get(site + playlist_uris(requests.get(site + done["hls_url"], timeout=10).text)[1], timeout=10)
    assert ended.text.rstrip().endswith("#EXT-X-ENDLIST")


def test_a_database_fault_in_a_progress_report_is_tried_again_at_the_next(alice, clip, monkeypatch, live_db):
    faults = {"video_hls_playable": 1, "video_store_rendition": 1}

    def failing_once(name):
        real = getattr(attempts, name)

        def call(**kwargs):
            if faults[name]:
                faults[name] -= 1
                raise OperationalError("server closed the connection unexpectedly")
            return real(**kwargs)

        return call

    for name in faults:
        monkeypatch.setattr(attempts, name, failing_once(name))
    video = add_video(alice, clip("phone.mp4", seconds=8, width=640, height=360))
    worker.video_process(video_id=video.id)
    video = Video.objects.get(id=video.id)
    assert faults == {"video_hls_playable": 0, "video_store_rendition": 0}, "both met their fault"
    assert (video.status, video.error, video.hls_playlist != "") == ("ready", "", True)
    assert all(outcome == "ok" for _, _, outcome in steps(video))
    assert sorted(video.renditions.values_list("label", flat=True)) == ["360p"]
    stored_renditions = [n for n in stored(video) if "/360p-" in n]
    assert len(stored_renditions) == 1, "the rendition stored before the fault was removed"
