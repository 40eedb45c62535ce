from __future__ import annotations

from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "web.videos"
    label = "videos"

    def ready(self) -> None:
        from web.videos import changes

        changes.connect()
