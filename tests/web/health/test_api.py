"""GET /core/api/health/reports/: staff only, the contract's shape, newest first, paged."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from domain.health.models import HealthReport

pytestmark = pytest.mark.django_db
URL = "/core/api/health/reports/"


@pytest.fixture
def reports():
    checks = {"database": {"ok": True, "latency_ms": 1.5}, "broker": {"ok": False, "latency_ms": 9.0, "error": "x"}}
    return [HealthReport.objects.create(status="degraded", duration_ms=12.5, checks=checks, period=p) for p in range(30)]


def test_staff_get_reports_newest_first_in_the_contract_shape(admin_client, reports):
    body = admin_client.get(URL).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 30 and body["previous"] is None and "page=2" in body["next"]
    first = body["results"][0]
    assert set(first) == {"id", "created_at", "status", "duration_ms", "checks"}
    assert first["id"] == reports[-1].pk
    assert first["checks"]["broker"] == {"ok": False, "latency_ms": 9.0, "error": "x"}


def test_the_second_page_holds_the_rest(admin_client, reports):
    first = admin_client.get(URL).json()["results"]
    second = admin_client.get(URL + "?page=2").json()
    assert len(first) + len(second["results"]) == 30
    assert {r["id"] for r in first}.isdisjoint(r["id"] for r in second["results"])
    assert second["next"] is None


def test_a_staff_token_works(client, admin_user, reports):
    token = Token.objects.create(user=admin_user)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_anyone_else_gets_a_json_refusal(client, django_user_model, reports):
    assert client.get(URL).status_code in (401, 403)
    # force_login: the sign-in throttle refuses authenticate() without a request to count it by.
    client.force_login(django_user_model.objects.create_user("bob", password="bob-secret-1"))
    response = client.get(URL)
    assert response.status_code == 403
    assert "error" in response.json()


def test_the_admin_lists_reports_read_only(admin_client, reports):
    response = admin_client.get("/admin/health/healthreport/")
    assert response.status_code == 200
    assert b"degraded" in response.content
    assert admin_client.get("/admin/health/healthreport/add/").status_code == 403
