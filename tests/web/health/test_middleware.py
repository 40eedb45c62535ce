"""The liveness probe is answered before sessions, the host check, CSRF, auth and routing."""

from __future__ import annotations

import pytest
from django.core.exceptions import MiddlewareNotUsed

from web.health.middleware import LivenessMiddleware

pytestmark = pytest.mark.django_db

LIVE = "/core/health/live/"


def test_a_probe_is_answered_whatever_host_it_asks_for(client):
    # A container's HEALTHCHECK asks 127.0.0.1, which an operator's ALLOWED_HOSTS need not list.
    response = client.get(LIVE, HTTP_HOST="10.1.2.3:5000")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.get("/core/health/", HTTP_HOST="10.1.2.3:5000").status_code == 400


def test_a_probe_sets_up_no_session_or_user(client):
    response = client.get(LIVE)
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")
    assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_probe_still_gets_the_headers_of_every_response(client):
    response = client.get(LIVE, HTTP_X_REQUEST_ID="probe-0001-abcdef")
    assert response["X-Request-ID"] == "probe-0001-abcdef"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_only_get_is_answered(client):
    assert client.post(LIVE).status_code == 405


def test_every_other_path_goes_through_the_whole_stack(client):
    assert client.get("/core/health/live").status_code == 301  # CommonMiddleware's APPEND_SLASH
    response = client.get("/core/health/")
    assert hasattr(response.wsgi_request, "session") and hasattr(response.wsgi_request, "user")


@pytest.mark.urls("tests.ops.log_urls")
def test_a_urlconf_without_the_probe_leaves_the_middleware_out():
    with pytest.raises(MiddlewareNotUsed):
        LivenessMiddleware(lambda request: None)
