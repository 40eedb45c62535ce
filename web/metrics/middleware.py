from __future__ import annotations

import time
from http import HTTPStatus

from web.metrics.instruments import HTTP_DURATION, HTTP_REQUESTS, UPLOAD_BYTES

# Where video bytes arrive: multipart POSTs to the videos API and tus PATCHes.
UPLOAD_ROUTES = (("POST", "/core/api/videos/", "api"), ("PATCH", "/core/api/uploads/", "tus"))

# Every label value a client can choose is bounded: each distinct value is a time series that
# every scrape returns and Prometheus keeps, so made-up methods would otherwise grow them without
# end (gunicorn passes any upper-case token as a method). Methods outside RFC 9110 and PATCH
# count as OTHER; a status the app should never send counts as "other".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
OTHER_METHOD = "OTHER"
KNOWN_STATUSES = frozenset(str(status.value) for status in HTTPStatus)
OTHER_STATUS = "other"


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else OTHER_METHOD


def status_label(status_code: int) -> str:
    status = str(status_code)
    return status if status in KNOWN_STATUSES else OTHER_STATUS


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
        method = method_label(request.method)
        HTTP_DURATION.labels(method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(method, status_label(response.status_code)).inc()
        # The route label comes from UPLOAD_ROUTES alone, so it has two values at most.
        via = upload_route(request.method, request.path)
        if via and 200 <= response.status_code < 300:
            UPLOAD_BYTES.labels(via).inc(int(request.META.get("CONTENT_LENGTH") or 0))
        return response
