"""The compare page: two videos side by side under one set of controls (compare.js).

Each video opens by the watch page's rule (selectors.video_get_for): one the viewer may not
watch is the same 404. With a video missing the page asks for it among the viewer's own videos
and the public ones. `oa` and `ob` (seconds) are where each video's shared start lies, so a
link shows the two lined up as they were.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

from django.shortcuts import render
from django.urls import reverse

from domain.videos import selectors
from domain.videos.models import Video
from web.media.signing import video_hls_url
from web.pages.views import SPEEDS, _poster_url, _sources

# How many videos the chooser lists, newest first.
CHOICES = 100
LABELS = {"a": "First video", "b": "Second video"}


def compare_link(a: str | None = None, b: str | None = None, *, oa: float = 0, ob: float = 0) -> str:
    """/compare/?a=<id>&b=<id> (and the offsets when they are not 0): what other pages link to."""
    query = {key: value for key, value in (("a", a), ("b", b)) if value}
    query |= {key: f"{value:g}" for key, value in (("oa", oa), ("ob", ob)) if value}
    return reverse("compare") + ("?" + urlencode(query) if query else "")


def _offset(value: str | None) -> float:
    try:
        seconds = float(value or 0)
    except ValueError:
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


def _side(video: Video, offset: float) -> dict:
    sources, current = _sources(video, wanted=None)
    renditions = [{**s, "selected": s is current} for s in sources]
    return {
        "video": video, "poster": _poster_url(video), "current": current,
        "state": {"id": video.id, "fps": video.fps, "hls_url": video_hls_url(video=video),
                  "renditions": renditions, "duration": video.duration, "offset": offset},
    }


def compare_view(request):
    chosen = {key: request.GET.get(key) for key in ("a", "b")}
    videos = {key: selectors.video_get_for(user=request.user, video_id=value)
              for key, value in chosen.items() if value}
    if len(videos) < 2:
        listed = selectors.videos_visible_to(user=request.user).filter(status=Video.Status.READY)[:CHOICES]
        fields = [{"key": key, "label": label, "chosen": videos.get(key)} for key, label in LABELS.items()]
        return render(request, "pages/compare_choose.html", {"fields": fields, "choices": listed})
    sides = [{"key": key, **_side(videos[key], _offset(request.GET.get("o" + key)))} for key in ("a", "b")]
    return render(request, "pages/compare.html", {"sides": sides, "speeds": SPEEDS})
