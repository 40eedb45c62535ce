from __future__ import annotations

from django.urls import path

from web.pages import status, views

urlpatterns = [
    path("", views.library, name="library"),
    path("videos/upload/", views.upload, name="upload"),
    path("videos/<str:video_id>/", views.watch, name="watch"),
    path("videos/<str:video_id>/edit/", views.video_edit, name="video-edit"),
    path("videos/<str:video_id>/delete/", views.video_remove, name="video-delete"),
    path("videos/<str:video_id>/reprocess/", views.video_retry, name="video-reprocess"),
    path("status/", status.status, name="status"),
]
