"""The S3 path end to end against moto's standalone S3 server (tests/conftest.py moto_endpoint):
tus into an S3 multipart upload, the pending video, /media/ redirecting to presigned URLs that
answer Range and expire, and abandoned uploads aborted.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils import timezone
from tusclient import client as tus_client

from domain.errors import Code, DomainError
from domain.uploads.models import Upload
from domain.uploads.services import (
    Checksum,
    upload_append,
    upload_create,
    uploads_expire,
)
from domain.videos.models import Video
from domain.videos.services import QUOTA_EXCEEDED
from tests.conftest import free_port, wait_http
from tests.web.api.test_uploads import (  # noqa: F401
    absolute,
    alice,
    create,
    patch,
    server_offset,
    token_headers,
    uploads_url,
    wait_until_locked,
)
from web.api.uploads import CHUNK_SIZE_HEADER, VIDEO_ID_HEADER
from web.media.signing import media_url

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024
BUCKET = "practika-test"
PRESIGNED_SECONDS = 600


@pytest.fixture
def s3(moto_endpoint, settings):
    """Default storage is django-storages' S3 backend on a fresh bucket, as with
    AWS_STORAGE_BUCKET_NAME set."""
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=moto_endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.UPLOAD_CHUNK_BYTES = 5 * MiB
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "domain.s3_storage.MediaS3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": moto_endpoint,
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "default_acl": None,
                "querystring_auth": True,
                "signature_version": "s3v4",
                "querystring_expire": PRESIGNED_SECONDS,
                "file_overwrite": False,
            },
        },
    }
    yield client
    objects = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    for item in objects:
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    for pending in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=pending["Key"], UploadId=pending["UploadId"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def multipart_uploads(client) -> list[dict]:
    return client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_tus_into_s3_multipart_then_media_redirects_to_a_presigned_url(s3, uploads_url, alice, client, tmp_path):
    data = os.urandom(12 * MiB + 12_345)
    source = tmp_path / "etude.mp4"
    source.write_bytes(data)
    assert int(requests.options(uploads_url).headers[CHUNK_SIZE_HEADER]) == 5 * MiB
    # 3 MiB PATCHes are no multiple of the 5 MiB parts: the server carries the tail between them.
    tus = tus_client.TusClient(uploads_url, headers={"Authorization": token_headers(alice)["Authorization"]})
    uploader = tus.uploader(
        file_path=str(source), chunk_size=3 * MiB, metadata={"filename": "etude.mp4", "title": "Etude"},
        upload_checksum=True,
    )
    uploader.upload()

    video = Video.objects.get(id=uploader.request.response_headers[VIDEO_ID_HEADER.lower()])
    assert (video.status, video.size, video.owner) == ("pending", len(data), alice)
    stored = s3.get_object(Bucket=BUCKET, Key=video.original)
    assert hashlib.sha256(stored["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert keys(s3) == [video.original]  # no tails left behind
    assert multipart_uploads(s3) == []
    assert requests.head(uploader.url, headers=token_headers(alice)).headers[VIDEO_ID_HEADER] == video.id

    redirect = client.get(media_url(video.original, signed=True))
    assert redirect.status_code == 302
    location = redirect["Location"]
    assert location.startswith(default_storage.endpoint_url)
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == [str(PRESIGNED_SECONDS)]
    ranged = requests.get(location, headers={"Range": "bytes=6291456-6292479"})
    assert ranged.status_code == 206
    assert ranged.content == data[6291456:6292480]

    # moto does not refuse expired presigned URLs, so the expiry is checked in the URL itself.
    assert client.get(media_url(video.original, signed=False)).status_code == 404

    # A public video's poster needs no signature; it still goes out through a presigned URL.
    poster = default_storage.save(f"{video.storage_prefix}poster.jpg", ContentFile(b"\xff\xd8 a poster"))
    Video.objects.filter(id=video.id).update(poster=poster, visibility="public")
    public = client.get(media_url(poster, signed=False))
    assert public.status_code == 302
    assert requests.get(public["Location"]).content == b"\xff\xd8 a poster"
    assert client.get(media_url(video.original, signed=False)).status_code == 404


def test_a_cut_s3_upload_resumes_and_abandoned_ones_are_aborted(s3, uploads_url, alice, tmp_path, settings):
    data = os.urandom(12 * MiB + 999)
    url = absolute(uploads_url, create(uploads_url, alice, len(data), filename="cut.mp4", title="Cut"))
    # One PATCH of 6 MiB + 17 bytes: one part to S3, the rest kept as the tail.
    first = 6 * MiB + 17
    assert patch(url, alice, 0, data[:first]).status_code == 204
    assert server_offset(url, alice) == first
    upload = Upload.objects.get()
    assert len(upload.s3_parts) == 1
    assert keys(s3) == [f"uploads/{upload.key}/tail-1"]

    # A PATCH that fails its checksum after S3 already took the part it completed counts for
    # nothing: the part is rewritten by the next PATCH and the tail is left as it was.
    garbage = os.urandom(5 * MiB)
    wrong = base64.b64encode(hashlib.sha1(b"not this").digest()).decode()
    assert patch(url, alice, first, garbage, **{"Upload-Checksum": f"sha1 {wrong}"}).status_code == 460
    assert server_offset(url, alice) == first
    assert Upload.objects.get().s3_parts == upload.s3_parts

    # A deploy that changes the chunk size does not move the part boundaries of this upload.
    settings.UPLOAD_CHUNK_BYTES = 6 * MiB
    assert requests.head(url, headers=token_headers(alice)).headers[CHUNK_SIZE_HEADER] == str(5 * MiB)

    source = tmp_path / "cut.mp4"
    source.write_bytes(data)
    tus = tus_client.TusClient(uploads_url, headers={"Authorization": token_headers(alice)["Authorization"]})
    uploader = tus.uploader(file_path=str(source), url=url, chunk_size=5 * MiB)
    assert uploader.offset == first
    uploader.upload()
    video = Video.objects.get(id=uploader.request.response_headers[VIDEO_ID_HEADER.lower()])
    assert s3.get_object(Bucket=BUCKET, Key=video.original)["Body"].read() == data

    # Two more: one abandoned with DELETE, one left idle until it expires.
    deleted = absolute(uploads_url, create(uploads_url, alice, 6 * MiB, filename="gone.mp4"))
    assert patch(deleted, alice, 0, data[: 5 * MiB + 1]).status_code == 204
    idle = absolute(uploads_url, create(uploads_url, alice, 6 * MiB, filename="idle.mp4"))
    assert patch(idle, alice, 0, data[:1000]).status_code == 204
    assert len(multipart_uploads(s3)) == 2

    assert requests.delete(deleted, headers=token_headers(alice)).status_code == 204
    assert len(multipart_uploads(s3)) == 1
    assert uploads_expire(now=timezone.now() + timedelta(days=2)) == 2  # the idle one, the finished row
    assert multipart_uploads(s3) == []
    assert keys(s3) == [video.original]


@pytest.mark.slow
def test_through_gunicorn_configured_by_environment(s3, moto_endpoint, processes, alice, tmp_path):
    """The settings wire AWS_* to the S3 backend; two gunicorn workers share only the database
    and the bucket."""
    port = free_port()
    processes(
        "web",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        AWS_STORAGE_BUCKET_NAME=BUCKET,
        AWS_S3_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_S3_REGION_NAME="us-east-1",
        UPLOAD_CHUNK_BYTES=str(1024),  # too small for S3: the server raises it to 5 MiB
        MEDIA_URL_MAX_AGE="900",
    )
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/core/health/live/")
    uploads = f"{base}/core/api/uploads/"
    assert int(requests.options(uploads).headers[CHUNK_SIZE_HEADER]) == 5 * MiB

    data = os.urandom(11 * MiB + 5)
    source = tmp_path / "duet.mov"
    source.write_bytes(data)
    tus = tus_client.TusClient(uploads, headers={"Authorization": token_headers(alice)["Authorization"]})
    uploader = tus.uploader(file_path=str(source), chunk_size=4 * MiB, metadata={"filename": "duet.mov", "title": "Duet"})
    uploader.upload()
    video = Video.objects.get(id=uploader.request.response_headers[VIDEO_ID_HEADER.lower()])
    stored = s3.get_object(Bucket=BUCKET, Key=video.original)
    assert stored["Body"].read() == data
    assert (stored["ContentType"], stored["ContentDisposition"]) == ("application/octet-stream", 'attachment; filename="original.mov"')

    redirect = requests.get(f"{base}{media_url(video.original, signed=True)}", allow_redirects=False)
    assert redirect.status_code == 302
    assert parse_qs(urlsplit(redirect.headers["Location"]).query)["X-Amz-Expires"] == ["900"]
    ranged = requests.get(redirect.headers["Location"], headers={"Range": "bytes=-5"})
    assert (ranged.status_code, ranged.content) == (206, data[-5:])


def test_objects_get_their_type_from_the_allow_list_never_from_the_client(s3, uploads_url, alice, client):
    """An original declared text/html (multipart) or named .html (tus) is stored and served as a
    download; outputs get their type from their generated extension, whatever the caller said."""
    client.force_login(alice)
    page = b"<html><script>alert(document.domain)</script></html>"
    posted = client.post("/core/api/videos/", {
        "title": "Not a video", "file": SimpleUploadedFile("page.mp4", page, content_type="text/html"),
    })
    assert posted.status_code == 201, posted.content
    url = absolute(uploads_url, create(uploads_url, alice, len(page), filename="page.html", filetype="text/html"))
    assert patch(url, alice, 0, page).status_code == 204
    originals = [video.original for video in Video.objects.all()]
    assert len(originals) == 2

    for original in originals:
        stored = s3.head_object(Bucket=BUCKET, Key=original)
        assert stored["ContentType"] == "application/octet-stream", original
        assert stored["ContentDisposition"] == f'attachment; filename="{original.rsplit("/", 1)[1]}"'
        served = requests.get(client.get(media_url(original, signed=True))["Location"])
        assert served.content == page
        assert served.headers["Content-Type"] == "application/octet-stream"
        assert served.headers["Content-Disposition"].startswith("attachment")

    prefix = Video.objects.first().storage_prefix
    outputs = {
        "360p-0a1b2c3d.mp4": "video/mp4",
        "poster-0a1b2c3d.jpg": "image/jpeg",
        "hls/master.m3u8": "application/vnd.apple.mpegurl",
        "hls/360p-00001.ts": "video/mp2t",
        "hls/360p-00001.m4s": "video/iso.segment",
        "notes.html": "application/octet-stream",
    }
    for name, expected in outputs.items():
        key = default_storage.save(prefix + name, SimpleUploadedFile(name, b"x", content_type="text/html"))
        assert s3.head_object(Bucket=BUCKET, Key=key)["ContentType"] == expected, name

    # An object stored before types came from the list is still served with the listed type.
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}original.htm", Body=page, ContentType="text/html")
    old = requests.get(default_storage.url(f"{prefix}original.htm"))
    assert (old.content, old.headers["Content-Type"]) == (page, "application/octet-stream")
    assert old.headers["Content-Disposition"].startswith("attachment")


def test_a_quota_refusal_at_the_last_byte_leaves_the_s3_upload_resumable(s3, uploads_url, alice, settings, postgres):
    """The quota is checked before the multipart upload is completed: once room is made, the
    same last PATCH succeeds."""
    data = os.urandom(6 * MiB + 100)
    url = absolute(uploads_url, create(uploads_url, alice, len(data), filename="last.mp4"))
    assert patch(url, alice, 0, data[: 5 * MiB]).status_code == 204  # one whole part in S3

    # The quota shrinks (an operator lowered it): the last PATCH is refused before its body.
    settings.MAX_USER_STORAGE_BYTES = 6 * MiB
    refused = patch(url, alice, 5 * MiB, data[5 * MiB:])
    assert (refused.status_code, refused.json()) == (413, {"error": QUOTA_EXCEEDED.format(quota=6)})
    assert len(multipart_uploads(s3)) == 1 and server_offset(url, alice) == 5 * MiB

    # The quota shrinks while the last PATCH's body is on its way: refused after the body, still
    # before the multipart upload is completed.
    settings.MAX_USER_STORAGE_BYTES = 20 * MiB
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as slow:
        slow.sendall(
            (
                f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
                f"Authorization: {token_headers(alice)['Authorization']}\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {5 * MiB}\r\n"
                f"Content-Length: {len(data) - 5 * MiB}\r\nConnection: close\r\n\r\n"
            ).encode()
            + data[5 * MiB: 5 * MiB + 10]
        )
        wait_until_locked()
        settings.MAX_USER_STORAGE_BYTES = 6 * MiB
        slow.sendall(data[5 * MiB + 10:])
        assert b" 413 " in slow.recv(4096).split(b"\r\n", 1)[0] + b" "
    assert len(multipart_uploads(s3)) == 1 and server_offset(url, alice) == 5 * MiB
    assert not Video.objects.exists()

    settings.MAX_USER_STORAGE_BYTES = 20 * MiB  # room was made
    done = patch(url, alice, 5 * MiB, data[5 * MiB:])
    assert done.status_code == 204, done.text
    video = Video.objects.get(id=done.headers[VIDEO_ID_HEADER])
    assert s3.get_object(Bucket=BUCKET, Key=video.original)["Body"].read() == data
    assert multipart_uploads(s3) == [] and keys(s3) == [video.original]


def test_the_sweep_removes_an_upload_whose_s3_multipart_upload_is_gone(s3, uploads_url, alice):
    """The bucket's lifecycle rule (or anything else) may abort a multipart upload the database
    still knows: expiry removes its row with the others instead of failing on it every run."""
    gone = absolute(uploads_url, create(uploads_url, alice, 6 * MiB, filename="gone.mp4"))
    idle = absolute(uploads_url, create(uploads_url, alice, 6 * MiB, filename="idle.mp4"))
    for url in (gone, idle):
        assert patch(url, alice, 0, b"x" * 1000).status_code == 204
    aborted = Upload.objects.get(filename="gone.mp4")
    s3.abort_multipart_upload(Bucket=BUCKET, Key=aborted.original_name, UploadId=aborted.s3_upload_id)

    assert uploads_expire(now=timezone.now() + timedelta(days=2)) == 2
    assert not Upload.objects.exists()
    assert multipart_uploads(s3) == [] and keys(s3) == []


def test_a_bad_checksum_in_s3_counts_nothing_across_parts_and_tails(s3, alice):
    """The checksum is verified after the bytes went to S3: a failed PATCH may have sent parts
    and a tail, and still the next PATCH continues from the acknowledged bytes."""
    data = os.urandom(6 * MiB + 100)
    upload = upload_create(owner=alice, length=len(data), filename="checked.mp4", title="Checked")

    def send(start: int, end: int, digest_of: bytes | None = None):
        chunk = data[start:end]
        checksum = Checksum("sha256", hashlib.sha256(chunk if digest_of is None else digest_of).digest())
        return upload_append(owner=alice, key=upload.key, offset=start, content_length=len(chunk), chunks=[chunk],
                             checksum=checksum)

    assert send(0, 1000).offset == 1000  # a tail
    for start, end in ((1000, 5 * MiB + 500), (5 * MiB + 500, len(data))):  # a whole part; the last part
        with pytest.raises(DomainError) as refused:
            send(start, end, digest_of=b"other bytes")
        assert refused.value.code == Code.CHECKSUM_MISMATCH
        assert Upload.objects.get().offset == start and not Video.objects.exists()
        send(start, end)
    video = Video.objects.get()
    assert s3.get_object(Bucket=BUCKET, Key=video.original)["Body"].read() == data
    assert multipart_uploads(s3) == [] and keys(s3) == [video.original]


def test_a_completed_s3_upload_whose_video_cannot_be_made_leaves_no_object(s3, alice):
    data = os.urandom(1000)
    upload = upload_create(owner=alice, length=len(data), filename="late.mp4", title="Late")
    Video.objects.create(id=upload.video_id, owner=alice, title="in the way")  # the insert fails
    with pytest.raises(IntegrityError):
        upload_append(owner=alice, key=upload.key, offset=0, content_length=len(data), chunks=[data])
    assert keys(s3) == [], "the multipart upload was completed, and its object taken back"
    assert (Upload.objects.get().offset, Upload.objects.get().completed_at) == (0, None)
