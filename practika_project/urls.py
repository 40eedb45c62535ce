from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("web.accounts.urls")),
    path("core/api/", include("web.api.urls")),
    path("core/health/", include("web.health.urls")),
    path("core/metrics/", include("web.metrics.urls")),
    path("media/", include("web.media.urls")),
    path("", include("web.pages.urls")),
]

# Every error page goes through web/errors.py, which renders it whatever else is broken.
handler400 = "web.errors.bad_request"
handler403 = "web.errors.permission_denied"
handler404 = "web.errors.not_found"
handler500 = "web.errors.server_error"
