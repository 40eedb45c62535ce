"""A VP9/Opus upload plays in real headless Chromium through HLS while the real worker still
transcodes it: the owner uploads it private through the page, and its watch page plays the growing
stream, seeks into a finished segment and holds an A–B loop, all while the API says `processing`.

The worker runs one video at a time on one ffmpeg thread, and the source is 30 s of 720p: on a
2-core machine a 14 s one was ready 11.5 s after its job began, before the page had looped. Every
wait is on a condition; if the video is ready before the page has shown what it must, the test fails and
says so rather than pass on a video that no longer grows.
"""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from domain.videos.models import Video
from tests.web.pages.conftest import CHUNK, loop_holds, signup, start_live

pytestmark = pytest.mark.slow
SECONDS = 30
UPLOAD_CHUNK = 8 * CHUNK  # a few PATCHes: the upload is not what this test is about
PROCESSING_TIMEOUT_MS = 300_000


@pytest.fixture
def live_env(live_env):
    """One video at a time, one ffmpeg thread: the transcode as slow as an honestly busy dyno's."""
    return {**live_env, "VIDEO_WORKER_CONCURRENCY": "1", "FFMPEG_THREADS": "1"}


@pytest.fixture
def live(processes, collected_static, ffmpeg):
    return start_live(
        processes, collected_static, UPLOAD_CHUNK_BYTES=str(UPLOAD_CHUNK), UPLOAD_CHUNK_MAX_BYTES=str(UPLOAD_CHUNK)
    )


def _player(page) -> dict:
    return page.evaluate(
        "() => { const v = document.getElementById('player'); const r = rs => Array.from({length: rs.length},"
        " (_, i) => [rs.start(i), rs.end(i)]); return {t: v.currentTime, paused: v.paused, seeking: v.seeking,"
        " ready: v.readyState, source: v.dataset.source || '', buffered: r(v.buffered), seekable: r(v.seekable)}; }"
    )


def _still_processing(page, live, video: Video, doing: str) -> None:
    """The API, asked with the owner's session, still says processing: what the page showed was the
    growing stream, not a finished one."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    body = requests.get(live(f"/core/api/videos/{video.id}/"), cookies=cookies, timeout=10).json()
    assert body["status"] == "processing", (
        f"the video was {body['status']} by the time the page {doing}: the transcode was too quick for "
        "this test to show playing while processing (make the clip longer)"
    )
    assert body["hls_url"]


def _plays_past(page, seconds: float) -> None:
    page.wait_for_function(
        f"() => {{ const v = document.getElementById('player'); return !v.paused && v.currentTime > {seconds}; }}",
        timeout=60_000,
    )


def _finished_past(page, seconds: float) -> None:
    """Wait until the stream the player holds is finished past `seconds`: the browser clamps a seek
    beyond the growing playlist's end to that end."""
    page.wait_for_function(
        "() => { const v = document.getElementById('player');"
        f" return v.seekable.length && v.seekable.end(v.seekable.length - 1) > {seconds}; }}",
        timeout=PROCESSING_TIMEOUT_MS,
    )


def _seek(page, seconds: float) -> None:
    _finished_past(page, seconds + 0.5)
    page.evaluate(f"() => {{ document.getElementById('player').currentTime = {seconds}; }}")
    try:
        page.wait_for_function(
            f"() => {{ const v = document.getElementById('player');"
            f" return !v.seeking && v.readyState >= 3 && Math.abs(v.currentTime - {seconds}) < 0.3; }}",
            timeout=60_000,
        )
    except PlaywrightTimeout as exc:
        raise AssertionError(f"seeking to {seconds} s never settled: {_player(page)}") from exc


def _finished_until(page) -> float:
    """How far the stream the player holds is finished: the end of the growing playlist it loaded."""
    return page.evaluate("() => { const v = document.getElementById('player'); return v.seekable.length ?"
                         " v.seekable.end(v.seekable.length - 1) : 0; }")  # fmt: skip


def test_a_vp9_upload_plays_seeks_and_loops_through_hls_while_it_processes(live, browse, clip):
    source = clip("take.webm", seconds=SECONDS, width=1280, height=720, vcodec="libvpx-vp9",
                  acodec="libopus", container="webm", fps=30)  # fmt: skip
    owner = browse()
    page = owner.new_page()
    signup(page, live, "hal")
    page.goto(live("/videos/upload/"))
    page.locator("#files").set_input_files(str(source))
    page.get_by_label("Title").fill("Etude in VP9")
    page.get_by_role("button", name=f"Upload {source.name}").click()
    expect(page.locator("[data-role=upload-progress]")).to_have_attribute("value", "100")
    video = Video.objects.get(title="Etude in VP9")
    assert video.visibility == "private"

    # Its watch page, opened as soon as the upload is in: the stream arrives and plays.
    page.goto(live(f"/videos/{video.id}/"))
    page.wait_for_function(
        "() => { const v = document.getElementById('player'); return v.dataset.source === 'hls' && v.readyState >= 2; }",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    page.keyboard.press("k")
    _plays_past(page, 0.5)
    assert _player(page)["source"] == "hls"
    _still_processing(page, live, video, "played its stream")
    expect(page.get_by_label("Processing progress")).to_be_visible()

    # The A–B loop holds across a segment boundary: back to A after B, again and again.
    loop_holds(page, _seek, times=2)
    _still_processing(page, live, video, "looped")
    page.keyboard.press("\\")
    assert _player(page)["source"] == "hls"

    # Seeking into the latest segment the worker has finished, past the loop's.
    _finished_past(page, 8)
    target = _finished_until(page) - 1.5
    _seek(page, target)
    _plays_past(page, target + 0.3)
    _still_processing(page, live, video, "seeked")

    # And the transcode ends well: ready, with the stream still what plays.
    page.wait_for_function(
        "() => document.getElementById('processing').hidden",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    video.refresh_from_db()
    assert video.status == "ready" and video.hls_playlist
    assert owner.errors == []
