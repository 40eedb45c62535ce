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
