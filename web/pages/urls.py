from __future__ import annotations

from django.urls import path

from web.pages import status, views

urlpatterns = [
    path("", views.library_view, name="library"),
    path("videos/upload/", views.upload_view, name="upload"),
    path("videos/<str:video_id>/", views.watch_view, name="watch"),
    path("videos/<str:video_id>/edit/", views.video_edit_view, name="video-edit"),
    path("videos/<str:video_id>/delete/", views.video_delete_view, name="video-delete"),
    path("videos/<str:video_id>/reprocess/", views.video_reprocess_view, name="video-reprocess"),
    path("status/", status.status_view, name="status"),
]
