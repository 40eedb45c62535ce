"""One processing attempt's rules, called directly: no worker, no ffmpeg.

Alice uploaded a video; an attempt claims it, and sometimes a second attempt (a recovery, a
reprocess) or her own delete takes it away while the first still runs. The worker's side, with
real clips and ffmpeg, is tests/workers/test_processing.py.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import redis
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models.signals import post_delete
from django.test import Client
from django.utils import timezone

from domain.storage import storage_names_under
from domain.videos import attempts, services
from domain.videos.attempts import ClaimLost
from domain.videos.hls import hls_folder_of
from domain.videos.models import (
    REPROCESSING_FAILED,
    Claim,
    JobStep,
    Progress,
    Rendition,
    Video,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


def add_video(owner, path: Path, **fields) -> Video:
    """What an upload leaves behind: the original in storage and a pending row."""
    with path.open("rb") as fh:
        original = services.FileOriginal(content=File(fh), filename=path.name, size=path.stat().st_size)
        return services.video_create_from_upload(owner=owner, original=original, title=path.stem, **fields)


def stored(video: Video) -> list[str]:
    return sorted(storage_names_under(video.storage_prefix))


def steps(video: Video) -> list[tuple[int, str, str]]:
    return [(s.attempt, s.step, s.outcome) for s in JobStep.objects.filter(video=video)]


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def upload(alice, tmp_path) -> Video:
    """Alice's upload; its bytes never matter here, nothing decodes them."""
    (tmp_path / "scales.mp4").write_bytes(b"not decoded here")
    return add_video(alice, tmp_path / "scales.mp4")


def made(name: str, content: bytes = b"made by ffmpeg") -> Path:
    path = Path(tempfile.mkdtemp()) / name
    path.write_bytes(content)
    return path


def played_once(video: Video) -> Claim:
    """The video became ready with a poster and a 360p rendition, and is being reprocessed."""
    claim = attempts.video_claim(video_id=video.id)
    attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    attempts.video_store_rendition(claim=claim, label="360p", width=640, height=360, path=made("360p.mp4"))
    assert attempts.video_mark_ready(claim=claim, keep={"360p"}, duration=2.0, width=640, height=360)
    assert services.video_reprocess(video=video)
    return attempts.video_claim(video_id=video.id)


# --- claims --------------------------------------------------------------------------------


def test_only_one_attempt_claims_a_pending_video(upload):
    claim = attempts.video_claim(video_id=upload.id)
    assert (claim.video_id, claim.attempt) == (upload.id, 1)
    assert attempts.video_claim(video_id=upload.id) is None, "a second delivery backs off"
    upload.refresh_from_db()
    assert (upload.status, upload.attempts, upload.claim) == ("processing", 1, claim.token)


def test_an_attempt_that_lost_its_claim_writes_nothing(upload):
    claim = attempts.video_claim(video_id=upload.id)
    # Recovery gave the video to attempt 2 while attempt 1 was still running somewhere.
    Video.objects.filter(id=upload.id).update(status="pending")
    attempts.video_claim(video_id=upload.id)
    with pytest.raises(ClaimLost):
        attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    assert stored(upload) == [upload.original], "the file it had just stored is removed again"
    assert attempts.video_beat(claim=claim, progress=50) is False


def test_deleting_a_video_while_it_processes_leaves_no_files(upload):
    claim = attempts.video_claim(video_id=upload.id)
    services.video_delete(video=upload)
    with pytest.raises(ClaimLost):
        attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    assert stored(upload) == []


def test_a_zombie_attempt_from_before_a_reprocess_cannot_write(upload):
    zombie = attempts.video_claim(video_id=upload.id)  # attempt 1 hangs somewhere
    # The reaper gave up on it, the owner reprocessed, and a new attempt 1 runs.
    assert Video.mark_failed(upload.id, zombie.token, services.CRASHED_REPEATEDLY) == "failed"
    assert services.video_reprocess(video=upload)
    current = attempts.video_claim(video_id=upload.id)
    assert current.attempt == zombie.attempt == 1

    with pytest.raises(ClaimLost):
        attempts.video_store_poster(claim=zombie, path=made("poster.jpg"))
    with pytest.raises(ClaimLost):
        attempts.video_store_rendition(claim=zombie, label="240p", width=320, height=240, path=made("240p.mp4"))
    assert attempts.video_beat(claim=zombie, progress=50) is False
    with pytest.raises(ClaimLost):
        attempts.video_step_begin(claim=zombie, step="transcode")
    with pytest.raises(ClaimLost):
        attempts.video_mark_ready(claim=zombie, keep=set(), duration=1, width=320, height=240)
    attempts.video_fail(claim=zombie, error="zombie")
    attempts.video_reject(claim=zombie, error="zombie")
    attempts.video_give_back(claim=zombie, error="zombie")
    upload.refresh_from_db()
    assert (upload.status, upload.progress, upload.poster, upload.error) == ("processing", 0, "", "")
    assert not JobStep.objects.filter(video=upload).exists() and not upload.renditions.exists()
    assert stored(upload) == [upload.original]
    assert attempts.video_beat(claim=current, progress=10), "the current attempt still holds its claim"


# --- heartbeats and progress ---------------------------------------------------------------


def test_a_beat_moves_the_heartbeat_and_the_progress(upload):
    claim = attempts.video_claim(video_id=upload.id)
    before = Video.objects.get(id=upload.id).heartbeat_at
    assert attempts.video_beat(claim=claim, progress=Progress.DOWNLOADED) is True
    after = Video.objects.get(id=upload.id)
    assert after.heartbeat_at > before and after.progress == 5
    assert attempts.video_beat(claim=claim) is True
    assert Video.objects.get(id=upload.id).progress == 5, "a bare heartbeat leaves progress alone"


def test_progress_is_written_at_most_as_often_as_the_heartbeat_paces_it(upload):
    claim = attempts.video_claim(video_id=upload.id)
    pulse = attempts.Heartbeat(claim, every=3600)
    assert pulse.beat(Progress.DOWNLOADED) is True
    assert pulse.beat(50, force=False) is True and Video.objects.get(id=upload.id).progress == 5, "not due"
    assert pulse.beat(Progress.TRANSCODING) is True and Video.objects.get(id=upload.id).progress == 15
    assert pulse.wait() > 3000


def test_after_a_database_error_a_beat_is_tried_again_soon_then_less_and_less_often(monkeypatch):
    monkeypatch.setattr(attempts, "HEARTBEAT_SECONDS", 10.0)
    assert [attempts.beat_retry_after(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]


@pytest.fixture
def watcher(transactional_db, postgres):
    """A connection of the test's own, outside every transaction, to watch pg_stat_activity.
    Rows are committed as they are written (transactional_db), so other connections see them."""
    db = connection.settings_dict
    conn = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
                            port=db["PORT"])
    conn.autocommit = True
    yield conn
    conn.close()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_beat_that_meets_a_dropped_connection_is_skipped_and_the_next_one_reconnects(upload, watcher):
    claim = attempts.video_claim(video_id=upload.id)
    pulse = attempts.Heartbeat(claim, every=3600)
    with watcher.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backend_pid()])
    assert pulse.beat(Progress.DOWNLOADED) is None, "skipped, not raised into ffmpeg's progress callback"
    assert pulse.wait() <= attempts.DB_RETRY_FIRST_SECONDS, "tried again soon, not in an hour"
    assert pulse.beat(Progress.TRANSCODING) is True, "on a new connection"
    assert Video.objects.get(id=upload.id).progress == 15


# --- job steps ------------------------------------------------------------------------------


def test_a_step_ends_ok_or_with_a_sentence_for_the_owner_and_the_details_for_staff(upload):
    claim = attempts.video_claim(video_id=upload.id)
    attempts.video_step_end(step_id=attempts.video_step_begin(claim=claim, step="download"))
    failed = attempts.video_step_begin(claim=claim, step="probe")
    attempts.video_step_end(step_id=failed, reason=attempts.PROCESSING_FAILED,
                            error=IsADirectoryError(21, "Is a directory", "/srv/media/videos/x/original"))
    assert steps(upload) == [(1, "download", "ok"), (1, "probe", "failed")]
    step = JobStep.objects.get(id=failed)
    assert step.reason == attempts.PROCESSING_FAILED and step.finished_at is not None
    assert step.detail == "IsADirectoryError: [Errno 21] Is a directory: '/srv/media/videos/x/original'"


@pytest.mark.parametrize("write", ["job step", "rendition"])
def test_a_delete_racing_a_workers_insert_answers_204_and_the_worker_backs_off(alice, upload, watcher, write):
    video = upload
    # A rendition of an earlier attempt: Django deletes it by its id, and its post_delete signal
    # marks the moment between collecting the rows to cascade and deleting the video.
    Rendition.objects.create(video=video, label="240p", width=320, height=240, file="x.mp4", size_bytes=1)
    claim = attempts.video_claim(video_id=video.id)
    rendition = made("360p.mp4")
    seen: dict = {}

    def insert() -> None:
        seen["backend"] = backend_pid()
        try:
            if write == "job step":
                attempts.video_step_begin(claim=claim, step="transcode")
            else:
                attempts.video_store_rendition(claim=claim, label="360p", width=640, height=360, path=rendition)
            seen["outcome"] = "written"
        except Exception as exc:
            seen["outcome"] = exc
        finally:
            connection.close()

    inserting = threading.Thread(target=insert)

    def waiting_on_a_lock() -> bool:
        if seen.get("backend") is None:
            return False
        with watcher.cursor() as cursor:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [seen["backend"]])
            row = cursor.fetchone()
        return bool(row) and row[0] == "Lock"

    def in_the_middle_of_the_delete(sender, **_) -> None:
        if inserting.ident is None:
            inserting.start()
            wait_for(lambda: not inserting.is_alive() or waiting_on_a_lock(), 30,
                     "the worker's insert to land or to wait for the lock")

    post_delete.connect(in_the_middle_of_the_delete, sender=Rendition, weak=False)
    try:
        client = Client(raise_request_exception=False)
        client.force_login(alice)
        response = client.delete(f"/core/api/videos/{video.id}/")
    finally:
        post_delete.disconnect(in_the_middle_of_the_delete, sender=Rendition)
    inserting.join(30)
    assert response.status_code == 204, response.content[:300]
    assert isinstance(seen["outcome"], ClaimLost), seen["outcome"]
    assert not Video.objects.filter(id=video.id).exists()
    assert not JobStep.objects.filter(video_id=video.id).exists()
    assert not Rendition.objects.filter(video_id=video.id).exists()
    assert stored(video) == []


# --- stored files ---------------------------------------------------------------------------


def test_a_new_poster_or_rendition_replaces_the_old_one_and_its_file(upload):
    claim = attempts.video_claim(video_id=upload.id)
    attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    attempts.video_store_rendition(claim=claim, label="360p", width=640, height=360, path=made("360p.mp4", b"x" * 7))
    first_poster, first_rendition = Video.objects.get(id=upload.id).poster, Rendition.objects.get(video=upload).file

    attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    attempts.video_store_rendition(claim=claim, label="360p", width=640, height=360, path=made("360p.mp4"))

    video = Video.objects.get(id=upload.id)
    rendition = Rendition.objects.get(video=upload)
    assert video.poster != first_poster and rendition.file != first_rendition
    assert rendition.size_bytes == default_storage.size(rendition.file) == len(b"made by ffmpeg")
    assert stored(upload) == sorted([upload.original, video.poster, rendition.file]), "the old files are gone"
    assert all(name.startswith(upload.storage_prefix) for name in stored(upload))


# --- how an attempt ends --------------------------------------------------------------------


def test_ready_keeps_the_ladder_and_drops_the_labels_it_no_longer_makes(upload):
    claim = attempts.video_claim(video_id=upload.id)
    for label, width, height in (("360p", 640, 360), ("720p", 1280, 720)):
        attempts.video_store_rendition(claim=claim, label=label, width=width, height=height, path=made(f"{label}.mp4"))
    assert attempts.video_mark_ready(claim=claim, keep={"360p"}, duration=2.0, width=640, height=360, fps=29.97)
    video = Video.objects.get(id=upload.id)
    assert (video.status, video.progress, video.error, video.duration, video.fps) == ("ready", 100, "", 2.0, 29.97)
    assert video.processed_at and video.first_ready_at
    assert [r.label for r in video.renditions.all()] == ["360p"]
    assert len(stored(video)) == 2, "the original and the 360p rendition"


def test_ready_with_nothing_left_to_play_changes_nothing(upload):
    claim = attempts.video_claim(video_id=upload.id)
    assert not attempts.video_mark_ready(claim=claim, keep=set(), duration=2.0, width=640, height=360)
    assert Video.objects.get(id=upload.id).status == "processing"


def test_a_limit_hit_gives_the_attempt_back_until_the_last_then_fails_keeping_the_original(upload, clean_redis):
    for attempt in (1, 2):
        claim = attempts.video_claim(video_id=upload.id)
        assert claim.attempt == attempt and not claim.is_last
        attempts.video_give_back(claim=claim, error="Too much.")
        video = Video.objects.get(id=upload.id)
        assert (video.status, video.error) == ("pending", ""), "given back, as a crash would be"
        assert video.queued_at is not None
    assert redis.Redis.from_url(clean_redis).llen("video") == 2

    last = attempts.video_claim(video_id=upload.id)
    assert last.is_last
    attempts.video_give_back(claim=last, error="Too much.")
    video = Video.objects.get(id=upload.id)
    assert (video.status, video.attempts, video.error) == ("failed", 3, "Too much.")
    assert stored(video) == [upload.original] and video.original == upload.original, "kept for a later reprocess"


def test_a_new_upload_that_is_not_a_usable_video_keeps_nothing(upload):
    claim = attempts.video_claim(video_id=upload.id)
    attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    attempts.video_reject(claim=claim, error="Not a video.")
    video = Video.objects.get(id=upload.id)
    assert (video.status, video.error, video.original, video.poster) == ("failed", "Not a video.", "", "")
    assert stored(video) == [] and not video.renditions.exists()


@pytest.mark.parametrize("end", ["reject", "fail", "give back"])
def test_a_video_that_was_ever_ready_keeps_everything_and_plays_on(upload, clean_redis, end):
    claim = played_once(upload)
    files, renditions = stored(upload), list(Rendition.objects.filter(video=upload).values_list("label", "file"))
    if end == "give back":
        Video.objects.filter(id=upload.id).update(attempts=3)
        claim = claim._replace(attempt=3)
        attempts.video_give_back(claim=claim, error="Too much.")
    else:
        getattr(attempts, f"video_{end}")(claim=claim, error="Too much.")
    video = Video.objects.get(id=upload.id)
    assert (video.status, video.progress) == ("ready", 100), "it still plays"
    assert video.error == REPROCESSING_FAILED.format(reason="Too much.")
    assert stored(video) == files and video.poster and video.original == upload.original
    assert list(Rendition.objects.filter(video=upload).values_list("label", "file")) == renditions


def test_any_other_failure_keeps_every_file(upload):
    claim = attempts.video_claim(video_id=upload.id)
    attempts.video_store_poster(claim=claim, path=made("poster.jpg"))
    attempts.video_fail(claim=claim)
    video = Video.objects.get(id=upload.id)
    assert (video.status, video.error) == ("failed", attempts.PROCESSING_FAILED)
    assert stored(video) == sorted([video.original, video.poster]) and video.processed_at <= timezone.now()


# --- HLS ------------------------------------------------------------------------------------


def store_hls(claim: Claim) -> str:
    """What an attempt's publisher stores first: a segment, its playlist, the master; the master's name."""
    attempts.video_store_hls(claim=claim, name="360p/seg_00000.m4s", content=ContentFile(b"segment"))
    attempts.video_store_hls(claim=claim, name="360p/index.m3u8", content=ContentFile(b"#EXTM3U\nseg_00000.m4s\n"))
    attempts.video_store_hls(claim=claim, name="master.m3u8", content=ContentFile(b"#EXTM3U\n360p/index.m3u8\n"))
    return f"{hls_folder_of(claim.video_id, claim.token)}master.m3u8"


def test_a_new_video_plays_its_hls_from_the_first_segments(upload):
    crashed = attempts.video_claim(video_id=upload.id)
    store_hls(crashed)
    assert attempts.video_hls_playable(claim=crashed)
    Video.objects.filter(id=upload.id).update(status="pending")  # recovered after a crash
    claim = attempts.video_claim(video_id=upload.id)

    master = store_hls(claim)
    assert Video.objects.get(id=upload.id).hls_playlist.startswith(hls_folder_of(upload.id, crashed.token))
    assert attempts.video_hls_playable(claim=claim)

    video = Video.objects.get(id=upload.id)
    assert (video.status, video.hls_playlist) == ("processing", master)
    assert hls_names(video) == {claim.token}, "the crashed attempt's HLS went"
    assert attempts.video_mark_ready(claim=claim, keep=set(), duration=2.0, width=640, height=360, hls=True) is False
    attempts.video_store_rendition(claim=claim, label="360p", width=640, height=360, path=made("360p.mp4"))
    assert attempts.video_mark_ready(claim=claim, keep={"360p"}, duration=2.0, width=640, height=360, hls=True)
    assert Video.objects.get(id=upload.id).hls_playlist == master


def hls_names(video: Video) -> set[str]:
    """The attempts (claim tokens) with an HLS folder stored."""
    return {name.split("/")[3] for name in stored(video) if "/hls/" in name}


def test_a_video_that_was_ever_ready_keeps_its_hls_until_the_reprocess_is_ready(upload):
    first = attempts.video_claim(video_id=upload.id)
    playing = store_hls(first)
    attempts.video_store_rendition(claim=first, label="360p", width=640, height=360, path=made("360p.mp4"))
    assert attempts.video_mark_ready(claim=first, keep={"360p"}, duration=2.0, width=640, height=360, hls=True)
    assert services.video_reprocess(video=upload)
    claim = attempts.video_claim(video_id=upload.id)

    master = store_hls(claim)
    assert attempts.video_hls_playable(claim=claim) is False
    assert Video.objects.get(id=upload.id).hls_playlist == playing, "the earlier HLS plays on"
    assert hls_names(upload) == {first.token, claim.token}

    assert attempts.video_mark_ready(claim=claim, keep={"360p"}, duration=2.0, width=640, height=360, hls=True)
    assert Video.objects.get(id=upload.id).hls_playlist == master
    assert hls_names(upload) == {claim.token}, "the earlier HLS went at ready"


def test_an_attempt_without_its_claim_never_points_the_video_at_its_hls(upload):
    zombie = attempts.video_claim(video_id=upload.id)
    Video.objects.filter(id=upload.id).update(status="pending")
    current = attempts.video_claim(video_id=upload.id)
    store_hls(zombie)

    with pytest.raises(ClaimLost):
        attempts.video_hls_playable(claim=zombie)
    with pytest.raises(ClaimLost):
        attempts.video_mark_ready(claim=zombie, keep=set(), duration=2.0, width=640, height=360, hls=True)
    assert Video.objects.get(id=upload.id).hls_playlist == ""
    store_hls(current)
    attempts.video_drop_hls(claim=zombie)
    assert hls_names(upload) == {current.token}, "the zombie's HLS goes, the current attempt's stays"


def test_a_failed_attempt_drops_its_hls_unless_the_video_plays_it(upload):
    claim = attempts.video_claim(video_id=upload.id)
    store_hls(claim)
    attempts.video_fail(claim=claim)
    attempts.video_drop_hls(claim=claim)
    assert hls_names(upload) == set(), "nothing played it"

    assert services.video_reprocess(video=upload)
    claim = attempts.video_claim(video_id=upload.id)
    master = store_hls(claim)
    assert attempts.video_hls_playable(claim=claim)
    attempts.video_give_back(claim=claim, error="Too much.")
    attempts.video_drop_hls(claim=claim)
    assert Video.objects.get(id=upload.id).hls_playlist == master and default_storage.exists(master)


def test_a_new_upload_that_is_not_a_usable_video_keeps_no_hls(upload):
    claim = attempts.video_claim(video_id=upload.id)
    store_hls(claim)
    assert attempts.video_hls_playable(claim=claim)
    attempts.video_reject(claim=claim, error="Not a video.")
    video = Video.objects.get(id=upload.id)
    assert (video.status, video.hls_playlist) == ("failed", "") and stored(video) == []


def test_a_playlist_is_replaced_in_place_as_it_grows(upload):
    claim = attempts.video_claim(video_id=upload.id)
    name = "360p/index.m3u8"
    attempts.video_store_hls(claim=claim, name=name, content=ContentFile(b"#EXTM3U\nseg_00000.m4s\n"))
    attempts.video_store_hls(claim=claim, name=name, content=ContentFile(b"#EXTM3U\nseg_00000.m4s\nseg_00001.m4s\n"))
    folder = hls_folder_of(upload.id, claim.token)
    assert [n for n in stored(upload) if n.startswith(folder)] == [f"{folder}{name}"]
    assert default_storage.open(f"{folder}{name}").read().endswith(b"seg_00001.m4s\n")
