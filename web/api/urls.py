from __future__ import annotations

from django.urls import include, path

from web.health import api as health_api

urlpatterns = [
    path("health/reports/", health_api.report_list, name="api-health-reports"),
    path("uploads/", include("web.uploads.urls")),
]
