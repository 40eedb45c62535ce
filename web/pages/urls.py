from __future__ import annotations

from django.urls import path

from web.pages import compare, practice, status, views

urlpatterns = [
    path("", views.library_view, name="library"),
    path("videos/upload/", views.upload_view, name="upload"),
    path("videos/<str:video_id>/", views.watch_view, name="watch"),
    path("videos/<str:video_id>/edit/", views.video_edit_view, name="video-edit"),
    path("videos/<str:video_id>/delete/", views.video_delete_view, name="video-delete"),
    path("videos/<str:video_id>/reprocess/", views.video_reprocess_view, name="video-reprocess"),
    path("spaces/", practice.spaces_view, name="spaces"),
    path("spaces/<int:space_id>/", practice.space_view, name="space"),
    path("spaces/<int:space_id>/exercises/", practice.exercise_create_view, name="exercise-create"),
    path("spaces/<int:space_id>/members/<str:username>/", practice.member_view, name="space-member"),
    path("join/<str:code>/", practice.join_view, name="join"),
    path("exercises/<int:exercise_id>/", practice.exercise_view, name="exercise"),
    path("exercises/<int:exercise_id>/replies/", practice.reply_create_view, name="reply-create"),
    path("notifications/", practice.notifications_view, name="notifications"),
    path("notifications/read/", practice.notifications_read_view, name="notifications-read"),
    path("notifications/<int:notification_id>/", practice.notification_open_view, name="notification-open"),
    path("compare/", compare.compare_view, name="compare"),
    path("status/", status.status_view, name="status"),
]
