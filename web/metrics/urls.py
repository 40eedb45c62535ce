from __future__ import annotations

from django.urls import path

from web.metrics import views

urlpatterns = [path("", views.metrics_view, name="metrics")]
