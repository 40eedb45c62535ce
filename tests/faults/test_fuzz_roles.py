"""The API fuzzed from its OpenAPI schema as anonymous, owner, other user and staff: no 500, and
nobody but Alice ever sees a trace of her private video."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

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
                                 original="videos/x/original.mp4")
    headers = {"anonymous": {}}
    for role, user in (("owner", alice), ("other", django_user_model.objects.create_user("bob")),
                       ("staff", django_user_model.objects.create_user("sam", is_staff=True))):
        headers[role] = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    return video, headers


@pytest.mark.parametrize("role", ["anonymous", "owner", "other", "staff"])
def test_no_role_makes_the_api_answer_500_or_leak(api_schema, people, role):
    video, headers = people
    failures, seen = [], set()
    for result in api_schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        if "{video_id}" in operation.path:
            strategy = st.one_of(strategy, strategy.map(lambda case: _pin(case, video.id)))

        @given(case=strategy)
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            response = case.call(headers=headers[role])
            seen.add((case.method.upper(), case.path, f"/{video.id}/" in case.formatted_path))
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
                         ("DELETE", "/core/api/videos/{video_id}/"), ("POST", "/core/api/videos/{video_id}/reprocess/")):
        assert (method, path, True) in seen, f"{method} {path} was never aimed at Alice's video"


def _pin(case, video_id: str):
    case.path_parameters = {**(case.path_parameters or {}), "video_id": video_id}
    return case


def _videos_in(response) -> list[dict]:
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    return [body, *(v for v in body.get("results") or [] if isinstance(v, dict))]
