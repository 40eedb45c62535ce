from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.authtoken.views import obtain_auth_token

from web.api import comments, exercises, loops, notifications, spaces, uploads, videos
from web.health import api as health_api

urlpatterns = [
    path("health/reports/", health_api.report_list_view, name="api-health-reports"),
    path("uploads/", uploads.UploadCollection.as_view(), name="api-uploads"),
    path("uploads/<slug:key>", uploads.UploadResource.as_view(), name="api-upload"),
    path("auth/token/", obtain_auth_token, name="api-auth-token"),
    path("videos/", videos.video_list_view, name="api-videos"),
    path("videos/<str:video_id>/", videos.video_detail_view, name="api-video"),
    path("videos/<str:video_id>/reprocess/", videos.video_reprocess_view, name="api-video-reprocess"),
    path("videos/<str:video_id>/comments/", comments.comment_list_view, name="api-video-comments"),
    path("videos/<str:video_id>/loops/", loops.loop_list_view, name="api-video-loops"),
    path("videos/<str:video_id>/loops/<int:loop_id>/", loops.loop_detail_view, name="api-video-loop"),
    path("comments/<int:comment_id>/", comments.comment_detail_view, name="api-comment"),
    path("spaces/", spaces.space_list_view, name="api-spaces"),
    path("spaces/join/", spaces.space_join_view, name="api-space-join"),
    path("spaces/<int:space_id>/", spaces.space_detail_view, name="api-space"),
    path("spaces/<int:space_id>/members/<str:username>/", spaces.member_view, name="api-space-member"),
    path("exercises/", exercises.exercise_list_view, name="api-exercises"),
    path("exercises/<int:exercise_id>/", exercises.exercise_detail_view, name="api-exercise"),
    path("exercises/<int:exercise_id>/replies/", exercises.reply_list_view, name="api-exercise-replies"),
    path("notifications/", notifications.notification_list_view, name="api-notifications"),
    path("notifications/read/", notifications.notification_read_view, name="api-notifications-read"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
