"""The API fuzzed from its OpenAPI schema as anonymous, owner, other user and staff: no 500, and
nobody but Alice ever sees a trace of her private video, also where it is the demonstration of an
exercise in her space, with her comment on it."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from domain.spaces import services as spaces
from domain.videos.models import Video

pytestmark = pytest.mark.slow

SECRET_TITLE = "alice-private-title-7f3a"


@pytest.fixture
def api_schema(transactional_db, clean_redis):
    return schemathesis.openapi.from_wsgi("/core/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def people(django_user_model):
    alice = django_user_model.objects.create_user("alice")
    video = Video.objects.create(owner=alice, title=SECRET_TITLE, visibility="private", status="ready",
                                 original="videos/x/original.mp4", duration=2.0)
    space = spaces.space_create(owner=alice, name=SECRET_TITLE)
    exercise = spaces.exercise_create(space_id=space.pk, author=alice, title=SECRET_TITLE, video_id=video.pk)
    comment = spaces.comment_create(video=video, author=alice, text=SECRET_TITLE, at=1)
    ids = {"video_id": video.id, "space_id": space.pk, "exercise_id": exercise.pk, "comment_id": comment.pk}
    headers = {"anonymous": {}}
    for role, user in (("owner", alice), ("other", django_user_model.objects.create_user("bob")),
                       ("staff", django_user_model.objects.create_user("sam", is_staff=True))):
        headers[role] = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    return video, ids, headers


@pytest.mark.parametrize("role", ["anonymous", "owner", "other", "staff"])
def test_no_role_makes_the_api_answer_500_or_leak(api_schema, people, role):
    video, ids, headers = people
    failures, seen = [], set()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        pinned = {name: value for name, value in ids.items() if f"{{{name}}}" in operation.path}
        if pinned:
            strategy = st.one_of(strategy, strategy.map(lambda case, pinned=pinned: _pin(case, pinned)))

        @given(case=strategy)
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            response = case.call(headers=headers[role])
            seen.add((case.method.upper(), case.path, any(f"/{v}/" in case.formatted_path for v in ids.values())))
            where = f"{role} {case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
            if role in ("anonymous", "other"):
                assert SECRET_TITLE not in response.text, f"{where} leaked Alice's private video"
            if role != "owner":
                for item in _videos_in(response):
                    assert item.get("id") != video.id or item.get("original_url") is None, f"{where}: original_url"

        try:
            fuzz()
        except AssertionError as exc:
            failures.append(str(exc)[:800])
    assert failures == []
    for method, path in (("GET", "/core/api/videos/{video_id}/"), ("PATCH", "/core/api/videos/{video_id}/"),
                         ("DELETE", "/core/api/videos/{video_id}/"), ("POST", "/core/api/videos/{video_id}/reprocess/"),
                         ("GET", "/core/api/videos/{video_id}/comments/"), ("GET", "/core/api/spaces/{space_id}/"),
                         ("GET", "/core/api/exercises/{exercise_id}/"), ("PATCH", "/core/api/comments/{comment_id}/")):
        assert (method, path, True) in seen, f"{method} {path} was never aimed at Alice's objects"


def _pin(case, pinned: dict):
    case.path_parameters = {**(case.path_parameters or {}), **pinned}
    return case


def _videos_in(response) -> list[dict]:
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    return [body, *(v for v in body.get("results") or [] if isinstance(v, dict))]
