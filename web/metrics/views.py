from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from web.api.authentication import accepts_api_token
from web.metrics.collector import PractikaCollector
from web.metrics.instruments import REGISTRY

FORBIDDEN = (
    "Metrics need a staff session, a staff API token (Authorization: Token <key>) "
    "or Authorization: Bearer <METRICS_TOKEN>."
)


def allowed(request) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


def scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # every gunicorn worker's counters, added up
    else:
        registry.register(REGISTRY)
    registry.register(PractikaCollector())
    return registry


@require_GET
@never_cache
@accepts_api_token
def metrics_view(request):
    if not allowed(request):
        return JsonResponse({"error": FORBIDDEN}, status=403)
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
