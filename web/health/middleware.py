"""The liveness probe answered before sessions, the host check, CSRF, auth and URL routing.

`/core/health/live/` touches nothing outside the process, and monitors and the container's
HEALTHCHECK ask it every few seconds: it has no use for the session, user or messages the
middleware below would set up for it (a third of what it cost, docs/PERFORMANCE.md, B7). Probes
from inside a container ask 127.0.0.1, which an operator's ALLOWED_HOSTS need not list; the
answer names no host, so answering before the host check is safe. The middleware above this one
still run: request id, metrics, logging context and the security headers.
"""

from __future__ import annotations

from django.core.exceptions import MiddlewareNotUsed
from django.urls import NoReverseMatch, reverse

from web.health.views import live_view


class LivenessMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response
        try:
            self.path = reverse("health-live")
        except NoReverseMatch:  # a URLconf without the probe (a test's own, say): nothing to answer
            raise MiddlewareNotUsed from None

    def __call__(self, request):
        if request.path_info == self.path:
            return live_view(request)
        return self.get_response(request)
