"""Token authentication: the hand-written lookup answers exactly as DRF's own class would."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from web.videos.models import Video

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
