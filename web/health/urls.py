from __future__ import annotations

from django.urls import path

from web.health import views

urlpatterns = [
    path("", views.health_view, name="health"),
    path("live/", views.live_view, name="health-live"),
]
