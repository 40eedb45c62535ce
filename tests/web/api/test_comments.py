"""Comments pinned to a moment of a video."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from domain.spaces.models import Comment
from tests.practice import signed_in
from tests.web.api.test_videos import make_video
from web.security import CommentRateThrottle

pytestmark = pytest.mark.django_db

COMMENT_KEYS = {"id", "video", "author", "text", "at", "until", "video_reply", "created_at"}


def comment(client, video_id: str, **body):
    return client.post(f"/core/api/videos/{video_id}/comments/", body, content_type="application/json")


def test_a_coach_comments_on_a_reply_at_a_moment_and_over_a_range(story):
    coach = signed_in(story.coach)
    answer = make_video(story.coach)
    made = comment(coach, story.reply_video.pk, text="Listen to this", at=1.5, until=2.0, video=answer.pk)
    assert made.status_code == 201, made.content
    body = made.json()
    assert set(body) == COMMENT_KEYS
    assert (body["video"], body["author"], body["at"], body["until"]) == (story.reply_video.pk, "carla", 1.5, 2.0)
    assert body["video_reply"]["id"] == answer.pk
    comment(coach, story.reply_video.pk, text="Start", at=0.25)
    listed = signed_in(story.author).get(f"/core/api/videos/{story.reply_video.pk}/comments/").json()
    assert [c["at"] for c in listed["results"]] == [0.25, 1.5]
    assert listed["results"][1]["video_reply"]["renditions"], "the author may watch the coach's video reply"


@pytest.mark.parametrize("times", [{"at": -1}, {"at": 3}, {"at": 1, "until": 2.5}, {"at": 1.5, "until": 1}])
def test_times_outside_the_video_are_a_400_with_a_sentence(story, times):
    response = comment(signed_in(story.coach), story.reply_video.pk, text="x", **times)
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and response.json()["error"].split(":")[0] in ("at", "until")
    assert not Comment.objects.exists()


def test_those_who_may_not_watch_may_not_read_or_comment(story):
    url = f"/core/api/videos/{story.reply_video.pk}/comments/"
    for user in (story.member, story.stranger):
        assert signed_in(user).get(url).status_code == 404
        assert comment(signed_in(user), story.reply_video.pk, text="x", at=1).status_code == 404
    assert Client().get(url).status_code == 404


def test_anyone_reads_a_public_videos_comments_but_only_people_signed_in_write(story):
    public = make_video(story.coach, "public")
    comment(signed_in(story.stranger), public.pk, text="Nice", at=1)
    assert Client().get(f"/core/api/videos/{public.pk}/comments/").json()["count"] == 1
    assert comment(Client(), public.pk, text="x", at=1).status_code in (401, 403)


def test_the_author_edits_and_the_author_or_owner_deletes(story):
    made = comment(signed_in(story.coach), story.reply_video.pk, text="x", at=1).json()
    url = f"/core/api/comments/{made['id']}/"
    assert signed_in(story.author).patch(url, {"text": "y"}, content_type="application/json").status_code == 403
    edited = signed_in(story.coach).patch(url, {"text": "Better", "until": 2}, content_type="application/json")
    assert edited.status_code == 200 and (edited.json()["text"], edited.json()["until"]) == ("Better", 2.0)
    wrong = signed_in(story.coach).patch(url, {"until": 0.5}, content_type="application/json")
    assert wrong.status_code == 400
    assert signed_in(story.stranger).delete(url).status_code == 404
    assert signed_in(story.author).delete(url).status_code == 204


def test_comments_are_rate_limited_like_uploads(story, monkeypatch, redis_url):
    monkeypatch.setattr(CommentRateThrottle, "rate", "2/hour", raising=False)
    cache.clear()  # throttle counters live in the cache (this test run's own Redis db)
    coach = signed_in(story.coach)
    codes = [comment(coach, story.reply_video.pk, text="x", at=1).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
    assert "error" in comment(coach, story.reply_video.pk, text="x", at=1).json()
