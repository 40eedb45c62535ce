"""The watch page's player in real headless Chromium: HLS through hls.js (made here by ffmpeg, as
the worker makes it: fMP4, 2 s segments, a 360p and a 720p variant, an EVENT playlist), the
practice controls on it, a playlist that grows while the video processes, and the MP4 renditions
when there is no HLS or it fails.

The videos are public, so their media need no signature."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from domain.videos.models import Rendition, Video
from tests.web.pages.conftest import DESKTOP, PASSWORD, PHONE, fits, loop_holds, shoot

pytestmark = pytest.mark.slow
SECONDS = 8
VARIANTS = ("360p", "720p", "audio")


def _hls(ffmpeg: str, folder: Path) -> None:
    """An 8 s HLS ladder in one ffmpeg run: one decode split into two scaled variants with aligned
    keyframes every 2 s, AAC audio once in its own group, and a master playlist with BANDWIDTH."""
    folder.mkdir(parents=True)
    subprocess.run(
        [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(SECONDS),
         "-filter_complex", "[0:v]split=2[a][b];[a]scale=640:360[v0];[b]scale=1280:720[v1]",
         "-map", "[v0]", "-map", "[v1]", "-map", "1:a",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
         "-b:v:0", "500k", "-maxrate:v:0", "600k", "-bufsize:v:0", "1200k",
         "-b:v:1", "1500k", "-maxrate:v:1", "1800k", "-bufsize:v:1", "3600k",
         "-force_key_frames", "expr:gte(t,n_forced*2)", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "96k",
         "-var_stream_map", "v:0,agroup:aac,name:360p v:1,agroup:aac,name:720p a:0,agroup:aac,name:audio,default:yes",
         "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "event", "-hls_segment_type", "fmp4",
         "-hls_flags", "independent_segments", "-master_pl_name", "master.m3u8",
         "-hls_segment_filename", "%v/seg_%05d.m4s", "-hls_fmp4_init_filename", "init.mp4", "%v/index.m3u8"],
        cwd=folder, check=True,
    )  # fmt: skip
    assert "BANDWIDTH=" in (folder / "master.m3u8").read_text()


def _cut(folder: Path, segments: int) -> dict[Path, str]:
    """Rewrite each media playlist as a worker part-way through would have it: its first segments
    and no ENDLIST. Returns the whole playlists, to put back when the video is done."""
    whole = {}
    for variant in VARIANTS:
        path = folder / variant / "index.m3u8"
        whole[path] = text = path.read_text()
        head, *entries = re.split(r"(?=#EXTINF)", text.replace("#EXT-X-ENDLIST\n", ""))
        path.write_text(head + "".join(entries[:segments]))
    return whole


def _public_video(owner: User, title: str, **fields) -> Video:
    fields = {"status": "ready", "duration": SECONDS, "width": 1280, "height": 720, **fields}
    return Video.objects.create(owner=owner, title=title, visibility="public", **fields)


def _mp4(video: Video, clip, media_root: Path, label: str = "360p") -> None:
    name = f"{video.storage_prefix}{label}.mp4"
    (media_root / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip(f"{label}.mp4", seconds=SECONDS, width=640, height=360), media_root / name)
    Rendition.objects.create(video=video, label=label, width=640, height=360, file=name, size_bytes=1)


def _hls_video(video: Video, ffmpeg: str, media_root: Path) -> Path:
    folder = media_root / video.storage_prefix / "hls"
    _hls(ffmpeg, folder)
    return folder


def _player(page) -> dict:
    return page.evaluate(
        "() => { const v = document.getElementById('player');"
        " return {t: v.currentTime, paused: v.paused, ended: v.ended, rate: v.playbackRate,"
        " height: v.videoHeight, source: v.dataset.source || ''}; }"
    )


def _plays_past(page, seconds: float) -> None:
    page.wait_for_function(
        f"() => {{ const v = document.getElementById('player'); return !v.paused && v.currentTime > {seconds}; }}"
    )


def _seek(page, seconds: float) -> None:
    page.evaluate(f"() => {{ document.getElementById('player').currentTime = {seconds}; }}")
    page.wait_for_function(
        f"() => {{ const v = document.getElementById('player');"
        f" return !v.seeking && v.readyState >= 3 && Math.abs(v.currentTime - {seconds}) < 0.3; }}"
    )


def _frame_on_screen(page) -> None:
    """Until the frame a step or seek went to is presented (its seek ended, then two animation
    frames, after which the browser's frame callbacks have run): as a person sees it before the
    next press."""
    page.evaluate(
        """() => new Promise(done => {
          const v = document.getElementById('player');
          const twice = () => requestAnimationFrame(() => requestAnimationFrame(done));
          if (v.seeking) v.addEventListener('seeked', twice, { once: true }); else twice();
        })"""
    )


def _press_quickly(page, key: str, times: int) -> None:
    """The key pressed `times`, 10 ms apart (faster than a key held down repeats)."""
    page.evaluate(
        f"""() => new Promise(done => {{
          let left = {times};
          const press = () => {{
            document.dispatchEvent(new KeyboardEvent('keydown', {{ key: '{key}', bubbles: true }}));
            if (--left) setTimeout(press, 10); else done();
          }};
          press();
        }})"""
    )


def _options(page) -> list[str]:
    return page.locator("#quality option").evaluate_all("os => os.map(o => o.value)")


def test_hls_plays_seeks_loops_and_steps_through_hlsjs(live, browse, clip, ffmpeg, media_root):
    owner = User.objects.create_user("uma", password=PASSWORD)
    video = _public_video(owner, "Arpeggios")
    _mp4(video, clip, media_root)
    _hls_video(video, ffmpeg, media_root)
    Video.objects.filter(id=video.id).update(hls_playlist=f"{video.storage_prefix}hls/master.m3u8")
    visitor = browse()
    page = visitor.new_page()
    page.goto(live(f"/videos/{video.id}/"))

    # hls.js plays it, offering its two levels and bandwidth's own choice.
    page.keyboard.press("k")
    _plays_past(page, 0.5)
    assert _player(page)["source"] == "hls"
    assert _options(page) == ["auto", "360p", "720p"]
    expect(page.get_by_label("Quality")).to_have_value("auto")

    # A level chosen by hand shows at once; then back to bandwidth's choice.
    page.get_by_label("Quality").select_option("720p")
    page.wait_for_function("() => document.getElementById('player').videoHeight === 720")
    page.get_by_label("Quality").select_option("360p")
    page.wait_for_function("() => document.getElementById('player').videoHeight === 360")
    page.get_by_label("Quality").select_option("auto")
    expect(page.get_by_label("Quality")).to_have_value("auto")

    # Seeking into a later segment.
    _seek(page, 5.0)
    _plays_past(page, 5.3)

    # Half speed: half the media time in the same wall time.
    page.get_by_label("Playback speed").select_option("0.5")
    _seek(page, 1.0)
    _plays_past(page, 1.1)
    advanced = page.evaluate(
        "() => new Promise(done => { const v = document.getElementById('player'); const t = v.currentTime;"
        " const w = performance.now(); setTimeout(() => done((v.currentTime - t) / ((performance.now() - w) / 1000)), 2000); })"
    )
    assert _player(page)["rate"] == 0.5
    assert 0.3 < advanced < 0.7, advanced
    page.get_by_label("Playback speed").select_option("1")

    # The A–B loop holds across a segment boundary: back to A after B, again and again.
    loop_holds(page, _seek, times=3)
    page.keyboard.press("\\")
    expect(page.locator("#loop-info")).to_have_text("Loop 0:01.0 – 0:03.2")

    # Frame step: it pauses, then each press moves one frame.
    # Each press after the frame it moved to is on screen, as a person steps.
    page.keyboard.press(".")
    page.wait_for_function("() => document.getElementById('player').paused")
    _frame_on_screen(page)
    at = _player(page)["t"]
    page.keyboard.press(".")
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {at + 1 / 30}) < 0.005")
    _frame_on_screen(page)
    page.keyboard.press(",")
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {at}) < 0.005")
    _frame_on_screen(page)
    page.keyboard.press(",")
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {at - 1 / 30}) < 0.005")

    for viewport in (PHONE, DESKTOP):
        p = visitor.new_page(viewport)
        p.goto(live(f"/videos/{video.id}/"))
        p.keyboard.press("k")
        _plays_past(p, 1.0)
        p.keyboard.press("k")
        fits(p)
        shoot(p, "watch-hls")
        p.close()
    assert visitor.errors == []


def test_a_processing_video_switches_to_its_growing_stream_and_plays_to_the_end(
    live, browse, clip, ffmpeg, media_root
):
    owner = User.objects.create_user("val", password=PASSWORD)
    video = _public_video(owner, "Still coming", status="processing", progress=30, heartbeat_at=timezone.now())
    _mp4(video, clip, media_root)
    visitor = browse()
    page = visitor.new_page()
    page.goto(live(f"/videos/{video.id}/"))
    page.keyboard.press("k")
    _plays_past(page, 1.0)
    assert _player(page)["source"] == "mp4"
    page.evaluate("() => { window.samePage = true; }")
    playlists = []
    page.on("response", lambda r: r.url.endswith("/index.m3u8") and playlists.append(r.headers.get("cache-control", "")))

    # The worker publishes the stream's first two segments: the page switches to it where it is.
    folder = _hls_video(video, ffmpeg, media_root)
    whole = _cut(folder, segments=2)
    Video.objects.filter(id=video.id).update(
        hls_playlist=f"{video.storage_prefix}hls/master.m3u8", progress=50, heartbeat_at=timezone.now()
    )
    page.wait_for_function("() => { const v = document.getElementById('player');"
                           " return v.dataset.source === 'hls' && v.readyState >= 3 && !v.seeking; }")
    before = _player(page)["t"]
    assert before > 1.0, "the stream starts where the MP4 was, not at its beginning"
    _plays_past(page, before + 0.5)
    assert page.evaluate("() => window.samePage")
    expect(page.get_by_label("Processing progress")).to_be_visible()

    # The rest arrives and the playlists end: it plays on to the end, if the browser asks again.
    assert all("no-store" in c for c in playlists), f"a growing playlist may be cached ({playlists[0]})"
    for path, text in whole.items():
        path.write_text(text)
    Video.objects.filter(id=video.id).update(status="ready", progress=100, heartbeat_at=timezone.now())
    page.wait_for_function("() => document.getElementById('player').ended", timeout=30_000)
    assert _player(page)["t"] > SECONDS - 0.5
    assert visitor.errors == []


def test_without_hls_or_when_it_fails_the_mp4_renditions_play(live, browse, clip, media_root):
    owner = User.objects.create_user("wes", password=PASSWORD)
    plain = _public_video(owner, "Plain MP4", fps=25.0)  # the clip's own rate
    _mp4(plain, clip, media_root)
    broken = _public_video(owner, "Broken stream")
    _mp4(broken, clip, media_root)
    Video.objects.filter(id=broken.id).update(hls_playlist=f"{broken.storage_prefix}hls/master.m3u8")
    visitor = browse()

    page = visitor.new_page()
    page.goto(live(f"/videos/{plain.id}/"))
    assert _options(page) == ["360p"]
    page.get_by_label("Playback speed").select_option("0.5")
    page.keyboard.press("k")
    _plays_past(page, 0.5)
    assert _player(page) | {"t": None, "paused": None} == {
        "t": None, "paused": None, "ended": False, "rate": 0.5, "height": 360, "source": "mp4",
    }
    page.keyboard.press(".")
    page.wait_for_function("() => document.getElementById('player').paused")
    _frame_on_screen(page)
    at = _player(page)["t"]
    page.keyboard.press(".")
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {at + 1 / 25}) < 0.005")

    # Presses faster than the frames come: each still counts from the frame the last one went to,
    # not from a frame presented before that one's seek ended.
    _frame_on_screen(page)
    at = _player(page)["t"]
    for key, frames in ((".", 8), (",", 8)):
        _press_quickly(page, key, frames)
        _frame_on_screen(page)
        at += frames / 25 if key == "." else -frames / 25
        assert abs(_player(page)["t"] - at) < 0.005, (key, _player(page)["t"], at)

    # A master playlist that is not there: after hls.js gives up, the MP4 plays.
    page = visitor.new_page()
    page.goto(live(f"/videos/{broken.id}/"))
    page.wait_for_function("() => document.getElementById('player').dataset.source === 'mp4'")
    assert _options(page) == ["360p"]
    page.keyboard.press("k")
    _plays_past(page, 0.5)
    assert [e for e in visitor.errors if "master.m3u8" not in e and "404" not in e] == []
