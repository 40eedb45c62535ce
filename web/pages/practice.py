"""The practice loop's pages: spaces, joining by invite, exercises with their replies, and the
notifications list.

Like the video pages, views fetch through the spaces selectors (a non-member gets the same 404 as
for a space that never existed), call a service, and answer with a page or a redirect; what the
services refuse (DomainError) comes back as a message on the page the form was on.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from domain.errors import DomainError
from domain.spaces import selectors, services
from domain.spaces.models import Membership
from domain.spaces.notifications import notifications_mark_read
from domain.uploads.stores import chunk_bytes
from domain.videos.models import Video
from web.media.signing import video_hls_url
from web.pages.views import _poster_url, _sources

NOTIFICATIONS_SHOWN = 50


class SpaceForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", help_text="A studio, a class, a team…")


class ExerciseForm(forms.Form):
    title = forms.CharField(max_length=200)
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=20000,
        help_text="Plain text; links become clickable.",
    )
    video = forms.ChoiceField(label="Demonstration", required=False)
    replies_visible = forms.BooleanField(
        required=False, label="Every member sees the replies", help_text="Otherwise only their authors and the coaches."
    )

    def __init__(self, *args, videos, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["video"].choices = [("", "No demonstration")] + [(v.id, v.title) for v in videos]


class ReplyForm(forms.Form):
    video = forms.ChoiceField(label="Your video")
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=5000)

    def __init__(self, *args, videos, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["video"].choices = [(v.id, v.title) for v in videos]


def _own_videos(user):
    """What someone may attach: their own videos, newest first, in any state (a reply may be sent
    while its video is still being made)."""
    return Video.objects.filter(owner=user).order_by("-created_at", "-id").only("id", "title", "status")


def _form_errors(form: forms.Form) -> str:
    return " ".join(e for errors in form.errors.values() for e in errors)


@login_required
def spaces_view(request):
    form = SpaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        space = services.space_create(owner=request.user, name=form.cleaned_data["name"])
        messages.success(request, f"Created “{space.name}”. Share its invite link to bring people in.")
        return redirect("space", space_id=space.pk)
    return render(request, "pages/spaces.html", {"spaces": selectors.spaces_of(user=request.user), "form": form})


@login_required
def space_view(request, space_id: int):
    space = selectors.space_get_for(user=request.user, space_id=space_id)
    coach = space.role == Membership.Role.COACH
    exercises = list(selectors.exercises_visible_to(user=request.user, space_id=space.pk))
    answered = selectors.exercises_answered(exercise_ids=[e.pk for e in exercises]) if coach else {}
    context = {
        "space": space,
        "coach": coach,
        "exercises": [{"exercise": e, "answered": answered.get(e.pk)} for e in exercises],
        "members": selectors.space_memberships(space=space),
    }
    if coach:
        context["invite_url"] = request.build_absolute_uri(reverse("join", args=[space.invite_code]))
        context["form"] = ExerciseForm(videos=_own_videos(request.user))
    return render(request, "pages/space.html", context)


@require_POST
@login_required
def exercise_create_view(request, space_id: int):
    space = selectors.space_get_for(user=request.user, space_id=space_id)
    form = ExerciseForm(request.POST, videos=_own_videos(request.user))
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("space", space_id=space.pk)
    data = form.cleaned_data
    try:
        exercise = services.exercise_create(
            space_id=space.pk, author=request.user, title=data["title"], instructions=data["instructions"],
            video_id=data["video"] or None, replies_visible=data["replies_visible"],
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("space", space_id=space.pk)
    messages.success(request, "Posted. Every member of the space can see it now.")
    return redirect("exercise", exercise_id=exercise.pk)


@require_POST
@login_required
def member_view(request, space_id: int, username: str):
    """Coaches promote a member (`action=promote`) or remove one (`action=remove`); a member may
    remove themselves, which is leaving."""
    space = selectors.space_get_for(user=request.user, space_id=space_id)
    action = request.POST.get("action")
    try:
        if action == "promote":
            services.membership_set_role(space=space, actor=request.user, username=username, role=Membership.Role.COACH)
            messages.success(request, f"{username} is now a coach.")
        elif action == "remove":
            services.membership_remove(space=space, actor=request.user, username=username)
            if username == request.user.username:
                messages.success(request, f"You left “{space.name}”.")
                return redirect("spaces")
            messages.success(request, f"Removed {username}.")
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect("space", space_id=space.pk)


def join_view(request, code: str):
    """Opening the invite link joins; someone signed out signs in (or up) first and comes back."""
    if not request.user.is_authenticated:
        return render(request, "pages/join.html", {"next": request.get_full_path()})
    try:
        space = services.space_join(user=request.user, code=code)
    except DomainError as exc:
        raise Http404(str(exc)) from None
    messages.success(request, f"Welcome to “{space.name}”.")
    return redirect("space", space_id=space.pk)


@login_required
def exercise_view(request, exercise_id: int):
    exercise = selectors.exercise_get_for(user=request.user, exercise_id=exercise_id)
    coach = exercise.role == Membership.Role.COACH
    video = exercise.video
    sources, current = _sources(video, wanted=None) if video else ([], None)
    hls_url = video_hls_url(video=video) if video else None
    replies = list(selectors.replies_visible_to(user=request.user, exercise=exercise))
    context = {
        "exercise": exercise,
        "coach": coach,
        "video": video,
        "poster": _poster_url(video) if video else None,
        "sources": sources,
        "current": current,
        "hls_url": hls_url,
        # What player.js plays, as the watch page hands it over.
        "player_sources": {"hls": hls_url, "renditions": [{**s, "selected": s == current} for s in sources]},
        "replies": [{"reply": r, "poster": _poster_url(r.video)} for r in replies],
        "form": ReplyForm(videos=_own_videos(request.user)),
        # The recorder (pages/_recorder.html) films a take to reply with.
        "chunk_bytes": chunk_bytes(),
        "visibilities": Video.Visibility.choices,
    }
    if coach:
        answered = set(selectors.exercises_answered(exercise_ids=[exercise.pk])[exercise.pk])
        people = [m.user.username for m in selectors.space_memberships(space=exercise.space)
                  if m.role == Membership.Role.MEMBER]
        context["answered"] = sorted(answered)
        context["waiting"] = [name for name in people if name not in answered]
    return render(request, "pages/exercise.html", context)


@require_POST
@login_required
def reply_create_view(request, exercise_id: int):
    exercise = selectors.exercise_get_for(user=request.user, exercise_id=exercise_id)
    form = ReplyForm(request.POST, videos=_own_videos(request.user))
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("exercise", exercise_id=exercise.pk)
    try:
        services.reply_create(exercise=exercise, author=request.user, video_id=form.cleaned_data["video"],
                              note=form.cleaned_data["note"])
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Replied. The coaches have been told.")
    return redirect("exercise", exercise_id=exercise.pk)


@login_required
def notifications_view(request):
    shown = selectors.notifications_of(user=request.user)[:NOTIFICATIONS_SHOWN]
    return render(request, "pages/notifications.html", {"notifications": shown})


@login_required
def notification_open_view(request, notification_id: int):
    """A notification's link: marks it read and goes where it points."""
    notification = selectors.notifications_of(user=request.user).filter(pk=notification_id).first()
    if notification is None:
        raise Http404
    notifications_mark_read(user=request.user, ids=[notification.pk])
    return redirect(notification.url)


@require_POST
@login_required
def notifications_read_view(request):
    notifications_mark_read(user=request.user, every=True)
    messages.success(request, "All read.")
    return redirect("notifications")
