"""The spaces API: create, list, open, join by code, change roles and remove members."""

from __future__ import annotations

import pytest
from django.test import Client

from domain.spaces.models import Membership, Space
from tests.practice import signed_in

pytestmark = pytest.mark.django_db

SPACE_KEYS = {"id", "name", "owner", "role", "members", "invite_url"}


def test_a_coach_creates_a_space_and_is_its_first_coach(django_user_model):
    client = signed_in(django_user_model.objects.create_user("carla"))
    response = client.post("/core/api/spaces/", {"name": "Cello class"}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SPACE_KEYS
    assert (body["name"], body["owner"], body["role"], body["members"]) == ("Cello class", "carla", "coach", 1)
    code = Space.objects.get().invite_code
    assert body["invite_url"] == f"http://testserver/join/{code}/"


def test_a_nameless_space_is_refused_with_a_sentence(django_user_model):
    client = signed_in(django_user_model.objects.create_user("carla"))
    response = client.post("/core/api/spaces/", {"name": ""}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"].startswith("name:")
    assert not Space.objects.exists()


def test_the_list_holds_only_my_spaces(story, django_user_model):
    signed_in(story.stranger).post("/core/api/spaces/", {"name": "Sam's band"}, content_type="application/json")
    body = signed_in(story.author).get("/core/api/spaces/").json()
    assert body["count"] == 1 and set(body) == {"count", "next", "previous", "results"}
    space = body["results"][0]
    assert (space["name"], space["role"], space["members"], space["invite_url"]) == ("Violin studio", "member", 3, None)


def test_joining_by_code_is_harmless_twice(story):
    client = signed_in(story.stranger)
    for _ in range(2):
        response = client.post("/core/api/spaces/join/", {"code": story.space.invite_code},
                               content_type="application/json")
        assert response.status_code == 200 and response.json()["role"] == "member"
    assert story.space.memberships.count() == 4
    wrong = client.post("/core/api/spaces/join/", {"code": "wrong"}, content_type="application/json")
    assert wrong.status_code == 404 and wrong.json() == {"error": "No space has this invite code."}


def test_a_stranger_finds_no_space(story):
    response = signed_in(story.stranger).get(f"/core/api/spaces/{story.space.pk}/")
    assert response.status_code == 404 and response.json() == {"error": "No such space."}


def test_a_coach_promotes_and_removes_members(story):
    coach = signed_in(story.coach)
    url = f"/core/api/spaces/{story.space.pk}/members/"
    promoted = coach.patch(f"{url}mia/", {"role": "coach"}, content_type="application/json")
    assert promoted.status_code == 200 and promoted.json() == {"username": "mia", "role": "coach"}
    assert coach.delete(f"{url}max/").status_code == 204
    assert not Membership.objects.filter(user=story.member).exists()
    assert coach.delete(f"{url}nobody/").json() == {"error": "No such member of this space."}


def test_members_may_not_change_roles_and_the_last_coach_stays(story):
    member = signed_in(story.member)
    url = f"/core/api/spaces/{story.space.pk}/members/"
    refused = member.patch(f"{url}max/", {"role": "coach"}, content_type="application/json")
    assert refused.status_code == 403 and refused.json() == {"error": "Only the coaches of this space can do that."}
    last = signed_in(story.coach).patch(f"{url}carla/", {"role": "member"}, content_type="application/json")
    assert last.status_code == 409 and "coach" in last.json()["error"]
    bad = signed_in(story.coach).patch(f"{url}mia/", {"role": "owner"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"].startswith("role:")


def test_a_coach_deletes_the_space(story):
    assert signed_in(story.member).delete(f"/core/api/spaces/{story.space.pk}/").status_code == 403
    assert signed_in(story.coach).delete(f"/core/api/spaces/{story.space.pk}/").status_code == 204
    assert not Space.objects.exists()


def test_anonymous_callers_are_refused(story):
    assert Client().get("/core/api/spaces/").status_code in (401, 403)
