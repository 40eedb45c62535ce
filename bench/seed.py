"""Rows and files the read benchmarks serve, written straight through the ORM and storage."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

from django.core.files.storage import default_storage
from django.utils import timezone

from bench.users import bench_user
from domain.videos.models import Rendition, Video, new_video_id

LADDER = (("360p", 640, 360), ("720p", 1280, 720))


def library(count: int) -> list[Video]:
    """`count` ready videos of the bench user, half public and half private (signed URLs), each
    with a poster and two renditions; any earlier ones are removed first."""
    owner = bench_user()
    Video.objects.filter(owner=owner).delete()
    now = timezone.now()
    videos = [
        Video(id=new_video_id(), owner=owner, title=f"Scale practice {i}", description="Slow, then fast.",
              visibility=Video.Visibility.PUBLIC if i % 2 else Video.Visibility.PRIVATE,
              status=Video.Status.READY, progress=100, duration=60.0, width=1280, height=720,
              created_at=now - timedelta(minutes=i), processed_at=now - timedelta(minutes=i))
        for i in range(count)
    ]
    for video in videos:
        video.poster = f"{video.storage_prefix}poster.jpg"
        video.original = f"{video.storage_prefix}original.mp4"
    Video.objects.bulk_create(videos)
    Rendition.objects.bulk_create(
        Rendition(video=video, label=label, width=w, height=h, file=f"{video.storage_prefix}{label}.mp4",
                  size_bytes=1_000_000)
        for video in videos for label, w, h in LADDER
    )
    return videos


def rendition_file(video: Video, source: Path) -> str:
    """`source` stored as the video's 720p rendition; its storage name."""
    name = f"{video.storage_prefix}720p.mp4"
    path = Path(default_storage.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return name
