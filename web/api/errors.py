"""Every API error is JSON: {"error": "<human sentence>", ...} with a 4xx status."""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework.views import exception_handler


def _sentence(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        text = _sentence(value)
        return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
    if isinstance(detail, list):
        return _sentence(detail[0]) if detail else "Invalid request."
    return str(detail)


def json_exception_handler(exc, context):
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
