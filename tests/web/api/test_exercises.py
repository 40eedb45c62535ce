"""The exercises API and the replies to an exercise."""

from __future__ import annotations

import pytest

from domain.spaces.models import Exercise, Reply
from tests.practice import signed_in
from tests.web.api.test_videos import VIDEO_KEYS, make_video

pytestmark = pytest.mark.django_db

EXERCISE_KEYS = {"id", "space", "title", "instructions", "video", "replies_visible", "created_by", "created_at",
                 "replies", "answered"}
REPLY_KEYS = {"id", "exercise", "author", "video", "note", "created_at"}


def post(client, url: str, body: dict):
    return client.post(url, body, content_type="application/json")


def test_a_coach_posts_an_exercise_with_a_demonstration(story):
    demo = make_video(story.coach)
    response = post(signed_in(story.coach), "/core/api/exercises/", {
        "space": story.space.pk, "title": "Bow hold", "instructions": "Relax the thumb.", "video": demo.pk,
    })
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == EXERCISE_KEYS and set(body["video"]) == VIDEO_KEYS
    assert (body["space"], body["created_by"], body["replies"], body["answered"]) == (story.space.pk, "carla", 0, [])


def test_members_and_strangers_post_no_exercise(story):
    own = make_video(story.member)
    body = {"space": story.space.pk, "title": "x", "video": own.pk}
    assert post(signed_in(story.member), "/core/api/exercises/", body).status_code == 403
    assert post(signed_in(story.stranger), "/core/api/exercises/", body).status_code == 404
    assert Exercise.objects.count() == 1


def test_a_demonstration_is_one_of_the_coachs_videos(story):
    response = post(signed_in(story.coach), "/core/api/exercises/",
                    {"space": story.space.pk, "title": "x", "video": story.reply_video.pk})
    assert response.status_code == 400 and response.json() == {"error": "video: Choose one of your own videos."}


def test_the_list_is_newest_first_and_answered_is_for_coaches(story):
    newer = post(signed_in(story.coach), "/core/api/exercises/", {"space": story.space.pk, "title": "Newer"}).json()
    coach = signed_in(story.coach).get(f"/core/api/exercises/?space={story.space.pk}").json()
    assert [e["id"] for e in coach["results"]] == [newer["id"], story.exercise.pk]
    assert coach["results"][1]["answered"] == ["mia"] and coach["results"][1]["replies"] == 1
    member = signed_in(story.member).get("/core/api/exercises/").json()
    assert [e["answered"] for e in member["results"]] == [None, None]


def test_a_space_filter_of_someone_elses_space_is_a_404_and_nonsense_a_400(story):
    assert signed_in(story.stranger).get(f"/core/api/exercises/?space={story.space.pk}").status_code == 404
    bad = signed_in(story.member).get("/core/api/exercises/?space=abc")
    assert bad.status_code == 400 and bad.json()["error"].startswith("space:")


def test_coaches_change_and_delete_exercises(story):
    url = f"/core/api/exercises/{story.exercise.pk}/"
    assert signed_in(story.member).patch(url, {"title": "x"}, content_type="application/json").status_code == 403
    changed = signed_in(story.coach).patch(url, {"title": "A major", "replies_visible": True},
                                         content_type="application/json")
    assert changed.status_code == 200 and changed.json()["title"] == "A major"
    assert signed_in(story.author).delete(url).status_code == 403
    assert signed_in(story.coach).delete(url).status_code == 204
    assert not Reply.objects.exists()


def test_a_member_replies_with_their_own_video_and_coaches_are_told(story):
    own = make_video(story.member)
    url = f"/core/api/exercises/{story.exercise.pk}/replies/"
    response = post(signed_in(story.member), url, {"video": own.pk, "note": "Slow tempo"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == REPLY_KEYS and body["author"] == "max" and body["video"]["id"] == own.pk
    assert story.coach.notifications.filter(kind="reply", text__contains="max").exists()
    stolen = post(signed_in(story.member), url, {"video": story.reply_video.pk})
    assert stolen.status_code == 400


def test_replies_are_seen_by_their_author_and_the_coaches_unless_the_exercise_shows_them(story):
    url = f"/core/api/exercises/{story.exercise.pk}/replies/"
    assert signed_in(story.coach).get(url).json()["count"] == 1
    assert signed_in(story.author).get(url).json()["count"] == 1
    assert signed_in(story.member).get(url).json()["count"] == 0
    Exercise.objects.filter(pk=story.exercise.pk).update(replies_visible=True)
    assert signed_in(story.member).get(url).json()["count"] == 1
    assert signed_in(story.stranger).get(url).status_code == 404
