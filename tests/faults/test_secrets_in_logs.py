"""Secrets and tokens never reach the logs of web, worker or beat."""

from __future__ import annotations

import re
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
