"""/media/ on local disk: signatures, visibility, Range.

Story: Alice has a private video and a public one; Bob, signed in or not, only ever reaches her
public video's renditions and poster.
"""

from __future__ import annotations

import os
import time

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import StreamingHttpResponse
from django.utils.http import http_date

from domain.videos.hls import playlist_uris
from domain.videos.models import Rendition, Video
from tests.domain.test_s3_storage import s3  # noqa: F401 (fixture)
from web.media.ranges import RANGE_NOT_SATISFIABLE
from web.media.signing import media_url
from web.media.views import PUBLIC_MAX_AGE

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


# --- HLS ------------------------------------------------------------------------------------

SEGMENT = os.urandom(50_000)
MASTER_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aac",NAME="audio_1",DEFAULT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1240800,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="group_aac"
360p/index.m3u8
"""


def media_playlist(init: str, ended: bool) -> str:
    text = (f'#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:EVENT\n'
            f'#EXT-X-MAP:URI="{init}"\n#EXTINF:2.000000,\nseg_00000.m4s\n')
    return text + ("#EXT-X-ENDLIST\n" if ended else "")


def add_hls(video: Video, *, ended: bool = False) -> str:
    """An attempt's HLS as the worker publishes it; the master's name, set on the video."""
    folder = f"{video.storage_prefix}hls/0123abcd/"
    files = {"master.m3u8": MASTER_PLAYLIST.encode()}
    for variant, init in (("360p", "init_0.mp4"), ("audio", "init_1.mp4")):
        files[f"{variant}/index.m3u8"] = media_playlist(init, ended).encode()
        files[f"{variant}/{init}"] = b"\x00\x00\x00\x18ftypiso6" + os.urandom(100)
        files[f"{variant}/seg_00000.m4s"] = SEGMENT
    for name, content in files.items():
        default_storage.save(folder + name, ContentFile(content))
    Video.objects.filter(id=video.id).update(hls_playlist=f"{folder}master.m3u8")
    return f"{folder}master.m3u8"


def uris(response) -> list[str]:
    return playlist_uris(response.content.decode())


def get_all(client, url: str, seen: list[str]) -> None:
    """GET a playlist and, through its URIs, everything it leads to; every answer must be 200."""
    response = client.get(url)
    assert response.status_code == 200, url
    seen.append(url)
    if response["Content-Type"] == "application/vnd.apple.mpegurl":
        for uri in uris(response):
            get_all(client, uri, seen)


def test_a_signed_master_leads_through_signed_playlists_to_signed_segments(client, private):
    master = add_hls(private)
    response = client.get(media_url(master, signed=True))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.apple.mpegurl"
    assert uris(response) == [media_url(f"{private.storage_prefix}hls/0123abcd/{variant}/index.m3u8", signed=True)
                              for variant in ("audio", "360p")]
    seen: list[str] = []
    get_all(client, media_url(master, signed=True), seen)
    assert len(seen) == 1 + 2 * 3, "master; each variant's playlist, init segment and segment"
    assert all(url.startswith("/media/videos/") and "?e=" in url and "&s=" in url for url in seen)
    variant = client.get(seen[1])
    assert '#EXT-X-MAP:URI="/media/videos/' in variant.content.decode()
    segment = client.get(uris(variant)[1])
    assert (segment["Content-Type"], body(segment)) == ("video/iso.segment", SEGMENT)


def test_a_playlist_without_a_valid_signature_is_a_404(client, private, settings):
    master = add_hls(private)
    variant = f"{private.storage_prefix}hls/0123abcd/360p/index.m3u8"
    assert client.get(media_url(master, signed=False)).status_code == 404
    assert client.get(media_url(variant, signed=False)).status_code == 404
    forged = media_url(master, signed=True)
    assert client.get(forged[:-1] + ("A" if forged[-1] != "A" else "B")).status_code == 404
    # A signature for one playlist opens no other.
    assert client.get(media_url(variant, signed=False) + "?" + forged.split("?")[1]).status_code == 404
    settings.MEDIA_URL_MAX_AGE = -1
    assert client.get(media_url(master, signed=True)).status_code == 404


def test_a_public_videos_playlists_and_segments_are_plain(client, public):
    master = add_hls(public)
    seen: list[str] = []
    get_all(client, media_url(master, signed=False), seen)
    assert len(seen) == 7 and not any("?" in url for url in seen)


def test_a_growing_playlist_is_never_cached_and_an_ended_one_is(client, private, public):
    growing = client.get(media_url(add_hls(private), signed=True))
    variant = client.get(uris(growing)[1])
    assert growing["Cache-Control"] == variant["Cache-Control"] == "no-store"
    ended = client.get(media_url(add_hls(public, ended=True), signed=False))
    assert client.get(uris(ended)[1])["Cache-Control"] == f"public, max-age={PUBLIC_MAX_AGE}"


def test_a_segment_answers_range(client, private):
    add_hls(private)
    url = media_url(f"{private.storage_prefix}hls/0123abcd/360p/seg_00000.m4s", signed=True)
    response = client.get(url, HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206 and body(response) == SEGMENT[100:200]


def test_an_original_named_like_a_playlist_is_still_only_a_download(client, private):
    original = default_storage.save(f"{private.storage_prefix}original.m3u8", ContentFile(b"#EXTM3U\nseg.m4s\n"))
    Video.objects.filter(id=private.id).update(original=original)
    response = client.get(media_url(original, signed=True))
    assert body(response) == b"#EXTM3U\nseg.m4s\n"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="original.m3u8"'


def test_a_missing_playlist_is_a_404(client, private):
    assert client.get(media_url(f"{private.storage_prefix}hls/0123abcd/master.m3u8", signed=True)).status_code == 404


def test_on_s3_playlists_are_answered_signed_and_segments_go_to_the_bucket(client, alice, s3):
    private = make_video(alice, "private")
    master = add_hls(private)
    response = client.get(media_url(master, signed=True))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    variant = client.get(uris(response)[1])
    assert variant.status_code == 200
    init, segment = uris(variant)
    assert "?e=" in init and "?e=" in segment
    redirect = client.get(segment)
    assert redirect.status_code == 302
    from_bucket = requests.get(redirect["Location"], headers={"Range": "bytes=0-99"}, timeout=10)
    assert from_bucket.status_code == 206 and from_bucket.content == SEGMENT[:100]
    assert from_bucket.headers["Content-Type"] == "video/iso.segment"


def test_a_ready_videos_storyboard_hands_the_player_signed_sheets(client, alice, private):
    master = add_hls(private, ended=True)
    folder = master.rsplit("/", 1)[0]
    sheet = b"\xff\xd8\xff\xe0" + os.urandom(64)
    default_storage.save(f"{folder}/storyboard/sheet_000.jpg", ContentFile(sheet))
    default_storage.save(f"{folder}/storyboard.vtt", ContentFile(
        b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstoryboard/sheet_000.jpg#xywh=0,0,160,90\n"
        b"\n00:00:01.000 --> 00:00:02.000\n../../../other/sheet.jpg#xywh=160,0,160,90\n"
    ))
    client.force_login(alice)
    Video.objects.filter(id=private.id).update(status="processing")
    assert client.get(f"/core/api/videos/{private.id}/").json()["storyboard_url"] is None, "not before ready"
    Video.objects.filter(id=private.id).update(status="ready")
    assert client.get(f"/core/api/videos/{private.id}/").json()["storyboard_url"] is None, "made before storyboards"
    Video.objects.filter(id=private.id).update(storyboard=f"{folder}/storyboard.vtt")
    url = client.get(f"/core/api/videos/{private.id}/").json()["storyboard_url"]
    client.logout()
    assert client.get(url.split("?")[0]).status_code == 404, "private: signed only"
    response = client.get(url)
    assert (response.status_code, response["Content-Type"]) == (200, "text/vtt")
    lines = response.content.decode().splitlines()
    signed, escaped = lines[3], lines[6]
    assert signed.startswith("/media/videos/") and "?e=" in signed and signed.endswith("#xywh=0,0,160,90")
    assert escaped == "../../../other/sheet.jpg#xywh=160,0,160,90", "nothing outside the attempt's folder is signed"
    image = client.get(signed.split("#")[0])
    assert (image.status_code, image["Content-Type"], body(image)) == (200, "image/jpeg", sheet)
