"""The one table from a domain error's code to an HTTP status, and the JSON it is answered with."""

from __future__ import annotations

import json

import pytest

from domain.errors import Code, DomainError
from web.api.errors import STATUS, domain_error_response, json_exception_handler


@pytest.mark.parametrize("code", list(Code))
def test_every_code_has_an_error_status_and_none_is_a_500(code):
    assert code in STATUS
    assert 400 <= STATUS[code] < 600 and STATUS[code] != 500


def test_the_api_handler_answers_a_domain_error_with_its_sentence_and_status():
    response = json_exception_handler(DomainError(Code.BUSY, "Retry in a moment."), context={})
    assert (response.status_code, response.data) == (423, {"error": "Retry in a moment."})


def test_outside_drf_the_same_error_has_the_same_answer():
    response = domain_error_response(DomainError(Code.QUOTA_EXCEEDED, "Over your quota."))
    assert (response.status_code, json.loads(response.content)) == (413, {"error": "Over your quota."})


@pytest.mark.django_db
def test_a_json_body_past_the_servers_limit_is_a_413_with_a_sentence(story, settings):
    from domain.spaces.models import Comment
    from tests.practice import signed_in
    from web.api.errors import BODY_TOO_LARGE

    body = json.dumps({"text": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE, "at": 1})
    response = signed_in(story.coach).post(f"/core/api/videos/{story.reply_video.pk}/comments/", body,
                                           content_type="application/json")
    assert (response.status_code, response.json()) == (413, {"error": BODY_TOO_LARGE})
    assert not Comment.objects.exists()
    page = signed_in(story.coach).post("/spaces/", "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
                                       content_type="application/x-www-form-urlencoded")
    assert page.status_code == 400, "a page's form past the limit stays Django's 400"
