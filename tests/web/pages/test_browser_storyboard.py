"""Scrub previews in real headless Chromium: a private video processed by the real pipeline (its
storyboard made by the ladder's own ffmpeg run), then the watch page's scrub bar hovered, dragged
and driven by keyboard, at a desktop's width and a phone's."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.domain.videos.test_attempts import add_video
from tests.web.pages.conftest import DESKTOP, PASSWORD, PHONE, fits, login, shoot
from workers import processing

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "360"])
def test_hovering_the_scrub_bar_shows_that_moments_frame_and_dragging_seeks(live, browse, clip, viewport):
    owner = User.objects.create_user("ida", password=PASSWORD)
    take = clip("take.webm", seconds=8, width=640, height=360, vcodec="libvpx-vp9", acodec="libopus", container="webm")
    video = add_video(owner, take)
    processing.video_process(video_id=video.id)
    video.refresh_from_db()
    assert video.status == "ready", video.error
    visitor = browse()
    page = visitor.new_page(viewport)
    login(page, live, "ida")
    page.goto(live(f"/videos/{video.id}/"))
    bar = page.get_by_role("slider", name="Scrub through the video")
    bar.wait_for(state="visible")
    box = bar.bounding_box()

    # Hovering at the middle shows the thumbnail of second 4: the fifth on the sheet, 160 px each.
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    preview = page.locator("[data-role=preview]")
    preview.wait_for(state="visible")
    assert float(preview.get_attribute("data-at")) == pytest.approx(video.duration / 2, abs=0.2)
    thumb = page.locator("[data-role=thumb]").evaluate(
        "t => ({image: t.style.backgroundImage, position: t.style.backgroundPosition, w: t.style.width})")
    assert "storyboard/sheet_000.jpg" in thumb["image"] and "?e=" in thumb["image"], "a signed sheet"
    assert (thumb["position"], thumb["w"]) == ("-640px 0px", "160px")
    sheet = page.evaluate("""url => new Promise(done => { const i = new Image(); i.onload = () => done(i.naturalWidth);
                             i.onerror = () => done(0); i.src = url; })""", thumb["image"][5:-2])
    assert sheet == 1600, "the browser loads the sheet the cue names"
    shoot(page, "watch-scrub")

    # Dragging seeks the player; the keyboard moves it too.
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    page.mouse.up()
    player = page.locator("#player")
    assert player.evaluate("v => v.currentTime") == pytest.approx(video.duration * 0.75, abs=0.3)
    bar.focus()
    page.keyboard.press("Home")
    assert player.evaluate("v => v.currentTime") == pytest.approx(0, abs=0.05)
    page.keyboard.press("ArrowRight")
    assert player.evaluate("v => v.currentTime") == pytest.approx(5, abs=0.05), "5 s a key, not the player's own step too"
    fits(page)
    assert visitor.errors == []
