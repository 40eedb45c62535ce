"""Cached video lists: a repeated request costs no video query, and no change is ever missed.

Every way a listed video can change is made here the way the code makes it (an API edit, the
worker's conditional UPDATEs, a rendition stored, a delete, a rename), and the next request must
show it; what a list does not show (a heartbeat, someone else's private video) keeps the page. The cache is the real one from REDIS_URL, as in production.
"""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domain.videos import changes, services
from domain.videos.models import Rendition, Video
from tests.web.api.test_videos import make_video
from web.api.serializers import VideoSerializer

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(django_user_model, redis_url) -> User:
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


def listed(client) -> list[dict]:
    response = client.get("/core/api/videos/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()["results"]


def video_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        listed(client)
    return [q["sql"] for q in queries if "videos_" in q["sql"]]


def test_a_repeated_list_is_served_without_touching_the_videos(client, alice):
    make_video(alice, "public")
    client.force_login(alice)
    first = listed(client)
    assert video_queries(client) == []
    assert listed(client) == first
    client.logout()
    assert video_queries(client), "anonymous callers have a cache entry of their own"


def _rename(video: Video) -> None:
    services.video_update(video=video, title="renamed")


def _progress(video: Video) -> None:
    Video.objects.filter(id=video.id).update(status="processing", attempts=1, claim="attempt-1")
    Video.beat(video.id, "attempt-1", progress=42)


def _new_rendition(video: Video) -> None:
    Rendition.objects.update_or_create(
        video=video, label="720p", defaults={"width": 1280, "height": 720, "file": "x.mp4", "size_bytes": 1}
    )


def _dropped_renditions(video: Video) -> None:
    Rendition.objects.filter(video=video).delete()


def _deleted(video: Video) -> None:
    services.video_delete(video=video)


def _owner_renamed(video: Video) -> None:
    video.owner.username = "alice2"
    video.owner.save()


def _bulk_added(video: Video) -> None:
    Video.objects.bulk_create([Video(owner=video.owner, title="bulk")])


@pytest.mark.parametrize(
    "change", [_rename, _progress, _new_rendition, _dropped_renditions, _deleted, _owner_renamed, _bulk_added]
)
def test_every_kind_of_change_shows_in_the_next_list(client, alice, change):
    video = make_video(alice, "private")
    client.force_login(alice)
    before = listed(client)
    change(video)
    assert listed(client) != before


def test_heartbeats_and_other_owners_private_progress_leave_a_cached_list_alone(client, alice, django_user_model):
    mine = make_video(alice, "private")
    theirs = make_video(django_user_model.objects.create_user("bob"), "private")
    for video in (mine, theirs):
        Video.objects.filter(id=video.id).update(status="processing", attempts=1, claim="attempt-1")
    client.force_login(alice)
    listed(client)
    assert Video.beat(mine.id, "attempt-1") and Video.beat(theirs.id, "attempt-1", progress=42)
    assert video_queries(client) == []


def test_a_list_shows_no_video_field_outside_listed_fields(alice):
    """A write of any other field moves no token (domain/videos/changes.py), so none may show."""
    video = make_video(alice, "public")  # public: its URLs are not signed, so they do not vary
    now = timezone.now()
    others = {"heartbeat_at": now, "queued_at": now, "first_ready_at": now, "claim": "attempt-9", "attempts": 2,
              "original_filename": "other.mov", "size": 7}
    fields = {f.name for f in Video._meta.concrete_fields}
    assert fields - changes.LISTED_FIELDS == set(others), "a new field: does a list show it?"
    assert changes.LISTED_FIELDS <= fields
    before = VideoSerializer(video).data
    for name, value in others.items():
        setattr(video, name, value)
    assert VideoSerializer(video).data == before


def test_a_login_does_not_throw_the_lists_away(client, alice):
    make_video(alice, "public")
    listed(client)
    Client().force_login(alice)  # saves last_login
    assert video_queries(client) == []


def test_callers_never_see_each_others_pages(client, alice, django_user_model):
    mine = make_video(alice, "private")
    client.force_login(alice)
    assert [v["id"] for v in listed(client)] == [mine.id]
    client.force_login(django_user_model.objects.create_user("bob"))
    assert listed(client) == []
    client.logout()
    assert listed(client) == []


@pytest.mark.django_db(transaction=True)
def test_a_page_built_while_a_change_was_uncommitted_is_not_kept(alice):
    """Another process lists between the write and its commit: it sees, and would cache, the old
    rows. The token moves again on commit, so the next request builds the page anew."""
    video = make_video(alice, "public")
    reader = Client()
    assert listed(reader)[0]["title"] == video.title != "renamed"
    old = video.title

    def list_from_another_connection() -> None:
        try:
            titles.append(listed(Client())[0]["title"])
        finally:
            connection.close()

    titles: list[str] = []
    with transaction.atomic():
        _rename(video)
        other = threading.Thread(target=list_from_another_connection)
        other.start()
        other.join()
    assert titles == [old], "the other connection saw the uncommitted title"
    assert listed(reader)[0]["title"] == "renamed"


def test_with_the_cache_down_lists_are_built_and_writes_still_land(client, alice, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "practika_project.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    video = make_video(alice, "public")
    client.force_login(alice)
    assert listed(client)[0]["title"] == video.title
    _rename(video)
    assert listed(client)[0]["title"] == "renamed"


@pytest.mark.parametrize("query", ["?page=1", "?page_size=5", "?page=1&page_size=5"])
def test_the_pages_a_client_asks_for_are_kept(client, alice, query):
    make_video(alice, "public")
    client.get("/core/api/videos/" + query)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/core/api/videos/" + query).status_code == 200
    assert not [q for q in queries if "videos_" in q["sql"]]


@pytest.mark.parametrize(
    "query", ["?anything=1", "?page=01", "?page=1&page=1", "?page_size=+5", "?page=1&x=", "?page_size=%C2%B2"]
)
def test_made_up_urls_are_answered_but_never_kept(client, alice, query):
    """Redis is the broker too: a client inventing URLs must not be able to fill it."""
    make_video(alice, "public")
    redis = cache._cache.get_client()
    for key in list_keys(redis):
        redis.delete(key)
    for _ in range(2):
        response = client.get("/core/api/videos/" + query)
        assert response.status_code == 200 and len(response.json()["results"]) == 1
    assert list_keys(redis) == []
    client.get("/core/api/videos/")
    assert len(list_keys(redis)) == 1, "the plain URL is kept"


def list_keys(redis) -> list[bytes]:
    return list(redis.scan_iter(match="*videos:list:*"))


def test_page_sizes_past_the_maximum_are_one_page_and_one_key(client, alice):
    """101 to 999999 all give the paginator's 100: they once made a key each."""
    make_video(alice, "public")
    redis = cache._cache.get_client()
    for key in list_keys(redis):
        redis.delete(key)
    bodies = {client.get(f"/core/api/videos/?page_size={size}").content for size in (101, 150, 5000, 999999)}
    keys = list_keys(redis)
    assert len(keys) == 1 and keys[0].endswith(b":100"), keys
    assert len(bodies) == 1
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/core/api/videos/?page_size=100").content in bodies
    assert not [q for q in queries if "videos_" in q["sql"]], "an explicit 100 is the same page"


def test_a_zero_or_missing_page_size_is_the_default_page_and_one_key(client, alice, settings):
    make_video(alice, "public")
    redis = cache._cache.get_client()
    for key in list_keys(redis):
        redis.delete(key)
    for query in ("", "?page_size=0"):
        assert client.get("/core/api/videos/" + query).status_code == 200
    keys = list_keys(redis)
    assert len(keys) == 1 and keys[0].endswith(f":{settings.REST_FRAMEWORK['PAGE_SIZE']}".encode()), keys
