"""A long source in parts: the coordinator alone (no other worker), a part that keeps failing,
then two real `worker` processes sharing one video's parts, one of them killed mid-part.

Parts are 2 s and sources 8-12 s here (VIDEO_CHUNK_SECONDS, VIDEO_CHUNKED_FROM) so the suite
stays short; bench B12 measures them at their real size.
"""

from __future__ import annotations

import re

import av
import pytest
from django.core.files.storage import default_storage

from domain.videos.hls import MASTER, playlist_ended, playlist_resolve, playlist_uris
from domain.videos.models import Chunk, JobStep, Video
from tests.domain.videos.test_attempts import add_video, steps
from tests.workers.test_pipeline import counted
from tests.workers.test_processing import hls_stored, kill_tree, status_of, wait_for
from workers import chunks as chunk_worker
from workers import processing as worker
from workers.probe import MediaRejected

pytestmark = pytest.mark.django_db

PARTS = {"VIDEO_CHUNK_SECONDS": "2", "VIDEO_CHUNKED_FROM": "4"}


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


@pytest.fixture
def in_parts(settings, clean_redis):
    settings.VIDEO_CHUNK_SECONDS, settings.VIDEO_CHUNKED_FROM = 2, 4


def vp9(clip, seconds: float):
    return clip("long.webm", seconds=seconds, width=640, height=360, vcodec="libvpx-vp9", acodec="libopus",
                container="webm")  # fmt: skip


def assert_whole(video: Video, source) -> None:
    """Ready, every rendition frame-exact against the source, the HLS ended and complete."""
    assert video.status == "ready", video.error
    frames, duration = counted(source)
    assert video.duration == pytest.approx(duration, abs=0.05)
    for rendition in video.renditions.all():
        with default_storage.open(rendition.file) as fh, open(source.with_suffix(f".{rendition.label}.mp4"), "wb") as out:
            out.write(fh.read())
        joined_frames, joined_duration = counted(source.with_suffix(f".{rendition.label}.mp4"))
        assert joined_frames == frames, rendition.label
        assert joined_duration == pytest.approx(duration, abs=0.05)
    playlists = hls_stored(video)
    assert video.hls_playlist in playlists and video.hls_playlist.endswith(MASTER)
    for name, text in playlists.items():
        if "/c0" not in name:  # the parts' own playlists are named by nobody
            for uri in playlist_uris(text):
                assert default_storage.exists(playlist_resolve(name, uri)), (name, uri)
            assert name.endswith(MASTER) or playlist_ended(text), name
    assert not Chunk.objects.filter(video=video).exists(), "the parts' rows go with the attempt"


def test_with_no_other_worker_the_coordinator_encodes_every_part_itself(alice, clip, in_parts, monkeypatch):
    source = vp9(clip, seconds=6.5)
    video = add_video(alice, source)
    reported: list[float] = []
    beat = worker._Attempt.beat
    monkeypatch.setattr(worker._Attempt, "beat", lambda job, progress=None, **kw: (
        reported.append(progress), beat(job, progress, **kw))[1])
    monkeypatch.setattr(worker.attempts, "PROGRESS_EVERY_SECONDS", 0)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert_whole(video, source)
    names = [step for _, step, outcome in steps(video) if outcome == "ok"]
    assert names == ["download", "probe", "part 1", "poster", "part 2", "part 3", "join", "finish"]
    variant = next(name for name in hls_stored(video) if name.endswith("360p/index.m3u8"))
    segments = [uri for uri in playlist_uris(hls_stored(video)[variant]) if uri.endswith(".m4s")]
    assert [uri.split("/")[0] for uri in segments] == ["c0000"] * 3 + ["c0001", "c0002", "c0002"], "the last part takes the rest"
    transcoding = [round(p) for p in reported if p is not None and 15 < p < 99]
    assert transcoding == sorted(transcoding) and {43, 71} <= set(transcoding), "the bar moves part by part"


def test_a_part_that_fails_three_times_fails_the_video_with_a_sentence(alice, clip, in_parts, monkeypatch):
    source = vp9(clip, seconds=6)
    video = add_video(alice, source)
    encode = chunk_worker.pipeline.transcode

    def spoiled(src, probe, rungs, folder, on_progress=None, *, part=None, **options):
        if part and part.start == 2:
            raise MediaRejected("The video could not be converted: the file may be damaged.")
        return encode(src, probe, rungs, folder, on_progress, part=part, **options)

    monkeypatch.setattr(chunk_worker.pipeline, "transcode", spoiled)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "failed"
    assert video.error == "Part 2 of 3 of the video (0:02–0:04) could not be converted after 3 tries: the file may be damaged there."
    assert [outcome for _, step, outcome in steps(video) if step == "part 2"] == ["failed"] * 3
    assert video.original and default_storage.exists(video.original), "the original stays for a reprocess"
    assert not Chunk.objects.filter(video=video).exists()


@pytest.mark.slow
def test_two_worker_nodes_share_one_video_s_parts_and_a_killed_one_s_part_is_done_again(
    alice, clip, start_worker
):
    source = vp9(clip, seconds=12)
    env = {**PARTS, "VIDEO_CHUNK_SILENT_SECONDS": "3"}
    first, second = start_worker(**env), start_worker(**env)
    for proc in (first, second):
        wait_for(lambda proc=proc: "ready" in proc.output(), 60, "the worker to start", proc)
    video = add_video(alice, source)

    # Wait until a part runs in the other worker than the coordinator's (which encodes the first
    # part itself), then kill that worker outright.
    def elsewhere():
        rows = {row.index: row for row in Chunk.objects.filter(video=video)}
        first_part, later = rows.get(0), [row for row in rows.values() if row.index and row.state == "running"]
        if not (first_part and first_part.worker and later):
            return None
        trees = [tree_of(proc.popen.pid) for proc in (first, second)]
        home = [pid_of(first_part) in tree for tree in trees]
        away = [row for row in later if [pid_of(row) in tree for tree in trees] == [not h for h in home]
                and JobStep.objects.filter(video=video, step=f"part {row.index + 1}", outcome="running").exists()]
        return away and (home.index(True), away[0])

    coordinating, busy = wait_for(elsewhere, 120, "a part to run on the other worker", first)
    survivor, killed = (first, second) if coordinating == 0 else (second, first)
    kill_tree(killed.popen.pid)
    killed.popen.wait()

    done = wait_for(lambda: (v := status_of(video.id)).status in ("ready", "failed") and v, 300, "ready", survivor)
    assert_whole(done, source)
    assert done.attempts == 1, "the video's attempt went on; only the killed worker's part was done again"
    part = f"part {busy.index + 1}"
    assert [outcome for _, step, outcome in steps(done) if step == part][-1] == "ok"
    assert len([step for _, step, _ in steps(done) if step == part]) >= 2, "the part shows twice in the history"


def pid_of(chunk: Chunk) -> int:
    return int(chunk.worker.rsplit(":", 1)[1])


def tree_of(pid: int) -> set[int]:
    from pathlib import Path

    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                grew = True
    return found


def test_the_storyboard_covers_every_part_on_one_grid(alice, clip, in_parts):
    source = vp9(clip, seconds=6.5)
    video = add_video(alice, source)
    worker.video_process(video_id=video.id)
    video.refresh_from_db()
    folder = video.hls_playlist.rsplit("/", 1)[0]
    vtt = default_storage.open(f"{folder}/storyboard.vtt").read().decode()
    cues = re.findall(r"(\S+) --> (\S+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", vtt)
    assert [(start, end) for start, end, *_ in cues] == [
        ("00:00:00.000", "00:00:01.000"), ("00:00:01.000", "00:00:02.000"), ("00:00:02.000", "00:00:03.000"),
        ("00:00:03.000", "00:00:04.000"), ("00:00:04.000", "00:00:05.000"), ("00:00:05.000", "00:00:06.000"),
        ("00:00:06.000", f"00:00:0{video.duration:.3f}"),
    ]
    sheets = {sheet for _, _, sheet, *_ in cues}
    assert sheets == {f"storyboard/c000{i}/sheet_000.jpg" for i in range(3)}
    for sheet in sheets:
        with av.open(default_storage.open(f"{folder}/{sheet}")) as image:
            frame = next(image.decode(video=0))
        assert frame.width == 160 * 10 and frame.height == 90
