"""Notifications: listed newest first, marked read by id or all at once."""

from __future__ import annotations

import pytest

from tests.practice import signed_in

pytestmark = pytest.mark.django_db

NOTIFICATION_KEYS = {"id", "kind", "text", "url", "created_at", "read"}


def test_the_coach_hears_of_joins_and_replies_newest_first(story):
    body = signed_in(story.coach).get("/core/api/notifications/").json()
    assert [(n["kind"], n["read"]) for n in body["results"]] == [("reply", False), ("joined", False), ("joined", False)]
    assert set(body["results"][0]) == NOTIFICATION_KEYS
    assert body["results"][0]["url"] == f"/exercises/{story.exercise.pk}/"
    assert signed_in(story.stranger).get("/core/api/notifications/").json()["count"] == 0


def test_marking_read_by_id_touches_only_mine(story):
    coach = signed_in(story.coach)
    first = coach.get("/core/api/notifications/").json()["results"][0]["id"]
    stolen = signed_in(story.stranger).post("/core/api/notifications/read/", {"ids": [first]},
                                          content_type="application/json")
    assert stolen.json() == {"marked": 0, "unread": 0}
    mine = coach.post("/core/api/notifications/read/", {"ids": [first]}, content_type="application/json")
    assert mine.json() == {"marked": 1, "unread": 2}
    every = coach.post("/core/api/notifications/read/", {"all": True}, content_type="application/json")
    assert every.json() == {"marked": 2, "unread": 0}


def test_marking_nothing_is_a_400(story):
    response = signed_in(story.coach).post("/core/api/notifications/read/", {}, content_type="application/json")
    assert response.status_code == 400 and "ids" in response.json()["error"]
