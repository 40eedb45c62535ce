from __future__ import annotations

from django import template
from django.urls import reverse

from domain.uploads.stores import chunk_bytes
from domain.videos.models import Video
from web.pages.compare import compare_link

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """83.4 -> "1:23"; an hour or more -> "1:02:03"."""
    if seconds is None:
        return ""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.inclusion_tag("pages/_comments.html", takes_context=True)
def comments_panel(context, video) -> dict:
    """The watch page's comments beside the player: the list and markers come from the API
    (comments.js); the form is for signed-in viewers of a video whose length is known, with their
    own videos to attach as a video reply."""
    user = context["user"]
    own = Video.objects.filter(owner=user).exclude(pk=video.pk).order_by("-created_at", "-id") if user.is_authenticated else []
    state = {
        "api": reverse("api-video-comments", args=[video.pk]),
        "duration": video.duration,
        "user": user.get_username() if user.is_authenticated else None,
        "owner": user.is_authenticated and video.owner_id == user.pk,
        "watch": reverse("watch", args=["VIDEO_ID"]),
    }
    return {"request": context.get("request"), "video": video, "user": user, "own_videos": own.only("id", "title") if own else [],
            "state": state, "chunk_bytes": chunk_bytes(), "visibilities": Video.Visibility.choices}


@register.simple_tag
def compare_url(a: str | None = None, b: str | None = None) -> str:
    """The compare page for two videos: {% compare_url exercise.video.id reply.video.id %}. With
    one, the page asks for the other among the viewer's videos."""
    return compare_link(a, b)
