"""Every URL of the practice loop × {anonymous, stranger, member, author, coach, staff} × the
visibility of the videos × whether the exercise shows its replies.

Carla coaches the space and owns the demonstration; Mia (the author) answered with a video of
her own; Max is another member; Sam a stranger; Stan staff. The space and everything in it are
missing (404) for anyone outside it, staff included; a member asking what only a coach may gets
403. A private demonstration opens for every member; a private reply for its author, the
coaches and staff, and for every member once the exercise shows its replies. Media bytes come
only through the signed URLs handed to those, and unsigned URLs of private and unlisted videos
are a 404 for everybody.
"""

from __future__ import annotations

import pytest
from django.test import Client

from domain.spaces import services
from tests.practice import practice_story, signed_in
from tests.web.api.test_videos import make_video

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "stranger", "member", "author", "coach", "staff"]
VISIBILITIES = ["private", "unlisted", "public"]
IN_SPACE = {"member", "author", "coach"}


def client_for(story, role: str) -> Client:
    return signed_in(story.user(role))


def outside(role: str) -> set[int]:
    """What someone outside the space gets: not signed in (401/403) or nothing there (404)."""
    return {401, 403} if role == "anonymous" else {404}


def can_watch_demo(role: str, visibility: str) -> bool:
    return visibility != "private" or role in IN_SPACE | {"staff"}


def can_watch_reply(role: str, visibility: str, replies_visible: bool) -> bool:
    if visibility != "private" or role in ("author", "coach", "staff"):
        return True
    return role == "member" and replies_visible


def served(client, url: str) -> bytes | None:
    response = client.get(url)
    return b"".join(response.streaming_content) if response.status_code == 200 else None


@pytest.fixture(params=[False, True], ids=["replies-hidden", "replies-shown"])
def replies_visible(request) -> bool:
    return request.param


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("role", ROLES)
def test_reading_the_space_and_its_exercises(role, visibility, replies_visible):
    story = practice_story(visibility=visibility, replies_visible=replies_visible)
    client = client_for(story, role)
    urls = [f"/core/api/spaces/{story.space.pk}/", f"/core/api/exercises/{story.exercise.pk}/",
            f"/core/api/exercises/?space={story.space.pk}", f"/core/api/exercises/{story.exercise.pk}/replies/"]
    for url in urls:
        code = client.get(url).status_code
        assert (code == 200) if role in IN_SPACE else (code in outside(role)), (url, code)
    if role not in IN_SPACE:
        listed = client.get("/core/api/exercises/")
        assert listed.status_code in outside(role) or listed.json()["count"] == 0
        return
    replies = client.get(urls[3]).json()["results"]
    assert len(replies) == (1 if can_watch_reply(role, "private", replies_visible) else 0)
    exercise = client.get(urls[1]).json()
    assert (exercise["answered"] is not None) == (role == "coach")
    assert exercise["video"]["id"] == story.demo.pk


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("role", ROLES)
def test_watching_demonstrations_and_replies(role, visibility, replies_visible):
    story = practice_story(visibility=visibility, replies_visible=replies_visible)
    client = client_for(story, role)
    for video, allowed in ((story.demo, can_watch_demo(role, visibility)),
                           (story.reply_video, can_watch_reply(role, visibility, replies_visible))):
        expected = 200 if allowed else 404
        api = client.get(f"/core/api/videos/{video.pk}/")
        assert api.status_code == expected, (video.title, api.content)
        assert client.get(f"/videos/{video.pk}/").status_code == expected
        assert client.get(f"/core/api/videos/{video.pk}/comments/").status_code == expected
        rendition = video.renditions.get()
        # Unsigned: public renditions only, whoever asks.
        assert (served(client, f"/media/{rendition.file}") is not None) == (visibility == "public")
        if allowed:
            assert served(client, api.json()["renditions"][0]["url"]) == b"x" * 10
            assert (api.json()["original_url"] is not None) == (video.owner_id == getattr(story.user(role), "pk", 0))


@pytest.mark.parametrize("role", ROLES)
def test_the_urls_in_exercises_and_replies_play_for_those_handed_them(role):
    story = practice_story(visibility="private")
    client = client_for(story, role)
    if role not in IN_SPACE:
        return
    exercise = client.get(f"/core/api/exercises/{story.exercise.pk}/").json()
    assert served(client, exercise["video"]["renditions"][0]["url"]) == b"x" * 10
    assert served(Client(), exercise["video"]["thumbnail_url"]) == b"jpeg", "a signed URL needs no session"
    for reply in client.get(f"/core/api/exercises/{story.exercise.pk}/replies/").json()["results"]:
        assert served(Client(), reply["video"]["renditions"][0]["url"]) == b"x" * 10


@pytest.mark.parametrize("role", ROLES)
def test_changing_the_space_and_its_exercises(role):
    story = practice_story()
    client = client_for(story, role)
    exercise = f"/core/api/exercises/{story.exercise.pk}/"
    member = f"/core/api/spaces/{story.space.pk}/members/max/"
    writes = [
        client.patch(exercise, {"title": "changed"}, content_type="application/json"),
        client.patch(member, {"role": "coach"}, content_type="application/json"),
        client.post("/core/api/exercises/", {"space": story.space.pk, "title": "x"}, content_type="application/json"),
    ]
    codes = [w.status_code for w in writes]
    if role == "coach":
        assert codes == [200, 200, 201]
    elif role in IN_SPACE:
        assert codes == [403, 403, 403]
    else:
        assert all(code in outside(role) for code in codes), codes
    deleted = client.delete(exercise).status_code
    assert deleted == {"coach": 204, "member": 403, "author": 403}.get(role, deleted)
    assert role in IN_SPACE or deleted in outside(role)
    removed = client.delete(f"/core/api/spaces/{story.space.pk}/").status_code
    assert removed == {"coach": 204, "member": 403, "author": 403}.get(role, removed)
    assert role in IN_SPACE or removed in outside(role)


@pytest.mark.parametrize("role", ROLES)
def test_replying(role):
    story = practice_story()
    client = client_for(story, role)
    own = make_video(story.user(role) or story.stranger)
    code = client.post(f"/core/api/exercises/{story.exercise.pk}/replies/", {"video": own.pk},
                       content_type="application/json").status_code
    assert code == 201 if role in IN_SPACE else code in outside(role)


@pytest.mark.parametrize("role", ROLES)
def test_comments_on_a_private_reply(role):
    story = practice_story()
    client = client_for(story, role)
    comment = services.comment_create(video=story.reply_video, author=story.coach, text="Wrist", at=1)
    url = f"/core/api/comments/{comment.pk}/"
    posted = client.post(f"/core/api/videos/{story.reply_video.pk}/comments/", {"text": "x", "at": 1},
                         content_type="application/json").status_code
    patched = client.patch(url, {"text": "y"}, content_type="application/json").status_code
    deleted = client.delete(url).status_code
    expected = {
        "anonymous": ({401, 403}, {401, 403}, {401, 403}),
        "stranger": ({404}, {404}, {404}),
        "member": ({404}, {404}, {404}),
        "author": ({201}, {403}, {204}),  # the reply's video is hers: she may delete comments on it
        "coach": ({201}, {200}, {204}),
        "staff": ({201}, {403}, {403}),
    }[role]
    assert posted in expected[0] and patched in expected[1] and deleted in expected[2], (posted, patched, deleted)


@pytest.mark.parametrize("role", ROLES)
def test_notifications_are_each_persons_own(role):
    story = practice_story()
    client = client_for(story, role)
    response = client.get("/core/api/notifications/")
    if role == "anonymous":
        assert response.status_code in (401, 403)
        assert client.post("/core/api/notifications/read/", {"all": True},
                           content_type="application/json").status_code in (401, 403)
        return
    mine = set(story.user(role).notifications.values_list("id", flat=True))
    assert {n["id"] for n in response.json()["results"]} == mine


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("role", ROLES)
def test_the_practice_pages(role, visibility, replies_visible):
    story = practice_story(visibility=visibility, replies_visible=replies_visible)
    client = client_for(story, role)
    for url in (f"/spaces/{story.space.pk}/", f"/exercises/{story.exercise.pk}/"):
        response = client.get(url)
        if role in IN_SPACE:
            assert response.status_code == 200, url
        elif role == "anonymous":
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
        else:
            assert response.status_code == 404, url
    page = client.get(f"/exercises/{story.exercise.pk}/")
    if role in IN_SPACE:
        shows_reply = f"/videos/{story.reply_video.pk}/" in page.content.decode()
        assert shows_reply == can_watch_reply(role, "private", replies_visible), "a reply shows only to those who may watch it"
    spaces = client.get("/spaces/")
    if role != "anonymous":
        assert (story.space.name in spaces.content.decode()) == (role in IN_SPACE)
