"""Every API error is JSON: {"error": "<human sentence>", ...} with a 4xx status.

The one place a domain refusal (domain.errors.DomainError) becomes an HTTP status: the API's
exception handler, the tus views and the upload wrapper outside DRF all answer through it.
"""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework.response import Response
from rest_framework.views import exception_handler

from domain.errors import Code, DomainError

BODY_TOO_LARGE = "The request body is larger than this server accepts."

STATUS = {
    Code.INVALID: 400,
    Code.TOO_MANY: 403,
    Code.FORBIDDEN: 403,
    Code.NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.EXPIRED: 410,
    Code.TOO_LARGE: 413,
    Code.QUOTA_EXCEEDED: 413,
    Code.BUSY: 423,  # tus clients retry it
    Code.CHECKSUM_MISMATCH: 460,  # tus's checksum extension names this status
    Code.STORAGE_FULL: 507,
}


def _sentence(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        text = _sentence(value)
        return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
    if isinstance(detail, list):
        return _sentence(detail[0]) if detail else "Invalid request."
    return str(detail)


def json_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"error": str(exc)}, status=STATUS[exc.code])
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    body = {"error": _sentence(detail)}
    if isinstance(detail, dict) and set(detail) - {"detail"}:
        body["fields"] = detail
    response.data = body
    return response


def json_error(message: str, status: int, **extra) -> JsonResponse:
    """An error outside DRF's views (tus, media) in the same shape."""
    return JsonResponse({"error": message, **extra}, status=status)


def domain_error_response(exc: DomainError) -> JsonResponse:
    """A domain refusal answered outside DRF's views."""
    return json_error(str(exc), STATUS[exc.code])
