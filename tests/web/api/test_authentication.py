"""Token authentication: the hand-written lookup answers exactly as DRF's own class would."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from domain.videos.models import Video

pytestmark = pytest.mark.django_db


def get(client, token: str):
    return client.get("/core/api/videos/", HTTP_AUTHORIZATION=f"Token {token}")


def test_a_token_authenticates_its_user(client, django_user_model):
    alice = django_user_model.objects.create_user("alice")
    mine = Video.objects.create(owner=alice, title="Scales")  # private: listed to Alice alone
    response = get(client, Token.objects.create(user=alice).key)
    assert response.status_code == 200
    assert [v["id"] for v in response.json()["results"]] == [mine.id]


@pytest.mark.parametrize("case", ["unknown", "inactive", "deleted_token", "spaces"])
def test_a_token_that_is_not_good_is_a_json_403_with_drfs_sentence(client, django_user_model, case):
    user = django_user_model.objects.create_user("bob")
    token = Token.objects.create(user=user).key
    if case == "unknown":
        token = "0" * 40
    elif case == "inactive":
        user.is_active = False
        user.save()
    elif case == "deleted_token":
        Token.objects.filter(user=user).delete()
    elif case == "spaces":
        token = "a b"
    response = get(client, token)
    # Session authentication comes first, and it names no WWW-Authenticate scheme: DRF says 403.
    assert response.status_code == 403
    expected = {
        "unknown": "Invalid token.", "deleted_token": "Invalid token.", "inactive": "User inactive or deleted.",
        "spaces": "Invalid token header. Token string should not contain spaces.",
    }[case]
    assert response.json()["error"] == expected


# --- The same token on the plain views a staff monitor reads -----------------------------------
WHO = ("staff", "member", "bad", "none")


@pytest.fixture
def tokens(django_user_model) -> dict[str, str | None]:
    """A staff monitor's token, an ordinary member's, one that names nobody, and no header."""
    ops = django_user_model.objects.create_user("ops", is_staff=True)
    bob = django_user_model.objects.create_user("bob")
    return {"staff": Token.objects.create(user=ops).key, "member": Token.objects.create(user=bob).key,
            "bad": "0" * 40, "none": None}


def fetch(client, url: str, token: str | None):
    return client.get(url, **({"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}))


def assert_refused_as_the_api_refuses(response) -> None:
    assert response.status_code == 403 and response.json() == {"error": "Invalid token."}
    assert "Authorization" in response["Vary"]


@pytest.mark.parametrize("who", WHO)
def test_health_gives_a_staff_token_the_details(client, redis_url, tokens, who):
    response = fetch(client, "/core/health/", tokens[who])
    if who == "bad":
        return assert_refused_as_the_api_refuses(response)
    assert response.status_code == 200
    workers = response.json()["checks"]["workers"]  # no worker runs here: the check fails
    assert ("no Celery worker" in workers.get("error", "")) is (who == "staff")


@pytest.mark.parametrize(("who", "status"), [("staff", 200), ("member", 403), ("bad", 403), ("none", 302)])
def test_the_status_page_takes_a_staff_token(client, tokens, who, status):
    response = fetch(client, "/status/", tokens[who])
    if who == "bad":
        return assert_refused_as_the_api_refuses(response)
    assert response.status_code == status
    if who == "none":
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(("who", "status"), [("staff", 200), ("member", 403), ("bad", 403), ("none", 403)])
def test_metrics_take_a_staff_token_beside_the_scrape_token(client, tokens, who, status):
    from web.metrics.views import FORBIDDEN

    response = fetch(client, "/core/metrics/", tokens[who])
    if who == "bad":
        return assert_refused_as_the_api_refuses(response)
    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"].startswith("text/plain; version=")
    else:
        assert response.json() == {"error": FORBIDDEN}
