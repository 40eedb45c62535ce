"""The recorder on the upload page in headless Chromium with its fake camera, against real web,
worker and beat: a take is uploaded while it records (tus creation-defer-length), reviewed,
confirmed and processed; a take whose tab closed mid-recording is finished as a video.

Story: Ivy films her scales on her phone and on her laptop; Jo's tab closes while she records.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from domain.uploads.models import Upload
from domain.videos.models import Video
from tests.web.pages.conftest import DESKTOP, PHONE, fits, shoot, signup

pytestmark = pytest.mark.slow
# Chromium's fake camera (a moving test pattern and a beep) and no permission prompt.
CHROMIUM_EXTRA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PROCESSING_TIMEOUT_MS = 180_000


def _open_recorder(page, live, title: str) -> None:
    page.goto(live("/videos/upload/"))
    page.get_by_role("button", name="Record", exact=True).click()
    page.wait_for_function("() => document.getElementById('rec-preview').readyState >= 2")
    page.get_by_label("Title").last.fill(title)


def _record(page, seconds: int) -> None:
    """Start, see the countdown, and record until the timer shows `seconds`."""
    page.get_by_role("button", name="Start recording").click()
    expect(page.locator("#rec-countdown")).to_have_text("3")
    expect(page.get_by_role("timer", name="Recording time")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("timer", name="Recording time")).to_have_text(f"0:{seconds:02d}", timeout=20_000)


def _bytes_while_recording(title: str) -> Upload:
    """The upload of the take in progress: bytes arrived, its length still unknown."""
    for _ in range(100):
        upload = Upload.objects.filter(title=title).first()
        if upload is not None and upload.offset > 0:
            break
        time.sleep(0.1)
    assert upload is not None and upload.offset > 0, "nothing arrived while recording"
    assert upload.length is None
    return upload


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_take_recorded_in_the_browser_uploads_while_recording_and_becomes_a_ready_video(live, browse, viewport):
    b = browse()
    page = b.new_page(viewport)
    signup(page, live, f"ivy{viewport['width']}")
    title = f"Scales take {viewport['width']}"
    _open_recorder(page, live, title)
    # The chosen type is the best the browser has; Chromium records VP9 with Opus.
    assert page.evaluate("() => MediaRecorder.isTypeSupported('video/webm;codecs=vp9,opus')")
    expect(page.get_by_label("Camera", exact=True)).to_have_count(1)
    assert page.locator("#rec-camera option").count() >= 1
    assert page.evaluate("() => getComputedStyle(document.getElementById('rec-preview')).transform").startswith(
        "matrix(-1"
    ), "the preview is mirrored"

    _record(page, 3)
    shoot(page, "recorder-recording")
    fits(page)
    _bytes_while_recording(title)
    page.get_by_role("button", name="Stop").click()

    review = page.get_by_label("Your take")
    expect(review).to_be_visible()
    assert page.evaluate("() => getComputedStyle(document.getElementById('rec-review')).transform") == "none"
    # Its length is known (a recorder's WebM does not carry it), from the start.
    page.wait_for_function("() => { const v = document.getElementById('rec-review');"
                           " return isFinite(v.duration) && v.currentTime === 0; }")
    assert 2.0 < page.evaluate("() => document.getElementById('rec-review').duration") < 6.0
    page.evaluate("() => document.getElementById('rec-review').play()")
    page.wait_for_function("() => document.getElementById('rec-review').currentTime > 0.5")
    expect(page.locator("#rec-state")).to_contain_text("Review the take")
    shoot(page, "recorder-review")

    confirmed = time.monotonic()
    page.get_by_role("button", name="Use this take").click()
    expect(page.get_by_role("link", name=f"Watch {title}")).to_be_visible(timeout=PROCESSING_TIMEOUT_MS)
    playable = time.monotonic() - confirmed
    page.wait_for_function(
        "() => /^(Ready\\.|Processing failed)/.test(document.getElementById('rec-state').textContent)",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    expect(page.locator("#rec-state")).to_have_text("Ready.")
    print(f"\n{viewport['width']} px: playable {playable:.1f} s, ready {time.monotonic() - confirmed:.1f} s after confirming")
    shoot(page, "recorder-ready")

    video = Video.objects.get(title=title)
    assert video.status == "ready" and video.renditions.exists()
    assert video.original_filename.endswith(".webm") and 2.0 < video.duration < 6.0
    assert not Upload.objects.filter(completed_at__isnull=True).exists()
    page.get_by_role("link", name=f"Watch {title}").click()
    page.wait_for_url(live(f"/videos/{video.id}/"))
    assert b.errors == []


def test_a_take_whose_tab_closed_mid_recording_is_finished_as_a_video(live, browse):
    b = browse()
    page = b.new_page(DESKTOP)
    signup(page, live, "jo")
    title = "Take cut short"
    _open_recorder(page, live, title)
    _record(page, 3)
    upload = _bytes_while_recording(title)
    page.close()  # mid-recording: no stop, no confirmation

    page = b.new_page(DESKTOP)
    page.goto(live("/videos/upload/"))
    expect(page.get_by_role("heading", name="Interrupted recordings")).to_be_visible()
    expect(page.locator("#interrupted li")).to_contain_text(title)
    shoot(page, "recorder-interrupted")
    upload.refresh_from_db()
    assert upload.length is None and upload.offset > 0
    page.get_by_role("button", name=f"Finish {title} as video").click()
    state = page.locator("#interrupted [data-role=rec-state]")
    page.wait_for_function(
        "() => /^(Ready\\.|Processing failed)/.test(document.querySelector('#interrupted [data-role=rec-state]').textContent)",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    expect(state).to_have_text("Ready.")
    expect(page.get_by_role("link", name=f"Watch {title}")).to_be_visible()
    shoot(page, "recorder-interrupted-finished")
    upload.refresh_from_db()
    video = Video.objects.get(id=upload.video_id)
    assert video.status == "ready" and video.size == upload.length == upload.offset
    assert video.duration > 1.5
    assert b.errors == []
