"""Secrets and tokens never reach the logs of web, worker or beat."""

from __future__ import annotations

import re
import secrets
import socket
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from tests.faults.conftest import upload, user_token, wait_ready
from tests.media import make_clip

pytestmark = pytest.mark.slow

SECRET_KEY = "faults-secret-key-that-must-never-be-logged-0123456789abcdef"


def csrf_login(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    session.post(f"{base}/accounts/login/", data={"username": username, "password": password,
                 "csrfmiddlewaretoken": token}, headers={"Referer": f"{base}/accounts/login/"}, timeout=10)
    return session


def test_no_secret_or_token_appears_in_any_log(stack, tmp_path):
    env = {"SECRET_KEY": SECRET_KEY, "LOG_FORMAT": "json"}
    stack.web(**env)
    worker = stack.start("worker", **env)
    stack.start("beat", **env)
    token = user_token("alice")
    password = "alice" * 2

    # Failed and successful sign-ins, in the browser and through the API.
    csrf_login(stack.base, "alice", "wrong-password-also-secret")
    browser = csrf_login(stack.base, "alice", password)
    assert browser.cookies.get("sessionid"), "signing in failed"
    for attempt in ("wrong-password-also-secret", password):
        requests.post(f"{stack.base}/core/api/auth/token/", data={"username": "alice", "password": attempt}, timeout=10)

    response = upload(stack.base, token, make_clip(tmp_path / "c.mp4", seconds=1, width=160, height=120))
    video_id = response.json()["id"]
    wait_ready([video_id], 120)
    detail = requests.get(f"{stack.base}/core/api/videos/{video_id}/", headers={"Authorization": f"Token {token}"},
                          timeout=10).json()
    signed = detail["renditions"][0]["url"]
    assert requests.get(stack.base + signed, timeout=10).status_code == 200
    requests.get(f"{stack.base}/core/api/videos/nope/", headers={"Authorization": f"Token {token}"}, timeout=10)
    browser.get(f"{stack.base}/videos/{video_id}/", timeout=10)

    secrets = {
        "SECRET_KEY": SECRET_KEY,
        "password": password,
        "failed password": "wrong-password-also-secret",
        "API token": token,
        "session cookie": browser.cookies["sessionid"],
        "media URL signature": parse_qs(urlparse(signed).query)["s"][0],
    }
    logs = stack.logs_full()
    assert "POST /core/api/videos/" in logs and worker.output(), "the logs were not captured"
    leaked = [what for what, value in secrets.items() if value in logs]
    assert not leaked, f"found in the logs: {leaked}"


def malformed_request_line(base: str, target: str) -> None:
    """A request line without its HTTP version: gunicorn answers 400 and logs the line it got."""
    host, port = urlparse(base).hostname, urlparse(base).port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(f"GET {target}\r\n\r\n".encode())
        assert conn.recv(1024).startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_no_query_string_reaches_the_logs_of_a_404_or_a_500(stack, settings, media_root, log_format):
    """Django's request logger hands the whole request (its repr holds the full URL) to every
    handler on a 4xx or 5xx; gunicorn logs a bad request line as it came."""
    from django.contrib.auth import get_user_model

    from domain.videos.models import Video
    from web.media.signing import media_url

    stack.web(LOG_FORMAT=log_format, SECRET_KEY=settings.SECRET_KEY)
    owner = get_user_model().objects.create_user("query-owner")
    video = Video.objects.create(owner=owner, title="looped", visibility=Video.Visibility.PUBLIC)
    # A file the media view cannot open for a reason it does not expect: a 500.
    broken = media_root / "videos" / video.id / "loop.mp4"
    broken.parent.mkdir(parents=True)
    broken.symlink_to(broken)
    token = "tok" + secrets.token_hex(20)
    answers = {
        media_url(f"videos/{video.id}/missing.mp4", signed=True): 404,
        media_url(f"videos/{video.id}/loop.mp4", signed=True): 500,
        f"/no/such/page/?access_token={token}&next=/": 404,
        f"/media/videos/{video.id}/loop.mp4?token={token}": 500,
    }
    for url, status in answers.items():
        assert stack.get(url).status_code == status, url
    malformed_request_line(stack.base, f"/media/videos/{video.id}/loop.mp4?token={token}")
    stack.procs[0].stop()

    logs = stack.logs_full()
    assert "Not Found: /no/such/page/" in logs and f"Internal Server Error: /media/videos/{video.id}/loop.mp4" in logs
    assert "Invalid request from ip=" in logs, "gunicorn did not log the bad request line"
    signatures = [parse_qs(urlparse(url).query)["s"][0] for url in answers if "?e=" in url]
    leaked = [value for value in [token, *signatures] if value in logs]
    assert not leaked, f"found in the {log_format} logs: {leaked}\n{logs[-3000:]}"
