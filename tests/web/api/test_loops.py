"""Saved loops: each user's own named A–B loops on a video they may watch."""

from __future__ import annotations

import pytest
from django.test import Client

from domain.videos.models import SavedLoop
from tests.practice import signed_in
from tests.web.api.test_videos import make_video

pytestmark = pytest.mark.django_db

LOOP_KEYS = {"id", "video", "name", "a", "b", "created_at"}


def save(client, video_id: str, **body):
    return client.post(f"/core/api/videos/{video_id}/loops/", body, content_type="application/json")


def test_a_student_saves_names_and_deletes_loops_on_the_demonstration(story):
    mia = signed_in(story.author)
    url = f"/core/api/videos/{story.demo.pk}/loops/"
    made = save(mia, story.demo.pk, name="Shift to third", a=1.25, b=1.75)
    assert made.status_code == 201, made.content
    assert set(made.json()) == LOOP_KEYS
    assert (made.json()["video"], made.json()["a"], made.json()["b"]) == (story.demo.pk, 1.25, 1.75)
    save(mia, story.demo.pk, name=" Opening ", a=0, b=0.5)
    listed = mia.get(url).json()
    assert [(loop["name"], loop["a"]) for loop in listed["results"]] == [("Opening", 0), ("Shift to third", 1.25)]

    loop_url = f"{url}{made.json()['id']}/"
    renamed = mia.patch(loop_url, {"name": "Shift", "b": 2.0}, content_type="application/json")
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["b"]) == (200, "Shift", 2.0)
    assert mia.get(loop_url).json()["a"] == 1.25
    assert mia.delete(loop_url).status_code == 204
    assert [loop["name"] for loop in mia.get(url).json()["results"]] == ["Opening"]


def test_loops_are_their_owners_alone(story):
    loop = save(signed_in(story.author), story.demo.pk, name="Mine", a=0, b=1).json()
    coach = signed_in(story.coach)
    assert coach.get(f"/core/api/videos/{story.demo.pk}/loops/").json()["count"] == 0
    for method in ("get", "patch", "delete"):
        response = getattr(coach, method)(f"/core/api/videos/{story.demo.pk}/loops/{loop['id']}/",
                                          content_type="application/json")
        assert response.status_code == 404 and set(response.json()) == {"error"}
    assert SavedLoop.objects.filter(name="Mine").exists()


def test_a_video_you_may_not_watch_is_a_404_and_anonymous_callers_are_refused(story):
    private = make_video(story.coach)
    for client in (signed_in(story.stranger), signed_in(story.member)):
        assert client.get(f"/core/api/videos/{private.pk}/loops/").status_code == 404
        assert save(client, private.pk, name="x", a=0, b=1).status_code == 404
    anonymous = Client().get(f"/core/api/videos/{story.demo.pk}/loops/")
    assert anonymous.status_code in (401, 403) and "error" in anonymous.json()
    assert not SavedLoop.objects.exists()


@pytest.mark.parametrize("body", [
    {"name": "x", "a": 1, "b": 1}, {"name": "x", "a": 1.5, "b": 1}, {"name": "x", "a": -0.1, "b": 1},
    {"name": "x", "a": 0, "b": 2.5}, {"name": " ", "a": 0, "b": 1}, {"name": "x", "a": 0},
])
def test_a_loop_whose_b_is_not_after_a_or_outside_the_video_is_a_400(story, body):
    response = save(signed_in(story.author), story.demo.pk, **body)
    assert response.status_code == 400 and isinstance(response.json()["error"], str)
    assert not SavedLoop.objects.exists()


def test_a_change_is_checked_with_the_times_it_keeps(story):
    mia = signed_in(story.author)
    loop = save(mia, story.demo.pk, name="x", a=1, b=1.5).json()
    response = mia.patch(f"/core/api/videos/{story.demo.pk}/loops/{loop['id']}/", {"a": 1.6},
                         content_type="application/json")
    assert response.status_code == 400 and response.json()["error"] == "b must come after a."
    assert SavedLoop.objects.get().a == 1
