from __future__ import annotations

import os
import tempfile

from django.conf import settings
from django.http import JsonResponse
from django.urls import path

CHUNK = 1024 * 1024


def bare_json(request):
    return JsonResponse({"status": "ok"})


def raw_upload(request):
    """The request body, 1 MiB at a time, into a file: the most an upload view can do. The run
    removes the files afterwards, outside the timed request."""
    size = 0
    fd, name = tempfile.mkstemp(dir=settings.BENCH_UPLOAD_DIR, prefix="raw-")
    with os.fdopen(fd, "wb") as out:
        while chunk := request.read(CHUNK):
            out.write(chunk)
            size += len(chunk)
    return JsonResponse({"size": size}, status=201)


urlpatterns = [
    path("core/health/live/", bare_json),
    path("bare/json/", bare_json),
    path("bare/upload", raw_upload),  # no slash: `curl -T URL/` appends the file name
]
