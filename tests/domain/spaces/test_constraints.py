"""The rules PostgreSQL itself keeps, tried with writes that skip the services."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from domain.spaces.models import Comment, Exercise, Membership, Reply
from tests.web.api.test_videos import make_video

pytestmark = pytest.mark.usefixtures("postgres")


def refused(write) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_a_person_is_a_member_of_a_space_once(story):
    refused(lambda: Membership.objects.create(space=story.space, user=story.author, role="coach"))


def test_a_role_is_coach_or_member(story):
    refused(lambda: Membership.objects.filter(user=story.author).update(role="owner"))


def test_a_reply_video_must_be_its_authors(story):
    refused(lambda: Reply.objects.create(exercise=story.exercise, author=story.member, video=story.reply_video))
    refused(lambda: Reply.objects.filter(pk=story.reply.pk).update(author=story.member))
    refused(lambda: Reply.objects.filter(pk=story.reply.pk).update(video=story.demo))


def test_a_demonstration_must_be_its_creators(story):
    refused(lambda: Exercise.objects.create(space=story.space, title="x", created_by=story.coach,
                                            video=story.reply_video))
    refused(lambda: Exercise.objects.filter(pk=story.exercise.pk).update(created_by=story.member))


def test_a_video_reply_must_be_the_commenters(story):
    refused(lambda: Comment.objects.create(video=story.demo, author=story.author, text="x", at=1,
                                           video_reply=story.demo))
    own = make_video(story.author)
    Comment.objects.create(video=story.demo, author=story.author, text="like this", at=1, video_reply=own)


@pytest.mark.parametrize("at, until", [(-0.5, None), (2, 1), (-1, -0.5)])
def test_a_range_starts_at_zero_or_later_and_ends_after_it_starts(story, at, until):
    refused(lambda: Comment.objects.create(video=story.demo, author=story.author, text="x", at=at, until=until))


def test_a_moment_and_a_range_are_both_kept(story):
    Comment.objects.create(video=story.demo, author=story.author, text="here", at=1.5)
    Comment.objects.create(video=story.demo, author=story.author, text="this bar", at=1, until=1)
    assert Comment.objects.count() == 2
