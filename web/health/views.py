from __future__ import annotations

import time

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from web.api.authentication import accepts_api_token
from web.health.checks import ENDPOINT_CHECKS, overall_status, public_view, run_checks


@require_GET
@never_cache
def live(request):
    """The process answers: nothing outside it is touched."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
@accepts_api_token
def health(request):
    started = time.perf_counter()
    results = run_checks(ENDPOINT_CHECKS)
    status = overall_status(results)
    staff = request.user.is_authenticated and request.user.is_staff
    body = {
        "status": status,
        "version": settings.VERSION,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "checks": public_view(results, staff=staff),
    }
    return JsonResponse(body, status=503 if status == "down" else 200)
