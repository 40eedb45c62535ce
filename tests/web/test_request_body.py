"""Request bodies through the real web process (the Procfile's gunicorn with gunicorn.conf.py):
an answer given before the body is read closes the connection, so the client's next request on
its keep-alive connection works; a body that stalls loses its request and frees its upload.

Story: Alice uploads from a script with python-requests, one Session (one keep-alive connection)
for everything; her uplink sometimes stops in the middle of a chunk.
"""

from __future__ import annotations

import os
import socket
import time

import pytest
import requests
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.conftest import free_port, wait_http
from tests.web.api.test_uploads import TUS, alice, metadata  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The race (the server closes while the client already reuses the connection) is lost about one
# time in two or three: ten rounds of each case catch it.
ROUNDS = 10
BODY = os.urandom(1024 * 1024)  # far more than the 64 KiB gunicorn drains of an unread body
MAX_UPLOAD_BYTES = 2 * len(BODY)


@pytest.fixture
def web(processes) -> str:
    port = free_port()
    processes("web", PORT=str(port), WEB_CONCURRENCY="1", GUNICORN_THREADS="4", MAX_UPLOAD_BYTES=str(MAX_UPLOAD_BYTES),
              REQUEST_BODY_TIMEOUT="2")
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/core/health/live/")
    return base


def signed_in(user) -> dict[str, str]:
    """A browser session's cookie, without the csrftoken cookie a page would have set."""
    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def test_an_answer_before_the_body_closes_the_connection_and_the_next_request_works(web, alice):
    token = {"Authorization": f"Token {Token.objects.create(user=alice).key}"}
    created = requests.post(f"{web}/core/api/uploads/", headers={
        **TUS, **token, "Upload-Length": str(MAX_UPLOAD_BYTES), "Upload-Metadata": metadata(filename="a.mp4"),
    })
    upload = f"{web}{created.headers['Location']}"
    tus_patch = {**TUS, "Content-Type": "application/offset+octet-stream"}
    multipart = {"files": {"file": ("a.mp4", BODY)}, "data": {"title": "t"}}
    too_large = {"files": {"file": ("a.mp4", BODY * 3)}, "data": {"title": "t"}}
    cases = {
        "multipart, session without CSRF token: 403": (403, "post", f"{web}/core/api/videos/", {}, True, multipart),
        "multipart, anonymous: 401/403": ((401, 403), "post", f"{web}/core/api/videos/", {}, False, multipart),
        "multipart, Content-Length past MAX_UPLOAD_BYTES: 413": (413, "post", f"{web}/core/api/videos/", token, False, too_large),
        "tus PATCH, session without CSRF token: 403": (403, "patch", upload, {**tus_patch, "Upload-Offset": "0"}, True, {"data": BODY}),
        "tus PATCH, wrong offset: 409": (409, "patch", upload, {**tus_patch, **token, "Upload-Offset": "5"}, False, {"data": BODY}),
    }
    for case, (status, method, url, headers, session, body) in cases.items():
        for round_ in range(ROUNDS):
            client = requests.Session()
            if session:
                client.cookies.update(signed_in(alice))
            answer = getattr(client, method)(url, headers=headers, timeout=30, **body)
            assert answer.status_code in (status if isinstance(status, tuple) else (status,)), (case, answer.text)
            assert answer.json()["error"], case
            assert answer.headers["Connection"] == "close", case
            try:
                follow_up = client.get(f"{web}/core/health/live/", timeout=30)
            except requests.ConnectionError as exc:
                pytest.fail(f"{case}, round {round_ + 1}: the next request on the connection failed: {exc}")
            assert follow_up.status_code == 200, case

    # A request whose body was read to its end keeps its connection.
    client = requests.Session()
    kept = client.patch(upload, headers={**tus_patch, **token, "Upload-Offset": "0"}, data=BODY[:1000], timeout=30)
    assert (kept.status_code, kept.headers["Connection"]) == (204, "keep-alive")


def test_a_patch_whose_body_stalls_loses_the_request_and_frees_the_upload(web, alice):
    """REQUEST_BODY_TIMEOUT is 2 s here: the stalled PATCH keeps what arrived and lets go of the
    upload's row lock, so the client's next PATCH is answered, not 423 for as long as the stalled
    connection stays open."""
    token = {"Authorization": f"Token {Token.objects.create(user=alice).key}"}
    created = requests.post(f"{web}/core/api/uploads/", headers={
        **TUS, **token, "Upload-Length": "3000", "Upload-Metadata": metadata(filename="a.mp4"),
    })
    path = created.headers["Location"]
    url = f"{web}{path}"
    host, port = web.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as stalled:
        stalled.sendall((
            f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: {token['Authorization']}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Upload-Offset: 0\r\nContent-Length: 2000\r\n\r\n"
        ).encode() + BODY[:1000])
        # ...and nothing more, with the connection left open.
        for _ in range(300):
            offset = requests.head(url, headers={**TUS, **token}, timeout=30).headers["Upload-Offset"]
            if offset == "1000":
                break
            time.sleep(0.2)
        assert offset == "1000", "what arrived before the stall is kept"
        answer = stalled.recv(65536)
        assert b"Upload-Offset: 1000" in answer and b"Connection: close" in answer, answer

    done = requests.patch(url, headers={**TUS, **token, "Content-Type": "application/offset+octet-stream",
                                        "Upload-Offset": "1000"}, data=BODY[1000:3000], timeout=30)
    assert done.status_code == 204, done.text
    assert done.headers["Upload-Offset"] == "3000" and done.headers["Practika-Video-Id"]
