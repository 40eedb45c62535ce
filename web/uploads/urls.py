from __future__ import annotations

from django.urls import path

from web.uploads import views

urlpatterns = [
    path("", views.UploadCollection.as_view(), name="api-uploads"),
    path("<slug:key>", views.UploadResource.as_view(), name="api-upload"),
]
