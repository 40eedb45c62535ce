"""The practice loop in headless Chromium against real web, worker and beat: a coach makes a
space and an exercise, a student joins by the invite link, replies with a video and comments on
it at 0:02, and the coach follows the notification to the reply, where the comment's marker seeks
the player to 2 s. Screenshots of every new page at 360 and 1280 px."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from domain.spaces import services
from domain.spaces.models import Comment, Reply, Space
from domain.videos.models import Video
from tests.web.pages.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    fits,
    login,
    shoot,
    signup,
)

pytestmark = pytest.mark.slow
# Chromium's fake camera, for the exercise page's "Record" (and no permission prompt).
CHROMIUM_EXTRA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PROCESSING_TIMEOUT_MS = 180_000


def _upload_ready(page, live, source, title: str) -> Video:
    """Through the upload page, until the real worker has made it ready."""
    page.goto(live("/videos/upload/"))
    page.locator("#files").set_input_files(str(source))
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name=f"Upload {source.name}").click()
    page.wait_for_function(
        "() => /^(Ready\\.|Processing failed)/.test(document.querySelector('[data-role=state]').textContent)",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    expect(page.locator("[data-role=state]")).to_have_text("Ready.")
    return Video.objects.get(title=title)


def _screens(context, live, pages: dict[str, str]) -> None:
    for viewport in (PHONE, DESKTOP):
        for name, path in pages.items():
            p = context.new_page(viewport)
            p.goto(live(path))
            p.wait_for_load_state("networkidle")
            fits(p)
            shoot(p, name)
            p.close()


def _at(page) -> float:
    return page.evaluate("() => document.getElementById('player').currentTime")


def test_coach_and_student_practise_together(live, browse, clip):
    coach = browse()
    page = coach.new_page()
    signup(page, live, "clara")
    demo = _upload_ready(page, live, clip("demo.mp4", seconds=4), "Bow hold demo")

    # A space, from the header's Spaces link.
    page.goto(live("/"))
    page.get_by_role("link", name="Spaces").click()
    page.get_by_label("Name").fill("Tuesday strings")
    page.get_by_role("button", name="Create space").click()
    space = Space.objects.get(name="Tuesday strings")
    page.wait_for_url(live(f"/spaces/{space.pk}/"))

    # An exercise with the demonstration.
    page.get_by_label("Title").fill("Open strings, slowly")
    page.get_by_label("Instructions").fill("Four beats a bow. The metronome: https://example.com/metronome")
    page.get_by_label("Demonstration").select_option(label="Bow hold demo")
    page.get_by_role("button", name="Post exercise").click()
    exercise = space.exercises.get()
    page.wait_for_url(live(f"/exercises/{exercise.pk}/"))
    assert exercise.video_id == demo.id
    expect(page.get_by_role("link", name="https://example.com/metronome")).to_be_visible()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")

    page.goto(live(f"/spaces/{space.pk}/"))
    invite = page.get_by_label("Whoever opens this link while signed in joins the space").input_value()
    assert re.fullmatch(re.escape(live("/join/")) + r"[\w-]+/", invite)
    coach.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == invite

    # The student opens the invite signed out, signs up, and lands in the space.
    student = browse()
    s = student.new_page()
    s.goto(invite)
    _screens(student, live, {"join": invite.removeprefix(live.url)})
    s.get_by_role("link", name="Sign up to join").click()
    s.get_by_label("Username").fill("sam")
    s.get_by_label("Password", exact=True).fill(PASSWORD)
    s.get_by_label("Password confirmation").fill(PASSWORD)
    s.get_by_role("button", name="Sign up").click()
    s.wait_for_url(live(f"/spaces/{space.pk}/"))
    expect(s.get_by_text("Welcome to “Tuesday strings”.")).to_be_visible()

    # The reply: a take uploaded, then chosen on the exercise page.
    s.get_by_role("link", name="Open strings, slowly").click()
    s.wait_for_url(live(f"/exercises/{exercise.pk}/"))
    expect(s.get_by_role("button", name="Record")).to_be_visible()
    take = _upload_ready(s, live, clip("take.mp4", seconds=4), "Sam's open strings")
    s.goto(live(f"/exercises/{exercise.pk}/"))
    s.get_by_label("Your video").select_option(label="Sam's open strings")
    s.get_by_label("Note").fill("The D string squeaks.")
    s.get_by_role("button", name="Send reply").click()
    expect(s.get_by_text("Replied. The coaches have been told.")).to_be_visible()
    assert Reply.objects.get().video_id == take.id
    s.get_by_role("link", name="sam: Sam's open strings").click()
    s.wait_for_url(live(f"/videos/{take.id}/"))

    # A comment at 0:02: seek there, one key, one field.
    s.wait_for_function("() => document.getElementById('player').readyState >= 1")
    s.evaluate("() => { document.getElementById('player').currentTime = 2; }")
    s.wait_for_function("() => !document.getElementById('player').seeking")
    s.keyboard.press("c")
    expect(s.get_by_label("Your comment")).to_be_focused()
    expect(s.locator("#comment-at")).to_have_text("at 0:02.0")
    s.keyboard.type("Bow drifts towards the fingerboard here")
    s.keyboard.press("Enter")
    expect(s.get_by_role("button", name="Play from 0:02 (sam)")).to_be_visible()
    comment = Comment.objects.get()
    assert comment.at == 2 and comment.until is None and comment.author.username == "sam"

    # A range past the end is refused with the API's sentence, and nothing is stored.
    s.get_by_label("Your comment").fill("Too far")
    s.get_by_text("A range or a video reply").click()
    s.get_by_label("Until (seconds, optional)").fill("99")
    s.get_by_role("button", name="Comment", exact=True).click()
    expect(s.get_by_role("alert")).to_contain_text("until: 99 s is outside the video")
    assert Comment.objects.count() == 1
    # Chromium logs every 4xx answer to the console; this one was asked for, and is the only one.
    refused = student.errors.pop()
    assert refused.endswith("the server responded with a status of 400 (Bad Request)"), refused

    # A range, written past the page (the form's own range field is the same API).
    Comment.objects.create(video=take, author=comment.author, text="This bar", at=0.5, until=1.5)

    # The coach hears of the reply, opens it from the notifications, and the marker seeks to 2 s.
    page.goto(live("/"))
    expect(page.locator("#unread-count")).to_contain_text("2")  # sam joined, sam replied
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    _screens(coach, live, {"notifications": "/notifications/"})
    page.get_by_role("link", name=re.compile("sam replied to “Open strings, slowly”")).click()
    page.wait_for_url(live(f"/exercises/{exercise.pk}/"))
    expect(page.locator("#answered")).to_have_text("sam")
    page.get_by_role("link", name="sam: Sam's open strings").click()
    page.wait_for_url(live(f"/videos/{take.id}/"))
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    marker = page.get_by_role("button", name="Comment at 0:02 by sam")
    expect(marker).to_be_visible()
    assert _at(page) < 0.5
    marker.click()
    page.wait_for_function("() => { const v = document.getElementById('player');"
                           " return !v.seeking && Math.abs(v.currentTime - 2) < 0.05; }")
    assert _at(page) == pytest.approx(2, abs=0.05)

    # With the A–B loop on (2 s to 3 s), a list entry's range becomes the loop.
    page.get_by_role("button", name="Set loop start (A) here").click()
    page.evaluate("() => { document.getElementById('player').currentTime = 3; }")
    page.wait_for_function("() => !document.getElementById('player').seeking")
    page.get_by_role("button", name="Set loop end (B) here").click()
    expect(page.locator("#loop-info")).to_have_text("Looping 0:02.0 – 0:03.0")
    page.get_by_role("button", name="Play from 0:00.5–0:01.5 (sam)").click()
    expect(page.locator("#loop-info")).to_have_text("Looping 0:00.5 – 0:01.5")
    assert _at(page) == pytest.approx(0.5, abs=0.05)

    _screens(coach, live, {
        "spaces": "/spaces/",
        "space": f"/spaces/{space.pk}/",
        "exercise": f"/exercises/{exercise.pk}/",
        "watch-comments": f"/videos/{take.id}/",
    })
    _screens(student, live, {"space-member": f"/spaces/{space.pk}/", "exercise-member": f"/exercises/{exercise.pk}/"})
    assert coach.errors == [] and student.errors == []


def _record_take(page, *, opened_by: str, title: str, chosen_in: str) -> Video:
    """A 2 s take filmed with the recorder the button opens, used: the video it became, once the
    select labelled `chosen_in` has it chosen."""
    page.get_by_role("button", name=opened_by, exact=True).click()
    page.wait_for_function("() => document.getElementById('rec-preview').readyState >= 2")
    page.locator("#rec-title").fill(title)
    page.get_by_role("button", name="Start recording").click()
    expect(page.get_by_role("timer", name="Recording time")).to_have_text("0:02", timeout=20_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="Use this take").click()
    chosen = page.get_by_label(chosen_in)
    expect(chosen).to_have_value(re.compile(r".+"), timeout=30_000)
    take = Video.objects.get(title=title)
    expect(chosen).to_have_value(take.id)
    return take


def test_a_take_recorded_on_the_exercise_page_is_the_reply(live, browse):
    coach = User.objects.create_user("cora", password=PASSWORD)
    student = User.objects.create_user("stan", password=PASSWORD)
    space = services.space_create(owner=coach, name="Choir")
    services.space_join(user=student, code=space.invite_code)
    exercise = services.exercise_create(space_id=space.pk, author=coach, title="Hold the A")
    b = browse()
    page = b.new_page()
    login(page, live, "stan")
    page.goto(live(f"/exercises/{exercise.pk}/"))
    expect(page.locator("#no-videos")).to_be_visible()
    take = _record_take(page, opened_by="Record", title="Stan holds the A", chosen_in="Your video")
    expect(page.locator("#no-videos")).to_be_hidden()
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Replied. The coaches have been told.")).to_be_visible()
    assert Reply.objects.get(exercise=exercise).video_id == take.id
    assert b.errors == []


def test_a_comment_is_answered_with_a_take_recorded_on_the_watch_page(live, browse, clip):
    b = browse()
    page = b.new_page()
    signup(page, live, "cleo")
    demo = _upload_ready(page, live, clip("bowing.mp4", seconds=4), "Bowing demo")
    page.goto(live(f"/videos/{demo.id}/"))
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    page.evaluate("() => { document.getElementById('player').currentTime = 1; }")
    page.wait_for_function("() => !document.getElementById('player').seeking")
    page.keyboard.press("c")
    page.keyboard.type("Watch my elbow here")

    page.get_by_text("A range or a video reply").click()
    take = _record_take(page, opened_by="Record a video reply", title="Elbow, slowly", chosen_in="Video reply (optional)")
    expect(page.locator("#comment-at")).to_have_text("at 0:01.0")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.get_by_role("link", name="Video reply: Elbow, slowly")).to_be_visible()
    comment = Comment.objects.get()
    assert (comment.video_id, comment.at, comment.video_reply_id, comment.text) == (demo.id, 1, take.id, "Watch my elbow here")
    expect(page.locator("#rec-state")).to_have_text("Ready.", timeout=PROCESSING_TIMEOUT_MS)
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        fits(page)
        shoot(page, "watch-comment-recorded")
    assert b.errors == []
