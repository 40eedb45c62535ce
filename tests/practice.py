"""The practice-loop story the tests share: Carla coaches a space, Mia and Max are members, Sam
is a stranger and Stan is staff. Carla posted an exercise with a demonstration video; Mia
answered it with a video of her own."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.test import Client

from domain.spaces import services
from domain.spaces.models import Exercise, Reply, Space
from domain.videos.models import Video
from tests.web.api.test_videos import make_video


@dataclass
class Story:
    coach: object
    author: object
    member: object
    stranger: object
    staff: object
    space: Space
    demo: Video
    exercise: Exercise
    reply_video: Video
    reply: Reply

    def user(self, role: str):
        return None if role == "anonymous" else getattr(self, role)


def practice_story(*, visibility: str = "private", replies_visible: bool = False) -> Story:
    users = get_user_model().objects
    coach = users.create_user("carla", email="carla@example.com")
    author = users.create_user("mia", email="mia@example.com")
    member = users.create_user("max")
    stranger = users.create_user("sam")
    staff = users.create_user("stan", is_staff=True)
    space = services.space_create(owner=coach, name="Violin studio")
    for person in (author, member):
        services.space_join(user=person, code=space.invite_code)
    demo = make_video(coach, visibility)
    exercise = services.exercise_create(space_id=space.pk, author=coach, title="G major scale",
                                        instructions="Two octaves, see https://example.com/scales",
                                        video_id=demo.pk, replies_visible=replies_visible)
    reply_video = make_video(author, visibility)
    reply = services.reply_create(exercise=exercise, author=author, video_id=reply_video.pk, note="First try")
    return Story(coach, author, member, stranger, staff, space, demo, exercise, reply_video, reply)


def signed_in(user) -> Client:
    """A test client with `user`'s session; None stays anonymous."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client
