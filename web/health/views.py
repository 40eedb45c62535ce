from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from domain.health.checks import (
    endpoint_run,
    endpoint_snapshot,
    overall_status,
    public_view,
)
from web.api.authentication import accepts_api_token


@require_GET
@never_cache
def live_view(request):
    """The process answers: nothing outside it is touched."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
@accepts_api_token
def health_view(request):
    """Staff get a live run with every detail; everyone else the shared latest run (checks.py)."""
    staff = request.user.is_authenticated and request.user.is_staff
    run = endpoint_run() if staff else endpoint_snapshot()
    status = overall_status(run["checks"])
    body = {
        "status": status,
        "version": settings.VERSION,
        "duration_ms": run["duration_ms"],
        "checks": public_view(run["checks"], staff=staff),
    }
    return JsonResponse(body, status=503 if status == "down" else 200)
