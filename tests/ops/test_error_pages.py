"""Error pages render whatever else is broken, and production web will not start without static.

Production names every asset through collectstatic's manifest ({% static %} with the manifest
storage raises for a name it lacks). A web started without it answered 500 on every page, and its
500 page raised too, re-raised by every middleware layer up to gunicorn's bare error.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.db import connections
from django.test import Client

from domain.videos.models import Video
from tests.conftest import free_port, wait_http

MANIFEST_STORAGE = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}


@pytest.fixture
def manifest_missing_entries(settings, tmp_path):
    """Production's static storage over a manifest that lacks the pages' stylesheet and icon, as
    after a deploy that added them without collecting again."""
    (tmp_path / "staticfiles.json").write_text(json.dumps(
        {"paths": {"pages/common.js": "pages/common.0123456789ab.js"}, "version": "1.1", "hash": "0123456789ab"}
    ))
    settings.STATIC_ROOT = str(tmp_path)
    settings.STORAGES = {**settings.STORAGES, "staticfiles": MANIFEST_STORAGE}


@pytest.fixture
def client_without_exceptions() -> Client:
    # A view's exception becomes the 500 page, as under gunicorn, instead of failing the test.
    return Client(raise_request_exception=False)


def looped_public_file(owner, media_root) -> str:
    """A public video's file the media view cannot open for a reason it does not expect: a 500."""
    video = Video.objects.create(owner=owner, title="looped", visibility=Video.Visibility.PUBLIC)
    broken = media_root / "videos" / video.id / "loop.mp4"
    broken.parent.mkdir(parents=True)
    broken.symlink_to(broken)
    return f"/media/videos/{video.id}/loop.mp4"


@pytest.mark.django_db
def test_every_error_page_renders_when_the_manifest_lacks_its_assets(
    manifest_missing_entries, client_without_exceptions, django_user_model, media_root
):
    client = client_without_exceptions
    member = django_user_model.objects.create_user("member", password="pw-member-123")
    pages = {
        "/no/such/page/": (404, "Not found"),
        looped_public_file(member, media_root): (500, "Something went wrong"),
        # A page that names its assets through the manifest fails, and its 500 page still renders.
        "/accounts/login/": (500, "Something went wrong"),
    }
    for path, (status, heading) in pages.items():
        response = client.get(path)
        assert response.status_code == status and heading in response.content.decode(), path
        assert 'href="/static/pages/practika.css"' in response.content.decode(), path
    assert client.get("/", HTTP_HOST="not-an-allowed-host.example").status_code == 400
    client.force_login(member)
    forbidden = client.get("/status/")
    assert forbidden.status_code == 403 and "Not allowed" in forbidden.content.decode()
    csrf = Client(enforce_csrf_checks=True, raise_request_exception=False).post("/accounts/logout/")
    assert csrf.status_code == 403 and "security token" in csrf.content.decode()


@pytest.mark.django_db
def test_under_core_the_error_answers_stay_json(manifest_missing_entries, client_without_exceptions):
    response = client_without_exceptions.get("/core/no-such-endpoint/")
    assert response.status_code == 404 and response.json() == {"error": "Not found."}
    response = client_without_exceptions.get("/core/api/videos/", HTTP_HOST="not-an-allowed-host.example")
    assert response.status_code == 400 and response.json() == {"error": "The request could not be understood."}


@pytest.mark.django_db(transaction=True)
def test_with_the_database_gone_a_signed_in_visitor_still_gets_a_404_page(
    client_without_exceptions, django_user_model, monkeypatch
):
    """The 404 page's menu needs the user, who needs the database: a plain page answers instead."""
    client = client_without_exceptions
    client.force_login(django_user_model.objects.create_user("dora", password="pw-dora-12345"))
    connection = connections["default"]
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", str(free_port()))
    try:
        response = client.get("/no/such/page/")
    finally:
        connection.close()
    assert response.status_code == 404 and "<h1>Not found</h1>" in response.content.decode()


@pytest.mark.slow
def test_production_web_refuses_to_start_without_collected_static(processes, production_env, tmp_path):
    empty = tmp_path / "static"
    empty.mkdir()
    env = {**production_env, "STATIC_ROOT": str(empty), "PORT": str(free_port()), "WEB_CONCURRENCY": "1"}
    web = processes("web", **env)
    code = web.popen.wait(120)
    assert code != 0 and "run collectstatic" in web.output(), web.output()[-3000:]


@pytest.mark.slow
def test_production_web_with_collected_static_serves_its_pages(processes, production_env):
    port = free_port()
    processes("web", **production_env, PORT=str(port), WEB_CONCURRENCY="1")
    wait_http(f"http://127.0.0.1:{port}/core/health/live/", timeout=60)
    https = {"X-Forwarded-Proto": "https"}
    login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", headers=https, timeout=10)
    missing = requests.get(f"http://127.0.0.1:{port}/no/such/page/", headers=https, timeout=10)
    assert login.status_code == 200 and missing.status_code == 404 and "Not found" in missing.text
