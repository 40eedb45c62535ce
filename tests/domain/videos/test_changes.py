"""The change tokens of the video lists: they move for what a list shows, and only for the lists
that show it.

Alice's videos are changed the way the code changes them; Bob is another owner whose lists must
stay as they were. The cache is the real one from REDIS_URL.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import transaction

from domain.videos import changes, services
from domain.videos.models import Rendition, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model, redis_url) -> User:
    return django_user_model.objects.create_user("alice")


@pytest.fixture
def bob(django_user_model) -> User:
    return django_user_model.objects.create_user("bob")


def tokens(*users: User) -> dict[str, str]:
    keys = [changes.PUBLIC_TOKEN, *(changes.owner_token(u.pk) for u in users)]
    changes.start_tokens(keys)
    return cache.get_many(keys)


def moved(before: dict[str, str], *users: User) -> set[str]:
    """Which tokens moved since `before`: "public" and the usernames of the owners'."""
    after = tokens(*users)
    names = {changes.PUBLIC_TOKEN: "public", **{changes.owner_token(u.pk): u.username for u in users}}
    return {names[key] for key in before if after[key] != before[key]}


def processing(owner: User, visibility: str = "private") -> Video:
    video = Video.objects.create(owner=owner, title="Etude", visibility=visibility)
    Video.objects.filter(id=video.id).update(status="processing", attempts=1, claim="attempt-1")
    return video


def test_a_heartbeat_moves_no_token(alice, bob):
    video = processing(alice, "public")
    before = tokens(alice, bob)
    assert Video.beat(video.id, "attempt-1")
    assert moved(before, alice, bob) == set()


def test_a_queue_stamp_moves_no_token(alice, bob):
    video = Video.objects.create(owner=alice, title="Etude", visibility="public")
    before = tokens(alice, bob)
    assert Video.mark_queued(video.id)
    assert moved(before, alice, bob) == set()


def test_progress_moves_only_its_owners_token_while_the_video_is_private(alice, bob):
    video = processing(alice)
    before = tokens(alice, bob)
    assert Video.beat(video.id, "attempt-1", progress=42)
    assert moved(before, alice, bob) == {"alice"}


def test_a_status_change_moves_the_owners_token_and_the_public_one_for_a_public_video(alice, bob):
    private, public = processing(alice), processing(alice, "public")
    before = tokens(alice, bob)
    assert Video.mark_ready(private.id, "attempt-1", duration=2.0, width=640, height=360)
    assert moved(before, alice, bob) == {"alice"}
    before = tokens(alice, bob)
    assert Video.mark_ready(public.id, "attempt-1", duration=2.0, width=640, height=360)
    assert moved(before, alice, bob) == {"alice", "public"}


def test_a_title_change_moves_the_owners_token(alice, bob):
    video = Video.objects.create(owner=alice, title="Etude")
    before = tokens(alice, bob)
    services.video_update(video=video, title="Scales")
    assert moved(before, alice, bob) == {"alice"}


@pytest.mark.parametrize("old, new", [("private", "public"), ("public", "private")])
def test_a_visibility_change_moves_the_public_token_either_way(alice, bob, old, new):
    video = Video.objects.create(owner=alice, title="Etude", visibility=old)
    before = tokens(alice, bob)
    services.video_update(video=video, visibility=new)
    assert moved(before, alice, bob) == {"alice", "public"}
    video.refresh_from_db()
    before = tokens(alice, bob)
    Video.objects.filter(id=video.id).update(visibility=old)
    assert moved(before, alice, bob) == {"alice", "public"}


def test_a_create_and_a_delete_move_the_owners_token(alice, bob):
    before = tokens(alice, bob)
    video = Video.objects.create(owner=alice, title="Etude")
    assert moved(before, alice, bob) == {"alice"}
    before = tokens(alice, bob)
    services.video_delete(video=video)
    assert moved(before, alice, bob) == {"alice"}


def test_a_public_videos_rendition_moves_the_public_token(alice, bob):
    video = processing(alice, "public")
    before = tokens(alice, bob)
    Rendition.objects.create(video=video, label="360p", width=640, height=360, file="x.mp4", size_bytes=1)
    assert moved(before, alice, bob) == {"alice", "public"}
    before = tokens(alice, bob)
    Rendition.objects.filter(video=video).update(size_bytes=2)
    assert moved(before, alice, bob) == {"alice", "public"}


def test_a_new_username_moves_its_owners_token_and_the_public_one_and_a_login_nothing(alice, bob):
    before = tokens(alice, bob)
    User.objects.get(pk=alice.pk).save(update_fields=["last_login"])
    assert moved(before, alice, bob) == set()
    alice.username = "alice2"
    alice.save()
    assert moved(before, alice, bob) == {"alice2", "public"}


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_token_moves_again_on_commit(alice):
    """A list built by another process between the write and its commit saw the old rows."""
    video = Video.objects.create(owner=alice, title="Etude")
    with transaction.atomic():
        services.video_update(video=video, title="Scales")
        during = tokens(alice)
    assert moved(during, alice) == {"alice"}
