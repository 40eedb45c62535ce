from __future__ import annotations

from django.urls import path

from web.media import views

urlpatterns = [
    path("<path:name>", views.serve, name="media"),
]
