"""The pages people use: library, upload, watch (and the owner's edit, delete and reprocess).

Views fetch through the videos selectors, ask them what the caller may do, call a service and
respond; every form posts with Django's CSRF token, and the JavaScript only enhances what the
HTML already does.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from domain.uploads.selectors import uploads_interrupted_recordings
from domain.uploads.stores import chunk_bytes
from domain.videos import selectors
from domain.videos.models import Video
from domain.videos.services import video_delete, video_reprocess, video_update
from web.media.signing import video_hls_url, video_media_url, video_storyboard_url

PAGE_SIZE = 24
LIBRARY_FILTERS = {"all": "Everything", "mine": "Mine", "public": "Public"}
# The rendition a player starts with: sharp enough on a laptop, light enough on a phone.
DEFAULT_MAX_SHORT_SIDE = 720
SPEEDS = ["0.25", "0.5", "0.75", "1", "1.25", "1.5", "1.75", "2"]
BUSY = "This video is being processed already; try again when it has finished."


class VideoEditForm(forms.ModelForm):
    class Meta:
        model = Video
        fields = ["title", "description", "visibility"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


def _poster_url(video: Video) -> str | None:
    return video_media_url(video=video, name=video.poster) if video.poster else None


def _sources(video: Video, *, wanted: str | None) -> tuple[list[dict], dict | None]:
    """The player's renditions, smallest first, and the one it starts with: the one asked for,
    else the sharpest within DEFAULT_MAX_SHORT_SIDE, else the sharpest. Chosen here only: while
    a video processes, watch.js fetches this page again for the renditions that arrived."""
    renditions = sorted(video.renditions.all(), key=lambda r: min(r.width, r.height))
    sources = [{"label": r.label, "url": video_media_url(video=video, name=r.file)} for r in renditions]
    fitting = [s for s, r in zip(sources, renditions) if min(r.width, r.height) <= DEFAULT_MAX_SHORT_SIDE]
    current = next((s for s in sources if s["label"] == wanted), None) or (fitting or sources or [None])[-1]
    return sources, current


def _changeable(request, video_id: str) -> Video:
    video = selectors.video_get_for(user=request.user, video_id=video_id)
    if not selectors.video_can_change(user=request.user, video=video):
        raise PermissionDenied(selectors.NOT_OWNER)
    return video


def library_view(request):
    show = request.GET.get("show", "all")
    if show not in LIBRARY_FILTERS or (show == "mine" and not request.user.is_authenticated):
        show = "all"
    videos = selectors.videos_visible_to(user=request.user)
    if show == "mine":
        videos = videos.filter(owner=request.user)
    elif show == "public":
        videos = videos.filter(visibility=Video.Visibility.PUBLIC)
    page = Paginator(videos, PAGE_SIZE).get_page(request.GET.get("page"))
    tiles = [{"video": v, "poster": _poster_url(v)} for v in page]
    return render(
        request, "pages/library.html", {"page": page, "tiles": tiles, "show": show, "filters": LIBRARY_FILTERS}
    )


@login_required
def upload_view(request):
    return render(
        request,
        "pages/upload.html",
        {
            "max_bytes": settings.MAX_UPLOAD_BYTES,
            "chunk_bytes": chunk_bytes(),
            "visibilities": Video.Visibility.choices,
            "interrupted": uploads_interrupted_recordings(owner=request.user),
            "expiry_hours": settings.UPLOAD_EXPIRY_SECONDS // 3600,
        },
    )


def watch_view(request, video_id: str):
    video = selectors.video_get_for(user=request.user, video_id=video_id)
    sources, current = _sources(video, wanted=request.GET.get("quality"))
    hls_url = video_hls_url(video=video)
    owner = selectors.video_can_change(user=request.user, video=video)
    return render(
        request,
        "pages/watch.html",
        {
            "video": video,
            "poster": _poster_url(video),
            "sources": sources,
            "current": current,
            "hls_url": hls_url,
            "storyboard_url": video_storyboard_url(video=video),
            # A failed video with nothing to play gets its reason, not an empty black box.
            "has_player": bool(sources or hls_url) or video.status != Video.Status.FAILED,
            "speeds": SPEEDS,
            "owner": owner,
            "can_reprocess": selectors.video_can_reprocess(user=request.user, video=video),
            "form": VideoEditForm(instance=video) if owner else None,
            "share_url": request.build_absolute_uri(reverse("watch", args=[video.id])) if owner else "",
            # The player prefers the HLS stream to the MP4 renditions (watch.js, player.js).
            "state": {"id": video.id, "status": video.status, "progress": video.progress, "hls_url": hls_url,
                      "fps": video.fps},
        },
    )


@require_POST
@login_required
def video_edit_view(request, video_id: str):
    video = _changeable(request, video_id)
    form = VideoEditForm(request.POST, instance=video)
    if form.is_valid():
        video_update(video=video, **form.cleaned_data)
        messages.success(request, "Saved.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("watch", video_id=video.id)


@login_required
def video_delete_view(request, video_id: str):
    video = _changeable(request, video_id)
    if request.method == "POST":
        title = video.title
        video_delete(video=video)
        messages.success(request, f"Deleted “{title}” and its files.")
        return redirect("library")
    return render(request, "pages/delete.html", {"video": video})


@require_POST
@login_required
def video_reprocess_view(request, video_id: str):
    video = selectors.video_get_for(user=request.user, video_id=video_id)
    if not selectors.video_can_reprocess(user=request.user, video=video):
        raise PermissionDenied(selectors.NOT_OWNER_OR_STAFF)
    if video_reprocess(video=video):
        messages.success(request, "Processing again; this page updates as it goes.")
    else:
        messages.error(request, BUSY)
    return redirect("watch", video_id=video.id)
