"""Every URL of a video × {anonymous, owner, other, staff} × {private, unlisted, public}.

Alice owns one ready video of each visibility; Bob is another user, Sam is staff. Private
videos open for their owner and staff only, and for everyone else are as missing as a video
that never existed (404, never 403). Unlisted and public ones open by id, but only their owner
may change them. Media bytes of private and unlisted videos are reachable only through the
signed URLs handed to those who may open the video.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from domain.videos.models import Rendition, Video, new_video_id

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "owner", "other", "staff"]
VISIBILITIES = ["private", "unlisted", "public"]


def can_open(role: str, visibility: str) -> bool:
    return visibility != "private" or role in ("owner", "staff")


def refused(role: str, visibility: str) -> int:
    """What someone who may not change a video gets: 404 if they may not even see it."""
    return 404 if not can_open(role, visibility) else 403


@pytest.fixture
def users():
    model = get_user_model()
    return {
        "owner": model.objects.create_user("alice"),
        "other": model.objects.create_user("bob"),
        "staff": model.objects.create_user("sam", is_staff=True),
    }


@pytest.fixture
def videos(users) -> dict[str, Video]:
    made = {}
    for visibility in VISIBILITIES:
        video_id = new_video_id()
        prefix = f"videos/{video_id}/"
        video = Video.objects.create(
            id=video_id, owner=users["owner"], title=visibility, visibility=visibility, status="ready",
            original=default_storage.save(prefix + "original.mp4", ContentFile(b"original bytes")),
            poster=default_storage.save(prefix + "poster-1.jpg", ContentFile(b"\xff\xd8poster")), size=14,
        )
        Rendition.objects.create(video=video, label="360p", width=640, height=360, size_bytes=15,
                                 file=default_storage.save(prefix + "360p-1.mp4", ContentFile(b"rendition bytes")))
        made[visibility] = video
    return made


def client_for(role: str, users) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(users[role])
    return client


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("role", ROLES)
def test_reading_a_video(role, visibility, users, videos):
    client, video = client_for(role, users), videos[visibility]
    expected = 200 if can_open(role, visibility) else 404
    assert client.get(f"/core/api/videos/{video.id}/").status_code == expected
    assert client.get(f"/videos/{video.id}/").status_code == expected
    listed = {v["id"] for v in client.get("/core/api/videos/").json()["results"]}
    assert (video.id in listed) == (role == "owner" or visibility == "public")


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("role", ROLES)
def test_changing_a_video(role, visibility, users, videos):
    client, video = client_for(role, users), videos[visibility]
    api = f"/core/api/videos/{video.id}/"
    patch = client.patch(api, {"title": "changed"}, content_type="application/json")
    reprocess = client.post(f"{api}reprocess/")
    page_edit = client.post(f"/videos/{video.id}/edit/", {"title": "changed", "visibility": visibility})
    delete = client.delete(api)
    if role == "anonymous":
        assert {patch.status_code, reprocess.status_code, delete.status_code} <= {401, 403}
        assert page_edit.status_code == 302 and "/accounts/login/" in page_edit["Location"]
    elif role == "owner":
        assert (patch.status_code, reprocess.status_code, page_edit.status_code, delete.status_code) == (200, 202, 302, 204)
        assert not Video.objects.filter(id=video.id).exists()
        assert not default_storage.exists(video.original), "delete left the files behind"
    else:
        code = refused(role, visibility)
        assert (patch.status_code, page_edit.status_code, delete.status_code) == (code, code, code)
        # Staff may reprocess anyone's video they can open, through the API.
        assert reprocess.status_code == (202 if role == "staff" else code)
        assert Video.objects.get(id=video.id).title == visibility


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("role", ROLES)
def test_media_bytes(role, visibility, users, videos):
    client, video = client_for(role, users), videos[visibility]
    rendition = video.renditions.get()
    # Unsigned URLs serve public renditions and posters only, and never an original.
    for name, public in ((rendition.file, True), (video.poster, True), (video.original, False)):
        expected = 200 if public and visibility == "public" else 404
        assert client.get(f"/media/{name}").status_code == expected, name
    body = client.get(f"/core/api/videos/{video.id}/").json()
    if not can_open(role, visibility):
        assert body == {"error": body["error"]}
        return
    response = client.get(body["renditions"][0]["url"])
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"rendition bytes"
    assert response["Content-Type"] == "video/mp4" and response["X-Content-Type-Options"] == "nosniff"
    assert (body["original_url"] is not None) == (role == "owner")


def test_an_original_that_is_a_web_page_is_served_as_a_download(users):
    client = client_for("owner", users)
    page = ContentFile(b"<html><script>alert(document.cookie)</script></html>", name="evil.html")
    created = client.post("/core/api/videos/", {"title": "not a video", "file": page})
    assert created.status_code == 201, created.content
    original = client.get(f"/core/api/videos/{created.json()['id']}/").json()["original_url"]
    response = client.get(original)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
