from __future__ import annotations

from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "domain.videos"
    label = "videos"

    def ready(self) -> None:
        from domain.videos import changes

        changes.connect(self.get_model("Video"), self.get_model("Rendition"))
