"""Spaces, exercises, replies and comments as the services write them, and what deleting takes."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from domain.errors import Code, DomainError
from domain.spaces import services
from domain.spaces.models import (
    Comment,
    Exercise,
    Membership,
    Notification,
    Reply,
    Space,
)
from domain.videos.services import video_delete
from tests.web.api.test_videos import make_video

pytestmark = pytest.mark.django_db


def refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_the_creator_is_the_first_coach_and_joining_twice_is_harmless(story):
    assert Membership.objects.get(space=story.space, user=story.coach).role == "coach"
    services.space_join(user=story.author, code=story.space.invite_code)
    services.space_join(user=story.coach, code=story.space.invite_code)
    assert story.space.memberships.count() == 3
    assert Membership.objects.get(space=story.space, user=story.coach).role == "coach"


def test_an_unknown_code_joins_nothing(story):
    assert refusal(lambda: services.space_join(user=story.stranger, code="nope")).code == Code.NOT_FOUND


def test_coaches_are_told_of_a_join_a_reply_and_owners_of_a_comment(story):
    kinds = list(Notification.objects.filter(user=story.coach).values_list("kind", "url"))
    assert ("joined", f"/spaces/{story.space.pk}/") in kinds
    assert ("reply", f"/exercises/{story.exercise.pk}/") in kinds
    services.comment_create(video=story.reply_video, author=story.coach, text="Wrist!", at=1.0)
    told = Notification.objects.get(user=story.author, kind="comment")
    assert told.url == f"/videos/{story.reply_video.pk}/" and "00:01" in told.text
    services.comment_create(video=story.reply_video, author=story.author, text="note to self", at=0.5)
    assert Notification.objects.filter(user=story.author).count() == 1, "nobody is told of their own comment"


def test_only_coaches_post_and_change_exercises(story):
    own = make_video(story.member)
    error = refusal(lambda: services.exercise_create(space_id=story.space.pk, author=story.member, title="x",
                                                     video_id=own.pk))
    assert error.code == Code.FORBIDDEN
    assert refusal(lambda: services.exercise_delete(exercise=story.exercise, actor=story.author)).code == Code.FORBIDDEN


def test_a_demonstration_and_a_reply_are_the_persons_own_videos(story):
    error = refusal(lambda: services.exercise_create(space_id=story.space.pk, author=story.coach, title="x",
                                                     video_id=story.reply_video.pk))
    assert error.code == Code.INVALID
    error = refusal(lambda: services.reply_create(exercise=story.exercise, author=story.member,
                                                  video_id=story.reply_video.pk))
    assert error.code == Code.INVALID


def test_strangers_cannot_reply(story):
    own = make_video(story.stranger)
    error = refusal(lambda: services.reply_create(exercise=story.exercise, author=story.stranger, video_id=own.pk))
    assert error.code == Code.FORBIDDEN


@pytest.mark.parametrize("at, until, message", [
    (-1, None, "outside"), (2.5, None, "outside"), (1, 3, "outside"), (1.5, 1, "end after"),
    (float("nan"), None, "number"), (1, float("inf"), "number"),
])
def test_times_outside_the_video_are_refused(story, at, until, message):
    error = refusal(lambda: services.comment_create(video=story.demo, author=story.author, text="x", at=at,
                                                    until=until))
    assert error.code == Code.INVALID and message in str(error)
    assert not Comment.objects.exists()


def test_the_whole_video_is_a_range(story):
    comment = services.comment_create(video=story.demo, author=story.author, text="all of it", at=0, until=2.0)
    assert (comment.at, comment.until) == (0, 2.0)


def test_a_video_of_unknown_length_takes_no_comment_yet(story):
    pending = make_video(story.coach, playable=False)
    assert refusal(lambda: services.comment_create(video=pending, author=story.coach, text="x", at=0)).code == Code.CONFLICT


def test_a_space_keeps_a_coach(story):
    error = refusal(lambda: services.membership_set_role(space=story.space, actor=story.coach, username="carla",
                                                         role="member"))
    assert error.code == Code.CONFLICT
    assert refusal(lambda: services.membership_remove(space=story.space, actor=story.coach,
                                                      username="carla")).code == Code.CONFLICT
    services.membership_set_role(space=story.space, actor=story.coach, username="mia", role="coach")
    services.membership_remove(space=story.space, actor=story.author, username="carla")
    assert list(story.space.memberships.values_list("user__username", "role")) == [("mia", "coach"), ("max", "member")]


def test_a_member_may_leave_but_not_remove_others(story):
    assert refusal(lambda: services.membership_remove(space=story.space, actor=story.author,
                                                      username="max")).code == Code.FORBIDDEN
    services.membership_remove(space=story.space, actor=story.member, username="max")
    assert not Membership.objects.filter(user=story.member).exists()


# --- deleting -------------------------------------------------------------------------------


def test_a_reply_whose_video_is_deleted_disappears(story):
    original = story.reply_video.original
    video_delete(video=story.reply_video)
    assert not Reply.objects.exists()
    assert not default_storage.exists(original)


def test_a_deleted_demonstration_leaves_the_exercise_without_one(story):
    video_delete(video=story.demo)
    assert Exercise.objects.get().video is None


def test_deleting_an_exercise_or_a_space_keeps_everyones_videos(story):
    services.exercise_delete(exercise=story.exercise, actor=story.coach)
    assert not Reply.objects.exists()
    services.space_delete(space=story.space, actor=story.coach)
    assert not Space.objects.exists() and not Membership.objects.exists()
    assert {story.demo.pk, story.reply_video.pk} <= set(story.coach.videos.values_list("pk", flat=True)) | set(
        story.author.videos.values_list("pk", flat=True))


def test_deleting_a_coach_leaves_the_space_to_the_others(story):
    services.membership_set_role(space=story.space, actor=story.coach, username="mia", role="coach")
    video_reply = make_video(story.coach)
    services.comment_create(video=story.reply_video, author=story.coach, text="like so", at=1,
                            video_reply_id=video_reply.pk)
    story.coach.delete()
    exercise = Exercise.objects.get()
    assert exercise.created_by is None and exercise.video is None
    assert Space.objects.get().owner is None and Reply.objects.count() == 1
    assert not Comment.objects.exists()


def test_deleting_the_commented_video_takes_its_comments_and_keeps_video_replies(story):
    answer = make_video(story.coach)
    services.comment_create(video=story.reply_video, author=story.coach, text="like so", at=1, video_reply_id=answer.pk)
    services.comment_create(video=answer, author=story.author, text="thanks", at=0)
    video_delete(video=answer)
    assert Comment.objects.get().video_reply is None
    video_delete(video=story.reply_video)
    assert not Comment.objects.exists()
