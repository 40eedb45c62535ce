"""A person's whole path through Practika in headless Chromium against real web, worker and beat:
sign up, upload through the page, watch it process, practise with it, and delete it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from domain.uploads.models import Upload
from domain.videos.models import Rendition, Video
from tests.web.pages.conftest import DESKTOP, PHONE, fits, shoot, signup

pytestmark = pytest.mark.slow
PROCESSING_TIMEOUT_MS = 180_000


def _player(page) -> dict:
    return page.evaluate(
        "() => { const v = document.getElementById('player');"
        " return {t: v.currentTime, d: v.duration, ready: v.readyState, paused: v.paused,"
        " rate: v.playbackRate, src: v.currentSrc}; }"
    )


def _settled(page) -> None:
    """Wait until processing ends either way, and say why when it failed."""
    state = page.locator("[data-role=state]")
    page.wait_for_function(
        "() => /^(Ready\\.|Processing failed)/.test(document.querySelector('[data-role=state]').textContent)",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    assert state.text_content() == "Ready."


def _upload(page, live, source: Path, title: str) -> None:
    page.goto(live("/videos/upload/"))
    page.locator("#files").set_input_files(str(source))
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name=f"Upload {source.name}").click()


def test_sign_up_upload_watch_practise_and_delete(live, browse, clip, media_root):
    # 480 lines high: the player gets two renditions (360p and 480p) to choose between.
    source = clip("take.mp4", seconds=3, width=854, height=480)
    owner = browse()
    page = owner.new_page()
    signup(page, live, "fay")

    _upload(page, live, source, "Scales at 60")
    bar = page.locator("[data-role=upload-progress]")
    expect(bar).to_have_attribute("value", "100")
    expect(page.locator("[data-role=percent]")).to_have_text("100 %")
    watch_link = page.get_by_role("link", name="Watch Scales at 60")
    _settled(page)
    video = Video.objects.get(title="Scales at 60")
    assert video.status == "ready" and video.renditions.count() == 2
    watch_link.click()
    page.wait_for_url(live(f"/videos/{video.id}/"))

    # Play with the keyboard shortcut (a real key press, so autoplay rules allow sound).
    page.keyboard.press("k")
    page.wait_for_function("() => { const v = document.getElementById('player');"
                           " return v.readyState >= 3 && v.currentTime > 0.3; }")
    first = _player(page)["t"]
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {first}")

    # Seek to the middle: the media URL answers Range requests, so the browser can jump there.
    page.evaluate("() => { const v = document.getElementById('player'); v.pause(); v.currentTime = v.duration / 2; }")
    page.wait_for_function("() => { const v = document.getElementById('player');"
                           " return !v.seeking && Math.abs(v.currentTime - v.duration / 2) < 0.2 && v.readyState >= 2; }")

    # Another quality, while it plays (a level of the HLS stream): the picture changes and the
    # playhead goes on from where it was, not from the start.
    assert page.evaluate("() => document.getElementById('player').dataset.source") == "hls"
    quality = page.get_by_label("Quality")
    page.evaluate("() => document.getElementById('player').play()")
    before = _player(page)
    other = "360p" if quality.input_value() == "480p" else "480p"
    quality.select_option(other)
    page.wait_for_function(
        "(height) => { const v = document.getElementById('player');"
        " return v.videoHeight === height && v.readyState >= 2 && !v.seeking; }", arg=int(other[:-1])
    )
    page.evaluate("() => document.getElementById('player').pause()")
    after = _player(page)
    assert after["t"] >= before["t"] - 0.2

    # Frame step pauses and moves one frame.
    page.get_by_role("button", name="Next frame").click()
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {after['t']}")
    assert _player(page)["paused"]

    # Half speed and an A–B loop from 0.5 s to 1.5 s: the playhead keeps coming back to A.
    page.get_by_label("Playback speed").select_option("0.5")
    assert _player(page)["rate"] == 0.5
    for at, button in ((0.5, "Set loop start (A) here"), (1.5, "Set loop end (B) here")):
        page.evaluate(f"() => {{ document.getElementById('player').currentTime = {at}; }}")
        page.wait_for_function("() => !document.getElementById('player').seeking")
        page.get_by_role("button", name=button).click()
    expect(page.get_by_role("button", name="Loop between A and B")).to_have_attribute("aria-pressed", "true")
    page.evaluate(
        "() => { const v = document.getElementById('player'); window.loopLog = {wraps: 0, max: 0, last: 0};"
        " v.addEventListener('timeupdate', () => { const l = window.loopLog;"
        " if (v.currentTime < l.last - 0.3) l.wraps++; l.max = Math.max(l.max, v.currentTime); l.last = v.currentTime; });"
        " v.currentTime = 0.5; }"
    )
    page.keyboard.press("k")
    page.wait_for_function("() => window.loopLog.wraps >= 2", timeout=30_000)
    log = page.evaluate("() => window.loopLog")
    assert log["max"] < 1.5 + 0.3, log  # never ran far past B
    assert _player(page)["rate"] == 0.5
    # The other shortcuts: faster, loop off, frame back (which pauses).
    page.keyboard.press("=")
    assert _player(page)["rate"] == 0.75
    page.keyboard.press("\\")
    expect(page.get_by_role("button", name="Loop between A and B")).to_have_attribute("aria-pressed", "false")
    page.keyboard.press(",")
    assert _player(page)["paused"]

    for viewport in (PHONE, DESKTOP):
        for path, name in ((f"/videos/{video.id}/", "watch"), ("/", "library-with-video")):
            p = owner.new_page(viewport)
            p.goto(live(path))
            if name == "watch":
                p.wait_for_function("() => document.getElementById('player').readyState >= 1")
            else:
                p.wait_for_function("() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            fits(p)
            shoot(p, name)
            p.close()

    # Someone else: the private video is the very same 404 page as a video that never existed.
    stranger = browse().new_page()
    signup(stranger, live, "gus")
    hidden = stranger.goto(live(f"/videos/{video.id}/"))
    hidden_text = stranger.locator("main").inner_text()
    missing = stranger.goto(live("/videos/never-was/"))
    assert hidden.status == missing.status == 404
    assert hidden_text == stranger.locator("main").inner_text()

    # The owner makes it unlisted and copies its link to share.
    owner.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.get_by_text("Edit details").click()
    page.get_by_label("Visibility").select_option("unlisted")
    page.get_by_label("Description").fill("Metronome at 60, then 72.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(page.locator(".description")).to_have_text("Metronome at 60, then 72.")
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == live(f"/videos/{video.id}/")
    assert stranger.goto(live(f"/videos/{video.id}/")).status == 200  # unlisted: the link opens it

    # Delete, after a confirmation; the files go too.
    page.get_by_role("link", name="Delete…").click()
    page.get_by_role("button", name="Delete for good").click()
    page.wait_for_url(live("/"))
    expect(page.get_by_text("Deleted “Scales at 60” and its files.")).to_be_visible()
    assert not Video.objects.filter(id=video.id).exists()
    assert not any((media_root / "videos" / video.id).rglob("*"))
    assert owner.errors == []


def test_an_interrupted_upload_survives_a_dropped_network_and_a_reload(live, browse, clip):
    source = clip("long-take.mp4", seconds=3, width=854, height=480)
    chunks = Path(source).stat().st_size // (128 * 1024)
    assert chunks >= 5, "the clip must span several chunks"
    b = browse()
    page = b.new_page()
    signup(page, live, "hal")

    # The network drops once during the second chunk (the client retries by itself), then for
    # good from the fourth chunk on.
    sent: list[int] = []

    def flaky(route):
        if route.request.method == "PATCH":
            sent.append(int(route.request.headers["upload-offset"]))
            if len(sent) == 2 or len(sent) >= 5:
                return route.abort("internetdisconnected")
        return route.continue_()

    page.route("**/core/api/uploads/**", flaky)
    _upload(page, live, source, "Shaky connection")
    for _ in range(300):  # the client backs off 1 s, then 2 s, between attempts
        if len(sent) >= 6:
            break
        page.wait_for_timeout(100)
    expect(page.locator("[data-role=state]")).to_contain_text("Trying again")
    expect(page.locator("[data-role=speed]")).to_contain_text("/s")
    expect(page.locator("[data-role=eta]")).to_contain_text("left")
    assert sent[1] == sent[2] and sent[3] > sent[2], "the lost chunk was sent again, then the next one"
    assert sent[4] == sent[5], sent
    upload = Upload.objects.get(title="Shaky connection")
    assert upload.offset == sent[4] and 0 < upload.offset < upload.length

    # Reload: the page lists the unfinished upload; choosing the file again continues it.
    page.unroute("**/core/api/uploads/**")
    resumed: list[int] = []
    page.on("request", lambda r: r.method == "PATCH" and resumed.append(int(r.headers["upload-offset"])))
    page.reload()
    expect(page.get_by_role("heading", name="Unfinished uploads")).to_be_visible()
    expect(page.locator("#unfinished li")).to_contain_text("long-take.mp4")
    page.locator("#files").set_input_files(str(source))
    expect(page.locator("[data-role=upload-progress]")).to_have_attribute("value", "100")
    assert resumed[0] == upload.offset, "the upload went on from where the server stopped, not from the start"
    _settled(page)
    assert Video.objects.filter(title="Shaky connection").exists()
    # The dropped requests are logged by the browser itself; nothing else may be.
    assert [e for e in b.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_pause_resume_and_a_failed_video_with_its_reason_and_a_retry(live, browse, tmp_path):
    # Not a video at all, but long enough for several chunks.
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"these are practice notes, not a video\n" * 12_000)
    b = browse()
    page = b.new_page()
    signup(page, live, "ida")

    held = []

    def hold_second_chunk(route):
        if route.request.method == "PATCH" and not held and int(route.request.headers["upload-offset"]) > 0:
            held.append(route)  # never answered: the upload hangs mid-way until paused
            return None
        return route.continue_()

    page.route("**/core/api/uploads/**", hold_second_chunk)
    _upload(page, live, junk, "Not a take")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    pause = page.get_by_role("button", name="Pause notes.mp4")
    pause.click()
    expect(page.locator("[data-role=state]")).to_have_text("Paused.")
    expect(pause).to_have_text("Resume")
    expect(page.get_by_label("Title")).to_be_disabled()  # sent with the upload: fixed from now on
    shoot(page, "upload-paused")
    page.unroute("**/core/api/uploads/**")
    pause.click()
    expect(page.locator("[data-role=upload-progress]")).to_have_attribute("value", "100")

    page.wait_for_function(
        "() => document.querySelector('[data-role=state]').textContent.startsWith('Processing failed')",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    video = Video.objects.get(title="Not a take")
    assert video.status == "failed" and video.error
    expect(page.locator("[data-role=state]")).to_have_text(f"Processing failed: {video.error}")
    shoot(page, "upload-failed")

    steps_before = video.steps.count()
    with page.expect_response(lambda r: r.url.endswith(f"/core/api/videos/{video.id}/reprocess/")) as answer:
        page.get_by_role("button", name="Retry processing").click()
    assert answer.value.status == 202
    for _ in range(PROCESSING_TIMEOUT_MS // 200):  # the pipeline runs again, and fails again
        video.refresh_from_db()
        if video.status == "failed" and video.steps.count() > steps_before:
            break
        page.wait_for_timeout(200)
    assert video.status == "failed" and video.steps.count() > steps_before
    expect(page.locator("[data-role=state]")).to_have_text(f"Processing failed: {video.error}")
    expect(page.get_by_role("button", name="Retry processing")).to_be_enabled()

    for viewport in (PHONE, DESKTOP):
        for path, name in ((f"/videos/{video.id}/", "watch-failed"), ("/?show=mine", "library-failed")):
            p = b.new_page(viewport)
            p.goto(live(path))
            expect(p.get_by_text(video.error)).to_be_visible()
            fits(p)
            shoot(p, name)
            p.close()
    assert b.errors == []


def _watching_a_processing_video(live, browse, username: str):
    """A signed-in owner's watch page of a video that has no rendition yet."""
    page = browse().new_page()
    signup(page, live, username)
    video = Video.objects.create(
        owner=User.objects.get(username=username), title="Half done", status="processing", progress=10,
        heartbeat_at=timezone.now(),
    )
    page.goto(live(f"/videos/{video.id}/"))
    expect(page.get_by_label("Processing progress")).to_be_visible()
    assert _player(page)["src"] == ""
    return page, video


def _renditions_arrive(video: Video, progress: int, *sizes: tuple[str, int, int]) -> None:
    """The worker records renditions (files that are not played need not exist) and progress."""
    for label, width, height in sizes:
        Rendition.objects.get_or_create(
            video=video, label=label,
            defaults={"width": width, "height": height, "file": f"{video.storage_prefix}{label}.mp4", "size_bytes": 1},
        )
    Video.objects.filter(id=video.id).update(progress=progress, heartbeat_at=timezone.now())


def test_the_watch_page_plays_the_first_rendition_while_processing_goes_on(live, browse, clip, media_root):
    page, video = _watching_a_processing_video(live, browse, "jo")

    # The worker stores its first rendition; the open page picks it up without a reload.
    name = f"{video.storage_prefix}360p.mp4"
    (media_root / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip("360.mp4", seconds=2, width=640, height=360), media_root / name)
    _renditions_arrive(video, 55, ("360p", 640, 360))
    expect(page.get_by_text("55 %")).to_be_visible()
    expect(page.get_by_label("Quality")).to_have_value("360p")
    page.keyboard.press("k")
    page.wait_for_function("() => { const v = document.getElementById('player');"
                           " return v.readyState >= 3 && v.currentTime > 0.2; }")
    expect(page.get_by_label("Processing progress")).to_be_visible()  # still processing, yet playing

    # More sizes arrive: the list grows, and what plays stays what plays.
    playing = _player(page)["src"]
    _renditions_arrive(video, 80, ("720p", 1280, 720), ("1080p", 1920, 1080))
    expect(page.locator("#quality option")).to_have_count(3)
    expect(page.get_by_label("Quality")).to_have_value("360p")
    assert _player(page)["src"] == playing


def test_sizes_that_arrive_together_start_with_the_one_the_server_chooses(live, browse):
    page, video = _watching_a_processing_video(live, browse, "kim")
    _renditions_arrive(video, 60, ("360p", 640, 360), ("720p", 1280, 720), ("1080p", 1920, 1080))
    expect(page.get_by_label("Quality")).to_have_value("720p")
    page.wait_for_function("() => document.getElementById('player').src.includes('720p.mp4')")


def test_several_files_upload_at_once_each_with_its_own_details(live, browse, clip):
    first, second = clip("etude.mp4", seconds=1), clip("scale.mov", seconds=1, container="mov")
    b = browse()
    page = b.new_page()
    signup(page, live, "kim")
    page.goto(live("/videos/upload/"))
    page.locator("#files").set_input_files([str(first), str(second)])
    cards = page.locator(".upload")
    expect(cards).to_have_count(2)
    cards.nth(1).get_by_label("Visibility").select_option("public")
    page.get_by_role("button", name="Start all uploads").click()
    for i in range(2):
        expect(cards.nth(i).locator("[data-role=upload-progress]")).to_have_attribute("value", "100")
        expect(cards.nth(i).locator("[data-role=state]")).to_have_text("Ready.", timeout=PROCESSING_TIMEOUT_MS)
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        fits(page)
        shoot(page, "upload-done")
    videos = {v.original_filename: v for v in Video.objects.all()}
    assert (videos["etude.mp4"].title, videos["etude.mp4"].visibility) == ("etude", "private")
    assert (videos["scale.mov"].title, videos["scale.mov"].visibility) == ("scale", "public")

    # A visitor's library: the public one with its poster, never the private one.
    visitor = browse()
    library = visitor.new_page()
    library.goto(live("/"))
    expect(library.locator(".tile h2")).to_have_text(["scale"])
    library.wait_for_function("() => { const i = document.querySelector('.tile img'); return i.complete && i.naturalWidth > 0; }")
    assert b.errors == [] and visitor.errors == []
