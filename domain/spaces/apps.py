from __future__ import annotations

from django.apps import AppConfig


class SpacesConfig(AppConfig):
    name = "domain.spaces"
    label = "spaces"
