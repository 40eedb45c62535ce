"""The video API against the contract: shapes, permissions, pagination, limits, errors.

The story: Alice uploads, Bob is another user who must not see Alice's private videos, Sam is
staff, and someone anonymous browses the public library. These tests stop at the queue; the
worker side is tests/workers/test_processing.py.
"""

from __future__ import annotations

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.client import encode_multipart
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from domain.videos.models import Rendition, Video
from domain.videos.selectors import NOT_FOUND
from domain.videos.services import QUOTA_EXCEEDED
from tests.conftest import free_port, wait_http
from tests.web.api.test_uploads import answer_to_headers_alone
from web.api import videos as api
from web.headers import BAD_CONTENT_LENGTH

pytestmark = pytest.mark.django_db

VIDEO_KEYS = {
    "id", "title", "description", "visibility", "owner", "status", "progress", "error",
    "created_at", "processed_at", "duration", "width", "height", "fps", "thumbnail_url", "renditions",
    "hls_url", "storyboard_url", "original_url",
}


@pytest.fixture
def alice(django_user_model) -> User:
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


@pytest.fixture
def bob(django_user_model) -> User:
    return django_user_model.objects.create_user("bob", password="bob-secret-1")


@pytest.fixture
def sam(django_user_model) -> User:
    return django_user_model.objects.create_user("sam", password="sam-secret-1", is_staff=True)


def as_user(client, user):
    if user is not None:
        client.force_login(user)
    return client


def make_video(owner: User, visibility: str = "private", *, playable: bool = True, **fields) -> Video:
    """A video as the worker leaves it: original, poster and a rendition in storage."""
    video = Video.objects.create(owner=owner, title=f"{visibility} by {owner}", visibility=visibility, **fields)
    prefix = video.storage_prefix
    video.original = default_storage.save(f"{prefix}original.mp4", ContentFile(b"original"))
    video.poster = default_storage.save(f"{prefix}poster.jpg", ContentFile(b"jpeg"))
    video.save()
    if playable:
        name = default_storage.save(f"{prefix}360p.mp4", ContentFile(b"x" * 10))
        Rendition.objects.create(video=video, label="360p", width=640, height=360, file=name, size_bytes=10)
        Video.objects.filter(id=video.id).update(status="ready", duration=2.0, width=640, height=360)
        video.refresh_from_db()
    return video


def upload(client, *, size: int = 1000, headers: dict | None = None, **fields):
    body = {"title": "Scales", "file": ContentFile(b"\0" * size, name="my scales.mp4"), **fields}
    return client.post("/core/api/videos/", body, headers=headers)


def stored_files(media_root) -> list:
    return [p for p in media_root.rglob("*") if p.is_file()]


# --- create ---------------------------------------------------------------------------------


def test_upload_creates_a_pending_private_video_with_the_original_stored(client, alice, media_root):
    response = upload(as_user(client, alice), description="Daily", visibility="unlisted")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == VIDEO_KEYS
    assert body["status"] == "pending" and body["progress"] == 0 and body["error"] is None
    assert body["owner"] == "alice" and body["visibility"] == "unlisted"
    video = Video.objects.get(id=body["id"])
    assert video.original.startswith(f"videos/{video.id}/original")
    assert "my scales" not in video.original, "the user's filename never names a stored file"
    assert video.original_filename == "my scales.mp4"
    assert default_storage.size(video.original) == 1000 == video.size


def test_upload_defaults_to_private(client, alice):
    assert upload(as_user(client, alice)).json()["visibility"] == "private"


def test_anonymous_upload_is_refused_as_json(client, media_root):
    response = upload(client)
    assert response.status_code in (401, 403)
    assert "error" in response.json()
    assert not Video.objects.exists() and stored_files(media_root) == []


@pytest.mark.parametrize(
    "fields, message",
    [({"title": ""}, "title"), ({"visibility": "secret"}, "visibility"), ({"file": ""}, "file")],
)
def test_bad_upload_fields_are_a_400_sentence(client, alice, media_root, fields, message):
    response = upload(as_user(client, alice), **fields)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_a_declared_content_length_over_the_limit_is_refused_before_reading(client, alice, settings, media_root):
    settings.MAX_UPLOAD_BYTES = 100_000
    body = encode_multipart("BoUnDaRy", {"title": "t", "file": ContentFile(b"\0" * 10, name="a.mp4")})
    response = as_user(client, alice).generic(
        "POST", "/core/api/videos/", body, content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(10 * 1024**3),
    )
    assert response.status_code == 413
    assert response.json() == {"error": api.TOO_LARGE}
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_a_file_over_the_limit_is_stopped_while_streaming(client, alice, settings, media_root, tmp_path):
    # The body is under MAX_UPLOAD_BYTES plus the envelope allowance, so only the byte counter
    # that runs while the file streams can catch it: the multipart envelope is not the file.
    settings.MAX_UPLOAD_BYTES = 100_000
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    response = upload(as_user(client, alice), size=100_001)
    assert response.status_code == 413
    assert response.json() == {"error": api.TOO_LARGE}
    assert not Video.objects.exists() and stored_files(media_root) == []
    assert list((tmp_path / "spool").iterdir()) == [], "the spooled part is deleted at once"


def test_a_content_length_shorter_than_the_body_keeps_nothing(client, alice, media_root):
    # Django reads no further than Content-Length: the file part arrives cut off, and a part
    # without its closing boundary is dropped rather than stored half.
    body = encode_multipart("BoUnDaRy", {"title": "t", "file": ContentFile(b"\1" * 50_000, name="a.mp4")})
    response = as_user(client, alice).generic(
        "POST", "/core/api/videos/", body, content_type="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(len(body) // 2),
    )
    assert response.status_code == 400 and "file" in response.json()["error"]
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_a_file_exactly_at_the_limit_is_accepted(client, alice, settings):
    settings.MAX_UPLOAD_BYTES = 100_000
    assert upload(as_user(client, alice), size=100_000).status_code == 201


def test_a_large_upload_is_spooled_to_disk_not_memory(client, alice, settings, tmp_path, monkeypatch):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    from django.core.files.uploadedfile import TemporaryUploadedFile

    seen = []
    create = api.services.video_create_from_upload

    def spy(**kwargs):
        seen.append(type(kwargs["original"].content))
        return create(**kwargs)

    monkeypatch.setattr(api.services, "video_create_from_upload", spy)
    assert upload(as_user(client, alice), size=50_000).status_code == 201
    assert seen == [TemporaryUploadedFile]


# --- token auth -----------------------------------------------------------------------------


def test_token_endpoint_and_token_auth(client, alice):
    response = client.post("/core/api/auth/token/", {"username": "alice", "password": "alice-secret-1"})
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=alice).key
    created = upload(client, headers={"Authorization": f"Token {token}"})
    assert created.status_code == 201 and created.json()["owner"] == "alice"


def test_wrong_password_is_a_json_400(client, alice):
    response = client.post("/core/api/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert response.json()["error"]


def test_a_bad_token_is_refused_as_json(client):
    response = client.get("/core/api/videos/", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code in (401, 403)
    assert response.json()["error"]


# --- retrieve: the permission matrix -------------------------------------------------------

SEES = {  # who → visibilities they can open by id (someone else's video)
    "owner": {"private", "unlisted", "public"},
    "staff": {"private", "unlisted", "public"},
    "other": {"unlisted", "public"},
    "anonymous": {"unlisted", "public"},
}


@pytest.mark.parametrize("visibility", ["private", "unlisted", "public"])
@pytest.mark.parametrize("who", ["owner", "staff", "other", "anonymous"])
def test_who_can_open_a_video_by_id(client, alice, bob, sam, who, visibility):
    video = make_video(alice, visibility)
    user = {"owner": alice, "staff": sam, "other": bob, "anonymous": None}[who]
    response = as_user(client, user).get(f"/core/api/videos/{video.id}/")
    if visibility in SEES[who]:
        assert response.status_code == 200
        assert response.json()["id"] == video.id
    else:
        assert response.status_code == 404, "someone else's private video is a 404, never a 403"
        assert response.json() == {"error": NOT_FOUND}


@pytest.mark.parametrize("video_id", ["does-not-exist", "a%00b", "%C3%A9", "x" * 40])
def test_missing_or_malformed_video_ids_are_the_same_404(client, video_id):
    response = client.get(f"/core/api/videos/{video_id}/")
    assert response.status_code == 404
    assert response.json() == {"error": NOT_FOUND}


def test_the_video_json_has_the_contract_shape(client, alice):
    video = make_video(alice, "public")
    body = as_user(client, alice).get(f"/core/api/videos/{video.id}/").json()
    assert set(body) - {"history"} == VIDEO_KEYS
    assert body["renditions"] == [
        {"label": "360p", "width": 640, "height": 360, "url": body["renditions"][0]["url"], "size_bytes": 10}
    ]
    assert body["renditions"][0]["url"].startswith(("/", "http"))
    assert body["thumbnail_url"] and body["hls_url"] is None
    assert body["duration"] == 2.0 and body["status"] == "ready"


@pytest.mark.parametrize(("status", "plays"), [("processing", True), ("ready", True), ("failed", False)])
def test_hls_url_is_given_only_for_a_stream_that_plays(client, alice, status, plays):
    video = make_video(alice, playable=False, status=status, hls_playlist=f"videos/x/hls/{'t' * 8}/master.m3u8")
    body = as_user(client, alice).get(f"/core/api/videos/{video.id}/").json()
    assert bool(body["hls_url"]) is plays


def test_original_url_is_for_the_owner_only(client, alice, bob):
    video = make_video(alice, "public")
    assert as_user(client, alice).get(f"/core/api/videos/{video.id}/").json()["original_url"]
    assert as_user(client, bob).get(f"/core/api/videos/{video.id}/").json()["original_url"] is None


def test_history_shows_each_attempt_and_step_to_the_owner(client, alice, bob):
    video = make_video(alice, "public")
    video.steps.create(attempt=1, step="probe", outcome="failed", reason="Not a video.")
    mine = as_user(client, alice).get(f"/core/api/videos/{video.id}/").json()["history"]
    assert mine == [{
        "attempt": 1, "step": "probe", "started_at": mine[0]["started_at"], "finished_at": None,
        "outcome": "failed", "reason": "Not a video.", "detail": None,
    }]
    assert as_user(client, bob).get(f"/core/api/videos/{video.id}/").json()["history"] == []


# --- list -----------------------------------------------------------------------------------


@pytest.fixture
def library(alice, bob):
    """Alice's videos in every visibility, one public still processing; one of Bob's."""
    return {
        "private": make_video(alice, "private"),
        "unlisted": make_video(alice, "unlisted"),
        "public": make_video(alice, "public"),
        "public_unplayable": make_video(alice, "public", playable=False),
        "bobs_private": make_video(bob, "private", playable=False),
    }


def listed(client) -> list[str]:
    body = client.get("/core/api/videos/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    return [v["id"] for v in body["results"]]


def test_owner_lists_own_videos_in_any_status_newest_first(client, alice, library):
    expected = [library[k].id for k in ("public_unplayable", "public", "unlisted", "private")]
    assert listed(as_user(client, alice)) == expected


def test_others_list_only_playable_public_videos(client, bob, library):
    assert listed(as_user(client, bob)) == [library["bobs_private"].id, library["public"].id]
    client.logout()
    assert listed(client) == [library["public"].id]


def test_staff_list_is_like_anyone_elses(client, sam, library):
    assert listed(as_user(client, sam)) == [library["public"].id]


def test_pagination_links(client, alice, library):
    body = as_user(client, alice).get("/core/api/videos/?page_size=3").json()
    assert body["count"] == 4 and len(body["results"]) == 3 and body["previous"] is None
    second = client.get(body["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None


def test_a_page_past_the_end_is_a_json_404(client):
    response = client.get("/core/api/videos/?page=99")
    assert response.status_code == 404
    assert response.json()["error"]


def test_list_queries_do_not_grow_with_page_size(client, alice):
    for i in range(12):
        make_video(alice, ["private", "unlisted", "public"][i % 3])
    as_user(client, alice)

    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/core/api/videos/?page_size={page_size}")
        assert len(response.json()["results"]) == page_size
        return len(queries)

    assert count(2) == count(12)


# --- update, delete, reprocess --------------------------------------------------------------


def test_owner_updates_title_description_visibility(client, alice):
    video = make_video(alice, "private")
    response = as_user(client, alice).patch(
        f"/core/api/videos/{video.id}/",
        {"title": "New", "description": "<b>d</b>", "visibility": "public"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["visibility"]) == ("New", "public")
    video.refresh_from_db()
    assert (video.title, video.description, video.visibility) == ("New", "<b>d</b>", "public")


def test_patch_cannot_touch_status(client, alice):
    video = make_video(alice, "private", playable=False)
    as_user(client, alice).patch(f"/core/api/videos/{video.id}/", {"status": "ready"}, content_type="application/json")
    video.refresh_from_db()
    assert video.status == "pending"


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_only_the_owner_changes_or_deletes(client, alice, bob, sam, method):
    public, private = make_video(alice, "public"), make_video(alice, "private")
    for user, video, code in [(bob, public, 403), (bob, private, 404), (sam, public, 403), (None, public, 403)]:
        client.logout()
        response = getattr(as_user(client, user), method)(
            f"/core/api/videos/{video.id}/", {"title": "x"}, content_type="application/json"
        )
        assert response.status_code in ((401, 403) if user is None else (code,))
        assert response.json()["error"]
    assert Video.objects.filter(title="x").count() == 0 and Video.objects.count() == 2


def test_delete_removes_every_stored_file(client, alice, media_root):
    video = make_video(alice, "public")
    other = make_video(alice, "public")
    default_storage.save(f"{video.storage_prefix}nested/leftover.bin", ContentFile(b"z"))
    response = as_user(client, alice).delete(f"/core/api/videos/{video.id}/")
    assert response.status_code == 204
    assert not Video.objects.filter(id=video.id).exists()
    assert not Rendition.objects.filter(video_id=video.id).exists()
    assert not (media_root / "videos" / video.id).exists()
    assert len([p for p in stored_files(media_root) if other.id in str(p)]) == 3, "others untouched"


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_owner_or_staff_reprocess_is_202_and_pending(client, alice, sam, who):
    video = make_video(alice, "private")
    Video.objects.filter(id=video.id).update(attempts=2)
    response = as_user(client, {"owner": alice, "staff": sam}[who]).post(f"/core/api/videos/{video.id}/reprocess/")
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert response.json()["renditions"], "old renditions keep playing until new ones replace them"
    video.refresh_from_db()
    assert (video.status, video.attempts) == ("pending", 0)


def test_reprocess_by_others_and_while_pending(client, alice, bob):
    public, private = make_video(alice, "public"), make_video(alice, "private", playable=False)
    assert as_user(client, bob).post(f"/core/api/videos/{public.id}/reprocess/").status_code == 403
    assert client.post(f"/core/api/videos/{private.id}/reprocess/").status_code == 404
    client.force_login(alice)
    response = client.post(f"/core/api/videos/{private.id}/reprocess/")
    assert response.status_code == 409
    assert response.json() == {"error": api.ALREADY_PROCESSING}


@pytest.mark.slow
def test_a_real_client_gets_the_413_json_from_the_real_web_process(processes, alice, media_root):
    """Through gunicorn the refusal must reach a client still sending its body, both when the
    declared length is too large and when the counter stops the stream."""
    token = Token.objects.create(user=alice).key
    port = free_port()
    processes("web", PORT=str(port), MAX_UPLOAD_BYTES="100000", WEB_CONCURRENCY="1")
    wait_http(f"http://127.0.0.1:{port}/core/health/live/")
    for size in (20_000_000, 100_001):
        response = requests.post(
            f"http://127.0.0.1:{port}/core/api/videos/", headers={"Authorization": f"Token {token}"},
            files={"file": ("a.mp4", b"\0" * size)}, data={"title": "t"}, timeout=60,
        )
        assert (response.status_code, response.json()) == (413, {"error": api.TOO_LARGE}), size
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_the_admin_shows_the_job_history_and_escapes_the_filename(admin_client, alice):
    video = make_video(alice, "public", original_filename="<script>x</script>.mp4")
    video.steps.create(attempt=2, step="transcode", outcome="crashed", reason="The worker stopped responding.")
    page = admin_client.get(f"/admin/videos/video/{video.id}/change/").content.decode()
    assert "The worker stopped responding." in page and "crashed" in page
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;.mp4" in page
    assert admin_client.get("/admin/videos/video/").status_code == 200


def test_an_oversized_or_multipart_edit_is_refused_as_json(client, alice, settings):
    video = make_video(alice, "private")
    as_user(client, alice)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = client.patch(f"/core/api/videos/{video.id}/", {"title": "x" * 2000}, content_type="application/json")
    assert (big.status_code, big.json()) == (413, {"error": api.BODY_TOO_LARGE})
    body = encode_multipart("BoUnDaRy", {"title": "t"})
    multipart = client.patch(f"/core/api/videos/{video.id}/", body, content_type="multipart/form-data; boundary=BoUnDaRy")
    assert multipart.status_code == 415 and multipart.json()["error"]


def test_oversized_form_fields_and_non_multipart_uploads_are_refused_as_json(client, alice, settings, media_root):
    as_user(client, alice)
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = upload(client, description="d" * 5000)
    assert (response.status_code, response.json()) == (413, {"error": api.FIELDS_TOO_LARGE})
    form = client.post("/core/api/videos/", "title=t", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415 and form.json()["error"]
    assert not Video.objects.exists() and stored_files(media_root) == []


def test_a_content_length_too_long_for_int_is_no_500(client, alice, media_root):
    """gunicorn refuses such a Content-Length itself; other servers pass it on."""
    video = make_video(alice, "private")
    as_user(client, alice)
    huge = "9" * 5000  # past the 4,300 digits int() accepts
    edit = client.generic("PATCH", f"/core/api/videos/{video.id}/", b'{"title": "t"}',
                          content_type="application/json", CONTENT_LENGTH=huge)
    assert (edit.status_code, edit.json()) == (400, {"error": BAD_CONTENT_LENGTH})
    body = encode_multipart("BoUnDaRy", {"title": "t", "file": ContentFile(b"\0" * 10, name="a.mp4")})
    posted = client.generic("POST", "/core/api/videos/", body, content_type="multipart/form-data; boundary=BoUnDaRy",
                            CONTENT_LENGTH=huge)
    assert (posted.status_code, posted.json()) == (400, {"error": BAD_CONTENT_LENGTH})
    assert Video.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_upload_past_the_quota_is_refused_before_its_body(live_server, client, alice, settings, media_root):
    """With Content-Length known, the quota is checked before a byte is read or written, for
    token and session callers alike (a session's CSRF check would read the whole body first)."""
    settings.MAX_USER_STORAGE_BYTES = 1_000_000
    token = Token.objects.create(user=alice).key
    client.force_login(alice)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    for credentials in (f"Authorization: Token {token}", f"Cookie: sessionid={session}"):
        status, body = answer_to_headers_alone(live_server.url, (
            f"POST /core/api/videos/ HTTP/1.1\r\nHost: localhost\r\n{credentials}\r\n"
            "Content-Type: multipart/form-data; boundary=BoUnDaRy\r\nContent-Length: 2000000\r\n"
            "Connection: close\r\n\r\n"
        ))
        assert (status, body) == (413, {"error": QUOTA_EXCEEDED.format(quota=0)}), credentials
    assert not Video.objects.exists() and stored_files(media_root) == []
