"""Who may list, open, change and reprocess a video: the rules the API and the pages both ask.

Alice owns the videos, Bob is another user, Sam is staff, and someone anonymous browses.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404

from domain.videos.models import Rendition, Video
from domain.videos.selectors import (
    video_can_change,
    video_can_open,
    video_can_reprocess,
    video_get_for,
    videos_visible_to,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model) -> dict[str, User | AnonymousUser]:
    return {
        "alice": django_user_model.objects.create_user("alice"),
        "bob": django_user_model.objects.create_user("bob"),
        "sam": django_user_model.objects.create_user("sam", is_staff=True),
        "anonymous": AnonymousUser(),
    }


def _video(owner: User, visibility: str, *, playable: bool = True) -> Video:
    video = Video.objects.create(owner=owner, title=visibility, visibility=visibility)
    if playable:
        Rendition.objects.create(video=video, label="360p", width=640, height=360, file="x.mp4", size_bytes=1)
    return video


@pytest.mark.parametrize("visibility", ["private", "unlisted", "public"])
def test_only_the_owner_changes_a_video_and_staff_may_reprocess_it_too(people, visibility):
    video = _video(people["alice"], visibility)
    can_change = {name: video_can_change(user=user, video=video) for name, user in people.items()}
    can_reprocess = {name: video_can_reprocess(user=user, video=video) for name, user in people.items()}
    assert can_change == {"alice": True, "bob": False, "sam": False, "anonymous": False}
    assert can_reprocess == {"alice": True, "bob": False, "sam": True, "anonymous": False}


def test_a_private_video_opens_for_its_owner_and_staff_only(people):
    private, unlisted = _video(people["alice"], "private"), _video(people["alice"], "unlisted")
    assert [n for n, u in people.items() if video_can_open(user=u, video=private)] == ["alice", "sam"]
    assert all(video_can_open(user=u, video=unlisted) for u in people.values())
    with pytest.raises(Http404):
        video_get_for(user=people["bob"], video_id=private.id)
    assert video_get_for(user=people["sam"], video_id=private.id) == private


def test_an_id_that_no_video_could_have_is_no_video(people):
    for video_id in ("", "a" * 33, "nul\x00", "../x"):
        with pytest.raises(Http404):
            video_get_for(user=people["alice"], video_id=video_id)


def test_the_list_is_ones_own_videos_and_everybodys_playable_public_ones(people):
    mine = _video(people["alice"], "private", playable=False)
    shared = _video(people["bob"], "public")
    _video(people["bob"], "public", playable=False)
    _video(people["bob"], "unlisted")
    assert set(videos_visible_to(user=people["alice"])) == {mine, shared}
    assert list(videos_visible_to(user=people["anonymous"])) == [shared]
    assert list(videos_visible_to(user=people["sam"])) == [shared], "staff list like anyone else"
