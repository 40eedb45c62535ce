"""The OpenAPI schema at /core/api/schema/, and the API fuzzed from it: no input makes a 500."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from drf_spectacular.drainage import GENERATOR_STATS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from tests.web.api.test_videos import VIDEO_KEYS, make_video

VIDEO_PATHS = {
    "/core/api/videos/": {"get", "post"},
    "/core/api/videos/{video_id}/": {"get", "patch", "delete"},
    "/core/api/videos/{video_id}/reprocess/": {"post"},
    "/core/api/auth/token/": {"post"},
}
PRACTICE_PATHS = {
    "/core/api/spaces/": {"get", "post"},
    "/core/api/spaces/{space_id}/": {"get", "delete"},
    "/core/api/spaces/join/": {"post"},
    "/core/api/spaces/{space_id}/members/{username}/": {"patch", "delete"},
    "/core/api/exercises/": {"get", "post"},
    "/core/api/exercises/{exercise_id}/": {"get", "patch", "delete"},
    "/core/api/exercises/{exercise_id}/replies/": {"get", "post"},
    "/core/api/videos/{video_id}/comments/": {"get", "post"},
    "/core/api/comments/{comment_id}/": {"patch", "delete"},
    "/core/api/notifications/": {"get"},
    "/core/api/notifications/read/": {"post"},
    "/core/api/videos/{video_id}/loops/": {"get", "post"},
    "/core/api/videos/{video_id}/loops/{loop_id}/": {"get", "patch", "delete"},
}
# Where the API's own error shape is asserted on every 4xx the fuzzer provokes.
JSON_ERROR_PREFIXES = tuple({"/".join(path.split("/")[:4]) for path in [*VIDEO_PATHS, *PRACTICE_PATHS]})


@pytest.mark.django_db
def test_the_schema_describes_the_video_api(client):
    GENERATOR_STATS.reset()  # warnings are collected per generation; count only this one
    response = client.get("/core/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path, methods in VIDEO_PATHS.items():
        assert methods <= set(schema["paths"][path]), path
    video = schema["components"]["schemas"]["Video"]["properties"]
    assert set(video) == VIDEO_KEYS
    assert set(schema["components"]["schemas"]["Rendition"]["properties"]) == {
        "label", "width", "height", "url", "size_bytes",
    }
    for path, methods in PRACTICE_PATHS.items():
        assert methods <= set(schema["paths"][path]), path
    components = schema["components"]["schemas"]
    assert set(components["Space"]["properties"]) == {"id", "name", "owner", "role", "members", "invite_url"}
    assert set(components["Exercise"]["properties"]) >= {
        "id", "space", "title", "instructions", "video", "created_by", "created_at", "replies", "answered",
    }
    assert set(components["Reply"]["properties"]) == {"id", "exercise", "author", "video", "note", "created_at"}
    assert set(components["Comment"]["properties"]) == {
        "id", "video", "author", "text", "at", "until", "video_reply", "created_at",
    }
    assert set(components["Notification"]["properties"]) == {"id", "kind", "text", "url", "created_at", "read"}
    assert set(components["Loop"]["properties"]) == {"id", "video", "name", "a", "b", "created_at"}
    assert video["fps"] == {"type": "number", "format": "double", "nullable": True, "readOnly": True}
    assert "PaginatedExerciseList" in components and "PaginatedCommentList" in components
    upload = schema["paths"]["/core/api/videos/"]["post"]["requestBody"]["content"]
    assert set(upload) == {"multipart/form-data"}
    noisy = [m for m in [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
             if any(word in m for word in ("videos", "serializers", "auth", "spaces", "exercises", "comments",
                                           "notifications", "loops"))]
    assert noisy == [], "the API's views and serializers generate without warnings"


@pytest.fixture
def api_schema(transactional_db, clean_redis):
    # transactional_db: the WSGI app closes connections between requests the way a server
    # does, which a test wrapped in one transaction cannot survive.
    return schemathesis.openapi.from_wsgi("/core/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="alice-secret-1")


@pytest.fixture
def token(alice) -> str:
    return Token.objects.create(user=alice).key


def pinned(strategy, video_id: str):
    """Half the cases aim at Alice's real video, so bodies are judged, not just ids refused."""
    def pin(case):
        case.path_parameters = {**(case.path_parameters or {}), "video_id": video_id}
        return case

    return st.one_of(strategy, strategy.map(pin))


def test_no_request_makes_the_api_answer_500(api_schema, token, alice):
    # Operations are walked by hand: schemathesis' pytest plugin does not run under pytest 9.
    failures, seen = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        if "{video_id}" in operation.path:
            strategy = pinned(strategy, make_video(alice, "private").id)

        @given(case=strategy)
        @settings(max_examples=10, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case) -> None:
            response = case.call(headers={"Authorization": f"Token {token}"})
            seen.append((case.method, case.path, response.status_code))
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text[:500]}"
            if response.status_code >= 400 and case.path.startswith(JSON_ERROR_PREFIXES):
                assert isinstance(response.json().get("error"), str), f"{where}: {response.text[:500]}"

        try:
            fuzz()
        except AssertionError as exc:
            failures.append(str(exc))
    assert failures == []
    assert {(method, path) for method, path, _ in seen} >= {
        (method.upper(), path) for path, methods in {**VIDEO_PATHS, **PRACTICE_PATHS}.items() for method in methods
    }, "every video and practice operation was called"


