from __future__ import annotations

import time

from web.metrics.instruments import HTTP_DURATION, HTTP_REQUESTS, UPLOAD_BYTES

# Where video bytes arrive: multipart POSTs to the videos API and tus PATCHes.
UPLOAD_ROUTES = (("POST", "/core/api/videos/", "api"), ("PATCH", "/core/api/uploads/", "tus"))


def upload_route(method: str, path: str) -> str | None:
    for route_method, prefix, via in UPLOAD_ROUTES:
        if method == route_method and path.startswith(prefix):
            return via
    return None


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        HTTP_DURATION.labels(request.method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(request.method, str(response.status_code)).inc()
        via = upload_route(request.method, request.path)
        if via and 200 <= response.status_code < 300:
            UPLOAD_BYTES.labels(via).inc(int(request.META.get("CONTENT_LENGTH") or 0))
        return response
