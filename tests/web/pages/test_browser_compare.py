"""The practice tools in real headless Chromium: the frame step at 25, 30000/1001 and a variable
frame rate, the compare page (two players kept within a frame), the mirror, links to a moment and
saved loops. Keys only where a key exists.

The clips are public MP4 renditions made by ffmpeg (no HLS: the player's HLS is tested in
test_browser_player.py), so their media need no signature; the frame times they really have come
from ffprobe."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import TimeoutError, expect

from domain.videos.models import Rendition, Video
from tests.media import make_clip
from tests.web.pages.conftest import DESKTOP, PASSWORD, PHONE, fits, login, shoot

pytestmark = pytest.mark.slow
SECONDS = 6

# The test's own eye on the player: the media time of every frame Chromium presents, and the
# picture, hashed from a canvas, so "the frame changed" means the pixels did.
WATCH_FRAMES = """(id) => {
  const v = document.getElementById(id);
  window.shown = null;
  const seen = (now, meta) => { window.shown = meta.mediaTime; v.requestVideoFrameCallback(seen); };
  v.requestVideoFrameCallback(seen);
  window.picture = () => {
    const c = document.createElement('canvas'); c.width = 160; c.height = 90;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0, 160, 90);
    const d = g.getImageData(0, 0, 160, 90).data; let h = 0;
    for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) | 0;
    return h;
  };
}"""


def _variable_rate_clip(path: Path) -> Path:
    """30 fps with two frames of every five dropped and the gaps kept: frames last 1/30 s, 1/30 s
    and 3/30 s, over and over (18 fps on average, which is what the probe says)."""
    source = make_clip(path.with_name("cfr-" + path.name), seconds=SECONDS, width=640, height=360, fps=30,
                       acodec=None)
    subprocess.run(
        [shutil.which("ffmpeg"), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(source),
         "-vf", "select='lt(mod(n\\,5)\\,3)'", "-fps_mode", "passthrough", "-c:v", "libx264", "-preset",
         "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _frame_times(path: Path) -> list[float]:
    out = subprocess.run(
        [shutil.which("ffprobe"), "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
         "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return sorted(float(f["pts_time"]) for f in json.loads(out)["frames"])


def _video(owner: User, title: str, clip: Path, media_root: Path, *, fps: float | None) -> Video:
    video = Video.objects.create(owner=owner, title=title, visibility="public", status="ready", duration=SECONDS,
                                 width=640, height=360, fps=fps)
    name = f"{video.storage_prefix}360p.mp4"
    (media_root / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, media_root / name)
    Rendition.objects.create(video=video, label="360p", width=640, height=360, file=name, size_bytes=1)
    return video


def _ready(page, video_id: str = "player") -> None:
    page.wait_for_function(f"() => document.getElementById('{video_id}').readyState >= 2")
    page.evaluate(WATCH_FRAMES, video_id)


def _shows(page, media_time: float, video_id: str = "player") -> None:
    """The browser presents the frame that starts at media_time, and has finished seeking."""
    try:
        page.wait_for_function(
            f"() => !document.getElementById('{video_id}').seeking && window.shown !== null"
            f" && Math.abs(window.shown - {media_time}) < 0.0005", timeout=5000,
        )
    except TimeoutError:
        now = page.evaluate(f"() => [window.shown, document.getElementById('{video_id}').currentTime]")
        raise AssertionError(f"the frame at {media_time} was not shown: frame at {now[0]}, currentTime {now[1]}")


@pytest.mark.parametrize("rate", ["25", "30000/1001"])
def test_the_frame_step_moves_exactly_one_frame_at_the_videos_own_rate(live, browse, tmp_path, media_root, rate):
    num, _, den = rate.partition("/")
    fps = float(num) / float(den or 1)
    clip = make_clip(tmp_path / "steps.mp4", seconds=SECONDS, width=640, height=360, fps=rate, acodec=None)
    times = _frame_times(clip)
    video = _video(User.objects.create_user("fay", password=PASSWORD), "Steps", clip, media_root,
                   fps=round(fps, 3))
    visitor = browse()
    page = visitor.new_page()
    page.goto(live(f"/videos/{video.id}/"))
    _ready(page)

    # Keys only: from the first frame forward frame by frame, each press one real frame later and
    # a new picture, currentTime one frame duration further each time; then back.
    page.keyboard.press(".")
    _shows(page, times[1])
    before = page.evaluate("() => [document.getElementById('player').currentTime, picture()]")
    for n in range(2, 8):
        page.keyboard.press(".")
        _shows(page, times[n])
        after = page.evaluate("() => [document.getElementById('player').currentTime, picture()]")
        assert after[0] - before[0] == pytest.approx(1 / fps, abs=2e-6), (n, after[0] - before[0])
        assert after[1] != before[1], f"frame {n} shows a new picture"
        before = after
    for n in (6, 5):
        page.keyboard.press(",")
        _shows(page, times[n])
    expect(page.get_by_label("Time and frame")).to_have_text("0:00.2 · frame 5")
    assert page.evaluate("() => document.getElementById('player').paused")
    assert visitor.errors == []


def test_on_a_variable_frame_rate_the_step_goes_frame_by_frame_as_the_file_has_them(live, browse, tmp_path,
                                                                                      media_root):
    clip = _variable_rate_clip(tmp_path / "vfr.mp4")
    times = _frame_times(clip)
    assert {round(b - a, 3) for a, b in zip(times, times[1:])} == {0.033, 0.1}, "frames of two lengths"
    video = _video(User.objects.create_user("gus", password=PASSWORD), "Uneven", clip, media_root, fps=18.0)
    visitor = browse()
    page = visitor.new_page()
    page.goto(live(f"/videos/{video.id}/"))
    _ready(page)
    # Played once, the player knows the real frame lengths from the frames it presented.
    page.keyboard.press("k")
    page.wait_for_function("() => document.getElementById('player').currentTime > 1.2")
    page.keyboard.press("k")
    page.evaluate("() => { document.getElementById('player').currentTime = 0; }")
    _shows(page, times[0])
    for n in range(1, 11):
        page.keyboard.press(".")
        _shows(page, times[n])
    for n in range(9, 4, -1):
        page.keyboard.press(",")
        _shows(page, times[n])
    # Where it never played, each step that lands in a long frame's middle goes on to the next.
    far = next(n for n, t in enumerate(times) if t > 4)
    page.evaluate(f"() => {{ document.getElementById('player').currentTime = {times[far]}; }}")
    _shows(page, times[far])
    for n in range(far + 1, far + 8):
        page.keyboard.press(".")
        _shows(page, times[n])
    assert visitor.errors == []


def _compare_drift(page, seconds: float) -> list[float]:
    """(B's time - B's offset) - (A's time - A's offset), in seconds, sampled on every animation
    frame while both play."""
    return page.evaluate(
        """([seconds]) => new Promise(done => {
          const a = document.getElementById('video-a'), b = document.getElementById('video-b');
          const oa = Number(document.getElementById('offset-a').value), ob = Number(document.getElementById('offset-b').value);
          const start = performance.now(), drifts = [];
          const sample = () => {
            if (!a.paused && !b.paused && !a.seeking && !b.seeking) drifts.push((b.currentTime - ob) - (a.currentTime - oa));
            if (performance.now() - start < seconds * 1000) requestAnimationFrame(sample); else done(drifts);
          };
          requestAnimationFrame(sample);
        })""",
        [seconds],
    )


def test_compare_plays_two_takes_lined_up_within_a_frame(live, browse, tmp_path, media_root):
    owner = User.objects.create_user("hal", password=PASSWORD)
    demo = _video(owner, "Demonstration", make_clip(tmp_path / "demo.mp4", seconds=SECONDS, width=640, height=360,
                                                    fps=25), media_root, fps=25.0)
    take = _video(owner, "My take", make_clip(tmp_path / "take.mp4", seconds=SECONDS, width=640, height=360,
                                              fps="30000/1001"), media_root, fps=29.97)
    frame = 1 / 29.97  # the shorter frame of the two
    visitor = browse()
    page = visitor.new_page()
    login(page, live, "hal")
    drifts = {}
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.goto(live(f"/compare/?a={demo.id}&b={take.id}&ob=0.5"))
        for side in ("video-a", "video-b"):
            page.wait_for_function(f"() => document.getElementById('{side}').readyState >= 2")
        expect(page.get_by_label("B starts at")).to_have_value("0.5")

        page.keyboard.press("k")
        raw = _compare_drift(page, 4.0)
        drift = sorted(abs(d) / frame for d in raw)
        drifts[viewport["width"]] = {"samples": len(drift), "p95": round(drift[int(len(drift) * 0.95)], 2),
                                     "max": round(drift[-1], 2)}
        # Within a frame; a starved machine (the suite on two cores) may stall one decoder for a
        # moment, which the page then catches up on within a quarter of a second.
        assert len(drift) > 100 and drift[int(len(drift) * 0.95)] < 1 and drift[-1] < 3, drifts
        page.keyboard.press("k")
        page.wait_for_function("() => document.getElementById('video-a').paused && document.getElementById('video-b').paused")
        fits(page)
        shoot(page, "compare")
    print("compare drift in frames of 1/29.97 s:", drifts)

    # Half speed, both; a frame step moves both; nudging B by a frame moves only B and goes into the URL.
    page.set_viewport_size(DESKTOP)
    page.get_by_label("Playback speed").select_option("0.5")
    rates = page.evaluate("() => [document.getElementById('video-a').playbackRate, document.getElementById('video-b').playbackRate]")
    assert rates == [0.5, 0.5]
    page.keyboard.press(".")
    page.wait_for_function("() => !document.getElementById('video-a').seeking && !document.getElementById('video-b').seeking")
    a0, b0 = page.evaluate("() => [document.getElementById('video-a').currentTime, document.getElementById('video-b').currentTime]")
    assert b0 - a0 == pytest.approx(0.5, abs=1e-6)
    page.get_by_role("button", name="B one frame later").click()
    page.wait_for_url("**ob=0.533**")
    a1, b1 = page.evaluate("() => [document.getElementById('video-a').currentTime, document.getElementById('video-b').currentTime]")
    assert (a1, round(b1 - b0, 3)) == (a0, 0.033)

    # "Sync here": the frames on screen become the common start; the link keeps it.
    page.get_by_role("button", name="Sync here: the frames on screen become the common start").click()
    page.wait_for_url(f"**oa={round(a1, 3):g}**")
    shared = page.url
    other = visitor.new_page()
    other.goto(shared)
    other.wait_for_function("() => document.getElementById('video-b').readyState >= 2 && !document.getElementById('video-b').seeking")
    assert other.evaluate("() => document.getElementById('video-b').currentTime") == pytest.approx(b1, abs=0.002)
    assert visitor.errors == []


def test_mirror_moment_links_and_saved_loops_on_the_watch_page(live, browse, tmp_path, media_root):
    owner = User.objects.create_user("ivy", password=PASSWORD)
    clip = make_clip(tmp_path / "dance.mp4", seconds=SECONDS, width=640, height=360, fps=25)
    video = _video(owner, "Dance", clip, media_root, fps=25.0)
    visitor = browse()
    page = visitor.new_page()
    login(page, live, "ivy")

    # A link to a moment opens the player there; one to a loop loops it.
    page.goto(live(f"/videos/{video.id}/?t=3.5"))
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 3.5) < 0.001")
    expect(page.get_by_label("Time and frame")).to_have_text("0:03.5 · frame 87")
    page.goto(live(f"/videos/{video.id}/?a=1.5&b=2.25"))
    expect(page.locator("#loop-info")).to_have_text("Looping 0:01.5 – 0:02.3")

    # Saved under a name, kept on the server: after a reload it is there, and choosing it loops it.
    page.get_by_label("Loop name").fill("Turn")
    page.get_by_role("button", name="Save loop").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved “Turn”.")
    page.goto(live(f"/videos/{video.id}/"))
    page.get_by_role("button", name="Loop Turn", exact=True).click()
    expect(page.locator("#loop-info")).to_have_text("Looping 0:01.5 – 0:02.3")
    page.get_by_role("button", name="Copy a link to this moment (or loop)").click()
    page.wait_for_url(f"**/videos/{video.id}/?a=1.5&b=2.25")

    # m mirrors the picture (the pressed button says so) and again unmirrors it.
    page.keyboard.press("m")
    expect(page.get_by_role("button", name="Mirror", exact=True)).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("() => getComputedStyle(document.getElementById('player')).transform") == "matrix(-1, 0, 0, 1, 0, 0)"
    for viewport in (PHONE, DESKTOP):
        page.set_viewport_size(viewport)
        page.keyboard.press(".")
        fits(page)
        shoot(page, "watch-practice-tools")
    page.keyboard.press("m")
    expect(page.get_by_role("button", name="Mirror", exact=True)).to_have_attribute("aria-pressed", "false")
    page.get_by_role("button", name="Delete loop Turn").click()
    expect(page.get_by_role("button", name="Loop Turn", exact=True)).to_have_count(0)
    assert visitor.errors == []
