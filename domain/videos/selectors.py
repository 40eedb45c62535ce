"""Reads: which videos a caller may list and open, and what they may do with one."""

from __future__ import annotations

import re

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from domain.spaces.access import video_shared_with, videos_commented_with
from domain.videos.models import Rendition, Video

NOT_FOUND = "No such video."
NOT_OWNER = "Only the owner can change or delete this video."
NOT_OWNER_OR_STAFF = "Only the owner or staff can reprocess this video."
# What new_video_id() makes (URL-safe base64). Anything else is no video, and never reaches the
# database: PostgreSQL refuses a NUL character with an error instead of finding nothing.
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _with_relations(qs: QuerySet[Video]) -> QuerySet[Video]:
    # One query for the owners, one for all renditions of the page: the count stays flat.
    return qs.select_related("owner").prefetch_related("renditions")


def videos_visible_to(*, user) -> QuerySet[Video]:
    """The caller's own videos in any status, plus everybody's public videos once playable."""
    playable = Exists(Rendition.objects.filter(video=OuterRef("pk")))
    shown = Q(visibility=Video.Visibility.PUBLIC) & Q(playable)
    if user.is_authenticated:
        shown |= Q(owner=user)
    return _with_relations(Video.objects.filter(shown)).order_by("-created_at", "-id")


def video_can_open(*, user, video: Video) -> bool:
    """Unlisted and public videos open by id; private ones for their owner, staff and the people a
    space shares them with (domain/spaces/access.py), and, when the video is a comment's video
    reply, for whoever may open the video that comment is on. The video API, the watch page and
    the media URLs they sign all ask here."""
    if _video_can_open_itself(user=user, video=video):
        return True
    commented = Video.objects.filter(id__in=videos_commented_with(video_id=video.pk))
    return any(_video_can_open_itself(user=user, video=v) for v in commented)


def _video_can_open_itself(*, user, video: Video) -> bool:
    # Not through comments: a comment's video reply opens for the readers of the video it is on,
    # one step only, so two videos replying to each other's comments cannot loop.
    if video.visibility != Video.Visibility.PRIVATE:
        return True
    if not user.is_authenticated:
        return False
    return user.pk == video.owner_id or user.is_staff or video_shared_with(user=user, video_id=video.pk)


def video_can_change(*, user, video: Video) -> bool:
    """Editing and deleting are the owner's alone (refused with NOT_OWNER)."""
    return user.is_authenticated and user.pk == video.owner_id


def video_can_reprocess(*, user, video: Video) -> bool:
    """The owner, and staff: running the pipeline again changes nothing the owner chose, and it is
    how staff bring a video up to a fixed or improved pipeline (refused with NOT_OWNER_OR_STAFF)."""
    return video_can_change(user=user, video=video) or user.is_staff


def video_get_for(*, user, video_id: str) -> Video:
    """The video, or Http404 — also for someone else's private one, so its existence never leaks."""
    if not _VIDEO_ID.fullmatch(video_id):
        raise Http404(NOT_FOUND)
    video = _with_relations(Video.objects.filter(id=video_id)).prefetch_related("steps").first()
    if video is None or not video_can_open(user=user, video=video):
        raise Http404(NOT_FOUND)
    return video
