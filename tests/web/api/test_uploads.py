"""tus 1.0.0 at /core/api/uploads/ against a live server, driven by the unchanged tuspy and
tus-js-client clients, plus the protocol's error cases with plain HTTP.

Story: Alice uploads her practice clips; Bob must not touch her uploads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from tusclient import client as tus_client

from domain.uploads.models import Upload
from domain.uploads.services import (
    CHECKSUM_MISMATCH,
    UPLOAD_CHUNK_TOO_LARGE,
    UPLOAD_LENGTH_CHANGED,
)
from domain.videos.models import Video
from tests.conftest import free_port, need, wait_http
from web.api.uploads import (
    BAD_DEFER_LENGTH,
    BAD_LENGTH,
    BAD_OFFSET,
    CHUNK_MAX_HEADER,
    CHUNK_SIZE_HEADER,
    OFFSET_CONTENT_TYPE,
    VIDEO_ID_HEADER,
)
from web.headers import BAD_CONTENT_LENGTH

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"Tus-Resumable": "1.0.0"}
CSRF_SECRET = "s" * 32  # any 32 letters are a well-formed unmasked secret
TUS_JS_DIR = Path(__file__).resolve().parents[2] / "tus_js"


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-practises-scales")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="bob-practises-chords")


def token_headers(user) -> dict[str, str]:
    return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}", **TUS}


@pytest.fixture
def uploads_url(live_server) -> str:
    return f"{live_server.url}/core/api/uploads/"


@pytest.fixture
def clip_bytes() -> bytes:
    # The server stores bytes; what they are is the worker's business.
    return os.urandom(300 * 1024 + 123)


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(uploads_url: str, user, length: int, **meta: str) -> requests.Response:
    meta = meta or {"filename": "scales.mp4", "title": "Scales"}
    return requests.post(
        uploads_url, headers={**token_headers(user), "Upload-Length": str(length), "Upload-Metadata": metadata(**meta)}
    )


def patch(url: str, user, offset: int, body: bytes, **headers: str) -> requests.Response:
    return requests.patch(
        url,
        data=body,
        headers={
            **token_headers(user),
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": str(offset),
            **headers,
        },
    )


def absolute(uploads_url: str, response: requests.Response) -> str:
    assert response.status_code == 201, response.text
    return requests.compat.urljoin(uploads_url, response.headers["Location"])


def server_offset(url: str, user) -> int:
    return int(requests.head(url, headers=token_headers(user)).headers["Upload-Offset"])


def stored_original(upload_url: str) -> Path:
    from django.core.files.storage import default_storage

    upload = Upload.objects.get(key=upload_url.rstrip("/").rsplit("/", 1)[1])
    return Path(default_storage.path(upload.original_name))


def test_options_tells_clients_what_the_server_supports(uploads_url, settings):
    response = requests.options(uploads_url)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) >= {
        "creation", "creation-defer-length", "termination", "checksum", "expiration"
    }
    assert response.headers["Tus-Max-Size"] == str(settings.MAX_UPLOAD_BYTES)
    assert "sha1" in response.headers["Tus-Checksum-Algorithm"].split(",")
    assert int(response.headers[CHUNK_SIZE_HEADER]) == settings.UPLOAD_CHUNK_BYTES


@pytest.mark.parametrize("most, told", [(64 * 2**20, 64 * 2**20), (20 * 2**20, 16 * 2**20), (2**20, 8 * 2**20)])
def test_the_largest_chunk_is_a_whole_number_of_chunks_and_at_least_one(uploads_url, settings, most, told):
    settings.UPLOAD_CHUNK_BYTES, settings.UPLOAD_CHUNK_MAX_BYTES = 8 * 2**20, most
    assert int(requests.options(uploads_url).headers[CHUNK_MAX_HEADER]) == told


def test_tuspy_uploads_a_clip_and_the_pending_video_exists(uploads_url, alice, clip_bytes, settings, tmp_path):
    settings.UPLOAD_CHUNK_BYTES = 100 * 1024
    chunk = int(requests.options(uploads_url).headers[CHUNK_SIZE_HEADER])
    source = tmp_path / "scales.mp4"
    source.write_bytes(clip_bytes)
    client = tus_client.TusClient(uploads_url, headers={"Authorization": token_headers(alice)["Authorization"]})
    uploader = client.uploader(
        file_path=str(source),
        chunk_size=chunk,
        metadata={"filename": "scales.mp4", "title": "Scales in C", "visibility": "unlisted"},
        upload_checksum=True,
    )
    uploader.upload()

    video_id = uploader.request.response_headers[VIDEO_ID_HEADER.lower()]
    head = requests.head(uploader.url, headers=token_headers(alice))
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == head.headers["Upload-Length"] == str(len(clip_bytes))
    assert head.headers[VIDEO_ID_HEADER] == video_id
    assert head.headers["Cache-Control"] == "no-store"
    assert "Upload-Expires" not in head.headers

    video = Video.objects.get(id=video_id)
    assert (video.owner, video.title, video.visibility, video.status) == (alice, "Scales in C", "unlisted", "pending")
    assert (video.original_filename, video.size) == ("scales.mp4", len(clip_bytes))
    assert video.original.startswith(f"videos/{video_id}/")
    assert stored_original(uploader.url).read_bytes() == clip_bytes


def test_a_cut_upload_resumes_from_the_servers_offset(uploads_url, alice, clip_bytes, tmp_path):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    sent = 100_000
    # The connection drops in the middle of a PATCH: headers promise everything, part arrives.
    cut_patch(url, alice, 0, len(clip_bytes), clip_bytes[:sent])
    for _ in range(100):  # the server notices the drop and commits what it got
        if server_offset(url, alice) == sent:
            break
        time.sleep(0.1)
    assert server_offset(url, alice) == sent

    # A new client that only knows the stored URL asks the server where to go on.
    source = tmp_path / "scales.mp4"
    source.write_bytes(clip_bytes)
    client = tus_client.TusClient(uploads_url, headers={"Authorization": token_headers(alice)["Authorization"]})
    uploader = client.uploader(file_path=str(source), url=url, chunk_size=64 * 1024)
    assert uploader.offset == sent
    uploader.upload()

    assert stored_original(url).read_bytes() == clip_bytes
    assert Video.objects.filter(id=uploader.request.response_headers[VIDEO_ID_HEADER.lower()]).exists()


def test_delete_abandons_the_upload_and_its_bytes(uploads_url, alice, clip_bytes):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    assert patch(url, alice, 0, clip_bytes[:1000]).status_code == 204
    original = stored_original(url)
    assert original.stat().st_size == 1000

    response = requests.delete(url, headers=token_headers(alice))
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert not original.exists()
    assert requests.head(url, headers=token_headers(alice)).status_code == 404
    assert not Video.objects.exists()


def test_a_wrong_offset_is_a_conflict(uploads_url, alice, clip_bytes):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    assert patch(url, alice, 0, clip_bytes[:1000]).status_code == 204
    response = patch(url, alice, 500, clip_bytes[500:1500])
    assert response.status_code == 409
    assert "1000" in response.json()["error"]
    assert server_offset(url, alice) == 1000


def test_a_bad_checksum_is_460_and_nothing_counts(uploads_url, alice, clip_bytes):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    response = patch(url, alice, 0, clip_bytes[:1000], **{"Upload-Checksum": f"sha1 {wrong}"})
    assert response.status_code == 460
    assert response.json() == {"error": CHECKSUM_MISMATCH}
    assert server_offset(url, alice) == 0

    right = base64.b64encode(hashlib.sha1(clip_bytes[:1000]).digest()).decode()
    assert patch(url, alice, 0, clip_bytes[:1000], **{"Upload-Checksum": f"sha1 {right}"}).status_code == 204
    assert server_offset(url, alice) == 1000
    assert stored_original(url).read_bytes() == clip_bytes[:1000]


def test_an_upload_over_the_limit_is_refused_before_any_byte(uploads_url, alice, settings):
    settings.MAX_UPLOAD_BYTES = 10_000
    response = create(uploads_url, alice, 10_001)
    assert response.status_code == 413
    assert "upload limit" in response.json()["error"]
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert not Upload.objects.exists()


def test_patch_needs_the_offset_content_type(uploads_url, alice, clip_bytes):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    response = patch(url, alice, 0, clip_bytes[:10], **{"Content-Type": "application/octet-stream"})
    assert response.status_code == 415
    assert "error" in response.json()


def test_requests_without_tus_resumable_are_refused(uploads_url, alice):
    headers = {k: v for k, v in token_headers(alice).items() if k != "Tus-Resumable"}
    response = requests.post(uploads_url, headers={**headers, "Upload-Length": "10", "Upload-Metadata": metadata(filename="a.mp4")})
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"


def test_anonymous_callers_get_json_errors(uploads_url):
    response = requests.post(uploads_url, headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(filename="a.mp4")})
    assert response.status_code in (401, 403)
    assert "error" in response.json()
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_bobs_cannot_see_or_touch_alices_upload(uploads_url, alice, bob, clip_bytes):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    assert requests.head(url, headers=token_headers(bob)).status_code == 404
    assert patch(url, bob, 0, clip_bytes[:10]).status_code == 404
    assert requests.delete(url, headers=token_headers(bob)).status_code == 404
    assert server_offset(url, alice) == 0


def test_metadata_is_checked(uploads_url, alice):
    assert create(uploads_url, alice, 10, title="no filename").status_code == 400
    assert create(uploads_url, alice, 10, filename="a.mp4", visibility="secret").status_code == 400
    assert create(uploads_url, alice, 10, filename="a\x00.mp4").status_code == 400
    broken = {**token_headers(alice), "Upload-Length": "10", "Upload-Metadata": "filename not-base64!"}
    assert requests.post(uploads_url, headers=broken).status_code == 400
    assert requests.post(uploads_url, headers={**broken, "Upload-Length": "\u00b2"}).status_code == 400
    response = create(uploads_url, alice, 10, filename='Tom & "Jerry" <i>.MOV')
    assert response.status_code == 201
    assert Upload.objects.get().title == 'Tom & "Jerry" <i>'
    assert Upload.objects.get().original_name.endswith("/original.mov")


def test_session_requests_need_the_csrf_token_and_token_requests_do_not(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    headers = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_LENGTH": "10", "HTTP_UPLOAD_METADATA": metadata(filename="a.mp4")}
    refused = browser.post("/core/api/uploads/", **headers)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]

    # The upload page sends the csrftoken cookie back as X-CSRFToken, as Django documents.
    browser.cookies["csrftoken"] = CSRF_SECRET
    assert browser.post("/core/api/uploads/", HTTP_X_CSRFTOKEN=CSRF_SECRET, **headers).status_code == 201

    token_client = Client(enforce_csrf_checks=True)
    key = Token.objects.create(user=alice).key
    assert token_client.post("/core/api/uploads/", HTTP_AUTHORIZATION=f"Token {key}", **headers).status_code == 201


def wait_until_locked(timeout: float = 30) -> None:
    """Until another connection holds an upload's row lock, waiting for the body. Asked of
    PostgreSQL's lock table, not by taking the lock: a probe that locks the row itself would make
    the request it waits for answer 423. Only SELECT ... FOR UPDATE takes ROW SHARE on the
    uploads table, and only a PATCH does that; the lock stays whatever the PATCH queried last
    (the last one checks the quota before reading its body)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND mode = 'RowShareLock'"
                " AND pid <> pg_backend_pid()"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [Upload._meta.db_table],
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the slow PATCH never took the upload's row lock")


def test_a_second_patch_while_one_is_writing_is_told_to_retry(uploads_url, alice, clip_bytes, postgres):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as slow:
        slow.sendall(
            (
                f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
                f"Authorization: {token_headers(alice)['Authorization']}\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                f"Content-Length: 2000\r\nConnection: close\r\n\r\n"
            ).encode()
            + clip_bytes[:1000]
        )
        wait_until_locked()  # the slow PATCH holds the upload, mid-body
        assert patch(url, alice, 0, clip_bytes[:10]).status_code == 423
        slow.sendall(clip_bytes[1000:2000])
        assert b" 204 " in slow.recv(4096).split(b"\r\n", 1)[0] + b" "
    assert server_offset(url, alice) == 2000
    assert stored_original(url).read_bytes() == clip_bytes[:2000]


def test_an_expired_upload_is_gone_for_the_client(uploads_url, alice, clip_bytes):
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    assert requests.head(url, headers=token_headers(alice)).headers["Upload-Expires"]
    Upload.objects.update(updated_at=timezone.now() - timedelta(days=2))
    assert requests.head(url, headers=token_headers(alice)).status_code == 410
    assert patch(url, alice, 0, clip_bytes[:10]).status_code == 410


@pytest.fixture
def tus_js() -> Path:
    need("npm (Node.js) for tus-js-client", shutil.which("npm") is not None)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TUS_JS_DIR, check=True, capture_output=True, timeout=300)
    return TUS_JS_DIR


def tus_js_upload(tus_js: Path, uploads_url: str, user, source: Path, title: str, *mode: str) -> dict:
    result = subprocess.run(
        ["node", "upload.mjs", uploads_url, token_headers(user)["Authorization"], str(source), title, *mode],
        cwd=tus_js,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_tus_js_client_uploads_in_chunks(tus_js, uploads_url, alice, clip_bytes, settings, tmp_path):
    settings.UPLOAD_CHUNK_BYTES = 64 * 1024
    source = tmp_path / "arpeggio.webm"
    source.write_bytes(clip_bytes)
    report = tus_js_upload(tus_js, uploads_url, alice, source, "Arpeggios")
    assert report["chunkSize"] == 64 * 1024
    assert report["patches"] == -(-len(clip_bytes) // (64 * 1024))
    video = Video.objects.get(id=report["videoId"])
    assert (video.title, video.original_filename, video.size) == ("Arpeggios", "arpeggio.webm", len(clip_bytes))
    assert stored_original(report["url"]).read_bytes() == clip_bytes


def test_tus_js_client_streams_an_upload_whose_length_it_learns_at_the_end(
    tus_js, uploads_url, alice, clip_bytes, settings, tmp_path
):
    settings.UPLOAD_CHUNK_BYTES = 64 * 1024
    source = tmp_path / "take.webm"
    source.write_bytes(clip_bytes)
    report = tus_js_upload(tus_js, uploads_url, alice, source, "A take", "deferred")
    creation, *patches = report["lengths"]
    assert creation == ["POST", None, "1"], "created with Upload-Defer-Length: 1"
    assert [length for _, length, _ in patches[:-1]] == [None] * (len(patches) - 1)
    assert patches[-1] == ["PATCH", str(len(clip_bytes)), None], "the length came with the last PATCH"
    video = Video.objects.get(id=report["videoId"])
    assert (video.title, video.original_filename, video.size) == ("A take", "take.webm", len(clip_bytes))
    assert stored_original(report["url"]).read_bytes() == clip_bytes


def create_deferred(uploads_url: str, user, **headers: str) -> requests.Response:
    return requests.post(uploads_url, headers={
        **token_headers(user), "Upload-Defer-Length": "1", "Upload-Metadata": metadata(filename="take.webm"), **headers
    })


def test_a_deferred_upload_answers_defer_length_until_a_patch_declares_it(uploads_url, alice, clip_bytes):
    url = absolute(uploads_url, create_deferred(uploads_url, alice))
    assert patch(url, alice, 0, clip_bytes[:1000]).status_code == 204
    head = requests.head(url, headers=token_headers(alice))
    assert (head.headers["Upload-Offset"], head.headers["Upload-Defer-Length"]) == ("1000", "1")
    assert "Upload-Length" not in head.headers

    declared = patch(url, alice, 1000, clip_bytes[1000:2000], **{"Upload-Length": str(len(clip_bytes))})
    assert declared.status_code == 204
    head = requests.head(url, headers=token_headers(alice))
    assert head.headers["Upload-Length"] == str(len(clip_bytes))
    assert "Upload-Defer-Length" not in head.headers

    changed = patch(url, alice, 2000, clip_bytes[2000:], **{"Upload-Length": str(len(clip_bytes) - 1)})
    assert (changed.status_code, changed.json()) == (400, {"error": UPLOAD_LENGTH_CHANGED.format(length=len(clip_bytes))})
    done = patch(url, alice, 2000, clip_bytes[2000:])
    assert done.status_code == 204
    assert Video.objects.get(id=done.headers[VIDEO_ID_HEADER]).size == len(clip_bytes)
    assert stored_original(url).read_bytes() == clip_bytes


def test_an_interrupted_deferred_upload_is_finished_with_the_bytes_that_arrived(uploads_url, alice, clip_bytes):
    """A recording whose tab closed mid-PATCH: the server keeps what arrived, and an empty PATCH
    declaring that many bytes makes it a video."""
    url = absolute(uploads_url, create_deferred(uploads_url, alice))
    assert patch(url, alice, 0, clip_bytes[:50_000]).status_code == 204
    cut_patch(url, alice, 50_000, 100_000, clip_bytes[50_000:80_000])
    for _ in range(100):
        if server_offset(url, alice) == 80_000:
            break
        time.sleep(0.1)
    assert server_offset(url, alice) == 80_000
    done = patch(url, alice, 80_000, b"", **{"Upload-Length": "80000"})
    assert done.status_code == 204
    assert Video.objects.get(id=done.headers[VIDEO_ID_HEADER]).size == 80_000
    assert stored_original(url).read_bytes() == clip_bytes[:80_000]


def test_a_deferred_upload_meets_the_upload_limit_as_its_bytes_arrive(uploads_url, alice, clip_bytes, settings):
    settings.MAX_UPLOAD_BYTES = 2000
    url = absolute(uploads_url, create_deferred(uploads_url, alice))
    assert patch(url, alice, 0, clip_bytes[:1500]).status_code == 204
    over = patch(url, alice, 1500, clip_bytes[1500:2001])
    assert over.status_code == 413 and "upload limit" in over.json()["error"]
    assert patch(url, alice, 1500, b"", **{"Upload-Length": "2001"}).status_code == 413
    assert server_offset(url, alice) == 1500
    # Deleting it (tus termination) is how the page discards a take.
    assert requests.delete(url, headers=token_headers(alice)).status_code == 204
    assert not Upload.objects.exists()


@pytest.mark.parametrize("headers", [
    {"Upload-Defer-Length": "0"},
    {"Upload-Defer-Length": "yes"},
    {"Upload-Defer-Length": "1", "Upload-Length": "10"},
])
def test_a_creation_must_defer_its_length_with_1_and_only_then(uploads_url, alice, headers):
    response = create_deferred(uploads_url, alice, **headers)
    assert (response.status_code, response.json()) == (400, {"error": BAD_DEFER_LENGTH})
    assert not Upload.objects.exists()


def cut_patch(url: str, user, offset: int, promised: int, body: bytes) -> None:
    """A PATCH whose connection drops after `body`, though its headers promised more."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: {token_headers(user)['Authorization']}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
            f"Content-Length: {promised}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)


@pytest.mark.slow
def test_through_gunicorn_a_cut_upload_resumes(processes, alice, clip_bytes, tmp_path):
    port = free_port()
    # Two workers that share nothing but the database and MEDIA_ROOT, as dynos would.
    processes("web", PORT=str(port), WEB_CONCURRENCY="2", GUNICORN_THREADS="2")
    wait_http(f"http://127.0.0.1:{port}/core/health/live/")
    uploads_url = f"http://127.0.0.1:{port}/core/api/uploads/"
    url = absolute(uploads_url, create(uploads_url, alice, len(clip_bytes)))
    cut_patch(url, alice, 0, len(clip_bytes), clip_bytes[:150_000])
    for _ in range(100):
        if server_offset(url, alice) == 150_000:
            break
        time.sleep(0.1)
    assert server_offset(url, alice) == 150_000

    source = tmp_path / "scales.mp4"
    source.write_bytes(clip_bytes)
    client = tus_client.TusClient(uploads_url, headers={"Authorization": token_headers(alice)["Authorization"]})
    uploader = client.uploader(file_path=str(source), url=url, chunk_size=16 * 1024, upload_checksum=True)
    uploader.upload()
    assert stored_original(url).read_bytes() == clip_bytes
    assert Video.objects.get(id=uploader.request.response_headers[VIDEO_ID_HEADER.lower()]).status == "pending"


HUGE_NUMBER = "9" * 5000  # past the 4,300 digits int() accepts


def test_numbers_too_long_for_int_are_a_400_sentence_not_a_500(alice):
    client = Client()
    headers = token_headers(alice)
    meta = metadata(filename="a.mp4")
    created = client.post("/core/api/uploads/", headers={**headers, "Upload-Length": HUGE_NUMBER, "Upload-Metadata": meta})
    assert (created.status_code, created.json()) == (400, {"error": BAD_LENGTH})

    url = client.post("/core/api/uploads/", headers={**headers, "Upload-Length": "10", "Upload-Metadata": meta})["Location"]
    chunk = {"content_type": OFFSET_CONTENT_TYPE, "headers": {**headers, "Upload-Offset": "0"}}
    offset = client.generic("PATCH", url, b"x", **{**chunk, "headers": {**headers, "Upload-Offset": HUGE_NUMBER}})
    assert (offset.status_code, offset.json()) == (400, {"error": BAD_OFFSET})
    # gunicorn refuses such a Content-Length itself; other servers pass it on.
    length = client.generic("PATCH", url, b"x", CONTENT_LENGTH=HUGE_NUMBER, **chunk)
    assert (length.status_code, length.json()) == (400, {"error": BAD_CONTENT_LENGTH})
    assert Upload.objects.get().offset == 0


def answer_to_headers_alone(url: str, head: str) -> tuple[int, dict]:
    """Send a request's head and no byte of its body; the JSON answer the server gives meanwhile.
    The read times out (a failure) if the server waits for the body instead."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.partition(b"\r\n\r\n")[2]) < int(
            re.search(rb"Content-Length: (\d+)", reply, re.I)[1]
        ):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status, _, body = reply.partition(b"\r\n\r\n")
    return int(status.split(b" ", 2)[1]), json.loads(body)


def test_a_patch_over_the_advertised_maximum_is_refused_before_its_body(uploads_url, alice, settings):
    """The row lock is held while a body streams in: a PATCH may carry Practika-Upload-Chunk-Max
    at most, and a larger one is told so before a byte of it is read."""
    settings.UPLOAD_CHUNK_BYTES, settings.UPLOAD_CHUNK_MAX_BYTES = 64 * 1024, 256 * 1024
    url = absolute(uploads_url, create(uploads_url, alice, 10 * 1024 * 1024))
    most = int(requests.head(url, headers=token_headers(alice)).headers[CHUNK_MAX_HEADER])
    assert most == 256 * 1024
    path = urlsplit(url).path
    status, body = answer_to_headers_alone(url, (
        f"PATCH {path} HTTP/1.1\r\nHost: localhost\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: {token_headers(alice)['Authorization']}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
        f"Content-Length: {most + 1}\r\nConnection: close\r\n\r\n"
    ))
    assert (status, body) == (413, {"error": UPLOAD_CHUNK_TOO_LARGE.format(limit=most)})
    assert patch(url, alice, 0, b"x" * most).status_code == 204, "exactly the maximum is fine"
