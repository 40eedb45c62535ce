from __future__ import annotations

from practika_project.logging import clean_request_id, request_id_var


class RequestIdMiddleware:
    """Adopts Heroku's X-Request-ID (or makes one), logs under it and echoes it back."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = clean_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response
