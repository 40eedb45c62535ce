"""Sign-in throttled after repeated failures, uploads throttled per user, storage quota."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from domain.uploads.models import Upload
from domain.uploads.services import UPLOAD_TOO_MANY_UNFINISHED
from domain.videos.models import Video
from domain.videos.services import QUOTA_EXCEEDED
from web.security import LOGIN_THROTTLED, UploadRateThrottle

pytestmark = pytest.mark.django_db

# Two clients as the web sees them: direct (development, NUM_PROXIES=0) or behind Heroku's router,
# whose own address is REMOTE_ADDR and which appends the client's to X-Forwarded-For.
ATTACKER, OWNER, ROUTER = "203.0.113.7", "198.51.100.9", "10.1.2.3"


@pytest.fixture(autouse=True)
def empty_cache(redis_url):
    cache.clear()  # throttle counters live in the cache (this test run's own Redis db)
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    """Sign-ins by the dozen: the throttle does not care how slow the password hash is."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def bob():
    return get_user_model().objects.create_user("bob", password="staple of the battery")


@pytest.fixture
def admin():
    """Staff and admin accounts are the ones worth locking out: their names are no secret either."""
    return get_user_model().objects.create_superuser("root", password="correct horse battery")


def token_for(client: Client, username: str, password: str):
    return client.post("/core/api/auth/token/", {"username": username, "password": password})


def page_login(client: Client, username: str, password: str) -> bool:
    client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_the_token_endpoint_refuses_an_account_after_repeated_failures(client, settings, alice, bob):
    settings.AXES_FAILURE_LIMIT = 3
    assert token_for(client, "alice", "correct horse battery").status_code == 200
    assert [token_for(client, "alice", "guess").status_code for _ in range(3)] == [400, 400, 429]
    refused = token_for(client, "alice", "correct horse battery")
    assert refused.status_code == 429 and refused.json()["error"].startswith(LOGIN_THROTTLED)
    assert int(refused["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # The login page and the API share the count of this client; another account is not affected.
    assert not page_login(Client(), "alice", "correct horse battery")
    assert token_for(client, "bob", "staple of the battery").status_code == 200


def test_the_login_page_refuses_an_account_after_repeated_failures(settings, alice):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        assert not page_login(Client(), "alice", "guess")
    refused = Client().post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert refused.status_code == 429 and LOGIN_THROTTLED in refused.content.decode()
    assert "_auth_user_id" not in refused.wsgi_request.session
    cache.clear()  # the window passed
    assert page_login(Client(), "alice", "correct horse battery")


# Each way in: (sign in, whether it worked, whether it was refused as throttled).
def _page(client: Client, username: str, password: str):
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session, response.status_code == 429


def _admin(client: Client, username: str, password: str):
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password,
                                                           "next": "/admin/"})
    return "_auth_user_id" in client.session, response.status_code == 429


def _token(client: Client, username: str, password: str):
    response = token_for(client, username, password)
    return response.status_code == 200, response.status_code == 429


SIGN_INS = pytest.mark.parametrize("sign_in", [_page, _admin, _token], ids=["login-page", "admin", "api-token"])


@SIGN_INS
def test_a_strangers_guesses_never_lock_the_owner_out(sign_in, admin):
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(10):  # LOGIN_MAX_FAILURES
        assert not sign_in(attacker, "root", "guess")[0]
    assert sign_in(Client(REMOTE_ADDR=OWNER), "root", "correct horse battery") == (True, False)
    assert sign_in(attacker, "root", "correct horse battery") == (False, True), "the guessing client is refused"


@SIGN_INS
def test_behind_the_router_only_the_hop_it_appended_names_the_client(sign_in, settings, admin):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}

    def via_router(forged: str = "") -> Client:
        return Client(REMOTE_ADDR=ROUTER, HTTP_X_FORWARDED_FOR=f"{forged}, {ATTACKER}" if forged else ATTACKER)

    for i in range(10):  # a new first hop every time, the owner's own address among them
        assert not sign_in(via_router(forged=f"192.0.2.{i}" if i else OWNER), "root", "guess")[0]
    owner = Client(REMOTE_ADDR=ROUTER, HTTP_X_FORWARDED_FOR=OWNER)
    assert sign_in(owner, "root", "correct horse battery") == (True, False)
    assert sign_in(via_router(forged=OWNER), "root", "correct horse battery") == (False, True)


@pytest.fixture
def cache_down(empty_cache):
    """Redis refusing connections; put back before empty_cache's own teardown clears the real one."""
    from django.test import override_settings

    from tests.conftest import free_port

    dead = {"BACKEND": "practika_project.cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}
    with override_settings(CACHES={"default": dead}):
        yield


def test_signing_in_works_while_the_cache_is_down(settings, cache_down, alice):
    settings.AXES_FAILURE_LIMIT = 1
    assert not page_login(Client(), "alice", "guess")
    assert token_for(Client(), "alice", "guess").status_code == 400
    assert page_login(Client(), "alice", "correct horse battery"), "no throttling rather than no sign-in"
    assert token_for(Client(), "alice", "correct horse battery").status_code == 200


def upload(client: Client, size: int = 100):
    return client.post("/core/api/videos/", {"title": "t", "file": ContentFile(b"\0" * size, name="v.mp4")})


def test_uploads_are_throttled_per_user(monkeypatch, alice, bob):
    monkeypatch.setattr(UploadRateThrottle, "rate", "3/hour", raising=False)
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    assert [upload(alice_client).status_code for _ in range(3)] == [201, 201, 201]
    throttled = upload(alice_client)
    assert throttled.status_code == 429 and re.search(r"throttled|try again|available", throttled.json()["error"], re.I)
    assert alice_client.get("/core/api/videos/").status_code == 200, "reading is never throttled"
    assert upload(bob_client).status_code == 201


def test_the_storage_quota_refuses_an_upload_past_it(settings, media_root, alice, bob):
    settings.MAX_USER_STORAGE_BYTES = 1000
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    assert upload(alice_client, 600).status_code == 201
    refused = upload(alice_client, 600)
    assert refused.status_code == 413
    assert refused.json()["error"] == QUOTA_EXCEEDED.format(quota=0)
    stored = [p for p in media_root.rglob("*") if p.is_file()]
    assert len(stored) == 1, f"the refused upload left files: {stored}"
    assert upload(bob_client, 600).status_code == 201


def tus_create(client: Client, length: int):
    meta = "filename " + base64.b64encode(b"v.mp4").decode()
    return client.post("/core/api/uploads/", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(length),
                                                      "Upload-Metadata": meta})


def test_resumable_uploads_share_the_throttle_and_the_quota(settings, monkeypatch, alice):
    monkeypatch.setattr(UploadRateThrottle, "rate", "2/hour", raising=False)
    settings.MAX_USER_STORAGE_BYTES = 1000
    client = Client()
    client.force_login(alice)
    over = tus_create(client, 5000)
    assert over.status_code == 413 and over.json()["error"] == QUOTA_EXCEEDED.format(quota=0)
    assert tus_create(client, 500).status_code == 201
    assert tus_create(client, 500).status_code == 429, "creations past the rate are throttled"


def test_unfinished_resumable_uploads_count_against_the_quota(settings, alice):
    """Their declared length is reserved from creation: sixty unfinished 2 GiB uploads no longer
    fit in a 10 GiB quota."""
    settings.MAX_USER_STORAGE_BYTES = 1000
    client = Client()
    client.force_login(alice)
    first = tus_create(client, 600)
    assert first.status_code == 201
    refused = tus_create(client, 600)
    assert refused.status_code == 413 and refused.json()["error"] == QUOTA_EXCEEDED.format(quota=0)
    assert upload(client, 600).status_code == 413, "a multipart upload cannot take the reserved room either"
    assert upload(client, 400).status_code == 201

    # An abandoned upload gives its room back; one past its expiry no longer holds any.
    assert client.delete(first["Location"], headers={"Tus-Resumable": "1.0.0"}).status_code == 204
    Video.objects.filter(owner=alice).delete()
    assert tus_create(client, 600).status_code == 201
    Upload.objects.update(updated_at=timezone.now() - timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS + 1))
    assert tus_create(client, 600).status_code == 201


def test_unfinished_uploads_are_capped_per_user(settings, alice, bob):
    settings.MAX_UNFINISHED_UPLOADS = 2
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    urls = [tus_create(alice_client, 10)["Location"] for _ in range(2)]
    refused = tus_create(alice_client, 10)
    assert refused.status_code == 403
    assert refused.json()["error"] == UPLOAD_TOO_MANY_UNFINISHED.format(limit=2)
    assert tus_create(bob_client, 10).status_code == 201, "the cap is per user"

    # A finished upload is no longer unfinished: the slot is free again.
    finished = alice_client.generic("PATCH", urls[0], b"x" * 10, content_type="application/offset+octet-stream",
                                    headers={"Tus-Resumable": "1.0.0", "Upload-Offset": "0"})
    assert finished.status_code == 204
    assert tus_create(alice_client, 10).status_code == 201
