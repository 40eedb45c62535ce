"""A view that logs, at a URL shaped like the videos API's, for the log-context test."""

from __future__ import annotations

import logging

from django.http import HttpResponse
from django.urls import path

logger = logging.getLogger("practika.test")


def logs_a_line(request, video_id: str):
    request.user.is_authenticated  # the view resolves the user, as any view that checks access does
    logger.info("watching")
    return HttpResponse("ok")


urlpatterns = [path("videos/<str:video_id>/", logs_a_line)]
