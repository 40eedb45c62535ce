"""The compare page through Django's test client: who may compare what, the chooser, the link helper."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from tests.practice import signed_in
from tests.web.api.test_videos import make_video
from web.pages.compare import compare_link

pytestmark = pytest.mark.django_db


def test_a_coach_compares_the_demonstration_with_a_reply_lined_up_as_the_link_says(story):
    url = compare_link(story.demo.pk, story.reply_video.pk, ob=1.25)
    assert url == f"/compare/?a={story.demo.pk}&b={story.reply_video.pk}&ob=1.25"
    response = signed_in(story.coach).get(url)
    assert response.status_code == 200
    a, b = (side["state"] for side in response.context["sides"])
    assert (a["id"], a["offset"], b["id"], b["offset"]) == (story.demo.pk, 0.0, story.reply_video.pk, 1.25)
    assert b["renditions"][0]["selected"] and b["renditions"][0]["url"]
    assert response.content.decode().count("<video") == 2


def test_a_video_you_may_not_watch_is_the_same_404_as_a_missing_one(story):
    for other in (story.reply_video.pk, "nosuchvideo", "bad id!"):
        response = signed_in(story.member).get(compare_link(story.demo.pk, other))
        assert response.status_code == 404


@pytest.mark.parametrize("offset", ["-3", "nan", "inf", "x"])
def test_a_bad_offset_is_no_offset(story, offset):
    response = signed_in(story.coach).get(compare_link(story.demo.pk, story.reply_video.pk) + f"&oa={offset}")
    assert response.context["sides"][0]["state"]["offset"] == 0.0


def test_with_one_video_the_page_asks_for_the_other_among_yours(story):
    other = make_video(story.author, "private")
    response = signed_in(story.author).get(compare_link(story.reply_video.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="choose-b"' in page and other.title in page
    assert response.context["fields"][0]["chosen"] == story.reply_video
    assert signed_in(story.stranger).get("/compare/").status_code == 200


def test_the_template_tag_links_two_videos():
    html = Template("{% load practika %}{% compare_url a b %}").render(Context({"a": "x1", "b": "y2"}))
    assert html == "/compare/?a=x1&amp;b=y2"
