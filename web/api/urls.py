from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authtoken.views import obtain_auth_token

from web.api import uploads, videos
from web.health import api as health_api

urlpatterns = [
    path("health/reports/", health_api.report_list_view, name="api-health-reports"),
    path("uploads/", uploads.UploadCollection.as_view(), name="api-uploads"),
    path("uploads/<slug:key>", uploads.UploadResource.as_view(), name="api-upload"),
    path("auth/token/", obtain_auth_token, name="api-auth-token"),
    path("videos/", videos.video_list_view, name="api-videos"),
    path("videos/<str:video_id>/", videos.video_detail_view, name="api-video"),
    path("videos/<str:video_id>/reprocess/", videos.video_reprocess_view, name="api-video-reprocess"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
