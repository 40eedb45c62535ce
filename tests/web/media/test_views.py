"""/media/ on local disk: signatures, visibility, Range.

Story: Alice has a private video and a public one; Bob, signed in or not, only ever reaches her
public video's renditions and poster.
"""

from __future__ import annotations

import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.utils.http import http_date

from domain.videos.models import Rendition, Video
from web.media.ranges import RANGE_NOT_SATISFIABLE
from web.media.signing import media_url

pytestmark = pytest.mark.django_db

MP4 = os.urandom(200_000)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(5_000)


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-practises-scales")


def make_video(owner, visibility: str) -> Video:
    video = Video.objects.create(owner=owner, title=f"{visibility} scales", visibility=visibility, status="ready")
    prefix = video.storage_prefix
    video.original = default_storage.save(f"{prefix}original.mov", ContentFile(b"original bytes"))
    video.poster = default_storage.save(f"{prefix}poster.jpg", ContentFile(JPEG))
    video.save()
    rendition = default_storage.save(f"{prefix}360p.mp4", ContentFile(MP4))
    Rendition.objects.create(video=video, label="360p", width=640, height=360, file=rendition, size_bytes=len(MP4))
    return video


@pytest.fixture
def private(alice) -> Video:
    return make_video(alice, "private")


@pytest.fixture
def public(alice) -> Video:
    return make_video(alice, "public")


def rendition_of(video: Video) -> str:
    return video.renditions.get().file


def body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)  # streamed, never read whole into memory
    return b"".join(response.streaming_content)


def test_a_signed_url_serves_the_whole_file(client, private):
    response = client.get(media_url(rendition_of(private), signed=True))
    assert response.status_code == 200
    assert body(response) == MP4
    assert response["Content-Type"] == "video/mp4"
    assert response["Content-Length"] == str(len(MP4))
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")


def test_a_poster_is_a_jpeg(client, private):
    response = client.get(media_url(private.poster, signed=True))
    assert response["Content-Type"] == "image/jpeg"
    assert body(response) == JPEG


def test_a_range_gets_206_and_exactly_those_bytes(client, private):
    url = media_url(rendition_of(private), signed=True)
    response = client.get(url, HTTP_RANGE="bytes=1000-1999")
    assert response.status_code == 206
    assert body(response) == MP4[1000:2000]
    assert response["Content-Range"] == f"bytes 1000-1999/{len(MP4)}"
    assert response["Content-Length"] == "1000"

    tail = client.get(url, HTTP_RANGE="bytes=-500")
    assert (tail.status_code, body(tail)) == (206, MP4[-500:])
    rest = client.get(url, HTTP_RANGE="bytes=199000-")
    assert (rest.status_code, body(rest)) == (206, MP4[199000:])
    assert rest["Content-Range"] == f"bytes 199000-{len(MP4) - 1}/{len(MP4)}"


def test_a_range_past_the_end_is_416(client, private):
    response = client.get(media_url(rendition_of(private), signed=True), HTTP_RANGE=f"bytes={len(MP4)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(MP4)}"


def test_several_ranges_get_the_whole_file(client, private):
    response = client.get(media_url(rendition_of(private), signed=True), HTTP_RANGE="bytes=0-1,5-9")
    assert (response.status_code, body(response)) == (200, MP4)


def test_if_range_serves_the_range_only_while_the_file_is_unchanged(client, private):
    url = media_url(rendition_of(private), signed=True)
    etag = client.get(url)["ETag"]
    same = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag)
    assert (same.status_code, body(same)) == (206, MP4[:10])

    changed = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"an-older-version"')
    assert (changed.status_code, body(changed)) == (200, MP4)

    mtime = os.stat(default_storage.path(rendition_of(private))).st_mtime
    by_date = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=http_date(mtime))
    assert by_date.status_code == 206
    too_old = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=http_date(mtime - 3600))
    assert too_old.status_code == 200


def test_head_answers_headers_only(client, private):
    response = client.head(media_url(rendition_of(private), signed=True), HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert response["Content-Length"] == "100"
    assert response.content == b""


def test_unsigned_private_media_is_a_404(client, private):
    response = client.get(media_url(rendition_of(private), signed=False))
    assert response.status_code == 404
    assert b"<html" in response.content.lower()  # the 404 page, not a JSON or debug page


def test_an_altered_url_is_a_404(client, private, public):
    url = media_url(rendition_of(private), signed=True)
    path, query = url.split("?")
    expires = int(query.split("&")[0].removeprefix("e="))
    assert client.get(f"{path}?e={expires + 3600}&{query.split('&')[1]}").status_code == 404
    assert client.get(url[:-1] + ("A" if url[-1] != "A" else "B")).status_code == 404
    assert client.get(url.replace("360p.mp4", "poster.jpg")).status_code == 404
    # A signature for one video's file opens no other video's file.
    assert client.get(f"{media_url(rendition_of(public), signed=False)}?{query}").status_code == 404


def test_a_malformed_expiry_is_a_404(client, private):
    url = media_url(rendition_of(private), signed=True)
    assert client.get(url.replace("?e=", "?e=%C2%B2")).status_code == 404


def test_an_expired_url_is_a_404(client, private, settings):
    settings.MEDIA_URL_MAX_AGE = -1
    assert client.get(media_url(rendition_of(private), signed=True)).status_code == 404


def test_public_renditions_and_posters_need_no_signature(client, public):
    assert body(client.get(media_url(rendition_of(public), signed=False))) == MP4
    assert client.get(media_url(public.poster, signed=False)).status_code == 200
    # The original stays the owner's: only ever signed.
    assert client.get(media_url(public.original, signed=False)).status_code == 404
    assert client.get(media_url(public.original, signed=True)).status_code == 200


def test_a_video_made_private_again_is_unreachable_unsigned(client, public):
    url = media_url(rendition_of(public), signed=False)
    Video.objects.filter(id=public.id).update(visibility="private")
    assert client.get(url).status_code == 404


def test_bob_signed_in_still_cannot_reach_alices_private_media(client, private, django_user_model):
    bob = django_user_model.objects.create_user("bob", password="bob-practises-chords")
    client.force_login(bob)
    assert client.get(media_url(rendition_of(private), signed=False)).status_code == 404
    assert client.get(media_url(private.poster, signed=False)).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "videos/../secret.txt",
        "videos/x/../../secret.txt",
        "other/secret.txt",
        "videos//secret.txt",
        "secret.txt",
    ],
)
def test_nothing_outside_the_videos_folder_is_served(client, name, media_root):
    default_storage.save("other/secret.txt", ContentFile(b"secret"))
    (media_root / "secret.txt").write_bytes(b"secret")
    response = client.get(media_url(name, signed=True))
    assert response.status_code in (400, 404)
    assert b"secret" not in response.content


def test_a_missing_file_with_a_good_signature_is_a_404(client, private):
    assert client.get(media_url(f"{private.storage_prefix}1080p.mp4", signed=True)).status_code == 404


def test_signed_urls_expire_after_media_url_max_age(private, settings):
    url = media_url(rendition_of(private), signed=True)
    expires = int(url.split("?e=")[1].split("&")[0])
    assert abs(expires - (time.time() + settings.MEDIA_URL_MAX_AGE)) < 60


HUGE_NUMBER = "9" * 5000  # past the 4,300 digits int() accepts


def test_range_numbers_too_long_for_int_are_no_500(client, private):
    url = media_url(rendition_of(private), signed=True)
    past_the_end = client.get(url, HTTP_RANGE=f"bytes={HUGE_NUMBER}-")
    assert past_the_end.status_code == 416
    assert past_the_end["Content-Range"] == f"bytes */{len(MP4)}"
    assert past_the_end.json() == {"error": RANGE_NOT_SATISFIABLE}
    # A last byte past the end means "to the end"; a suffix longer than the file, all of it.
    to_the_end = client.get(url, HTTP_RANGE=f"bytes=100-{HUGE_NUMBER}")
    assert (to_the_end.status_code, body(to_the_end)) == (206, MP4[100:])
    suffix = client.get(url, HTTP_RANGE=f"bytes=-{HUGE_NUMBER}")
    assert (suffix.status_code, body(suffix)) == (206, MP4)


def test_an_expiry_too_long_for_int_is_a_404(client, private):
    url = media_url(rendition_of(private), signed=True)
    path, query = url.split("?")
    assert client.get(f"{path}?e={HUGE_NUMBER}&{query.split('&')[1]}").status_code == 404


def test_an_original_is_only_ever_a_download(client, private):
    """Whatever extension the user's filename lent it: served as its own type, an original could
    be a page that runs script on our origin."""
    response = client.get(media_url(private.original, signed=True))
    assert body(response) == b"original bytes"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="original.mov"'
