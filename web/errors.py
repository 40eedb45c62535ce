"""Error pages: JSON under /core/ (API and health), HTML everywhere else."""

from __future__ import annotations

from django.shortcuts import render

from web.api.errors import json_error


def _wants_json(request) -> bool:
    return request.path.startswith("/core/")


def not_found(request, exception=None):
    if _wants_json(request):
        return json_error("Not found.", 404)
    return render(request, "404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return json_error("Something went wrong on our side; it has been logged.", 500)
    return render(request, "500.html", status=500)
