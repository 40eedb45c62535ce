"""Writes of the practice loop: spaces and their members, exercises, replies and comments.

Who may do what is decided here, as a DomainError with a code (FORBIDDEN for a member asking what
only a coach may, INVALID for a bad request): the API and the pages only translate it. Whether
the caller may see the space or video at all is the selectors' question, asked first.
"""

from __future__ import annotations

import math

from django.contrib.auth import get_user_model
from django.db import transaction

from domain.errors import Code, DomainError
from domain.spaces.models import (
    Comment,
    Exercise,
    Membership,
    Notification,
    Reply,
    Space,
)
from domain.spaces.notifications import notify
from domain.videos.models import Video

COACHES_ONLY = "Only the coaches of this space can do that."
NOT_A_MEMBER = "Only members of this space can reply to its exercises."
NO_SUCH_CODE = "No space has this invite code."
NO_SUCH_MEMBER = "No such member of this space."
LAST_COACH = "A space needs a coach: make someone else a coach first."
NOT_YOUR_VIDEO = "Choose one of your own videos."
NOT_AUTHOR = "Only the author can change this comment."
NOT_AUTHOR_OR_OWNER = "Only the author or the video's owner can delete this comment."
LENGTH_UNKNOWN = "This video's length is not known yet; comment once it has been processed."
AT_OUTSIDE = "at: {at:g} s is outside the video, which is {duration:g} s long."
UNTIL_OUTSIDE = "until: {until:g} s is outside the video, which is {duration:g} s long."
UNTIL_BEFORE_AT = "until: the range must end after it starts (at {at:g} s)."
NOT_A_TIME = "{field}: a number of seconds is needed."

EXERCISE_PAGE = "/exercises/{id}/"
WATCH_PAGE = "/videos/{id}/"
SPACE_PAGE = "/spaces/{id}/"


def _coaches(space_id: int, *, but=None) -> list:
    coaches = get_user_model().objects.filter(
        space_memberships__space_id=space_id, space_memberships__role=Membership.Role.COACH
    )
    return list(coaches.exclude(pk=but.pk) if but is not None else coaches)


def _require_coach(*, space_id: int, user) -> None:
    if not Membership.objects.filter(space_id=space_id, user=user, role=Membership.Role.COACH).exists():
        raise DomainError(Code.FORBIDDEN, COACHES_ONLY)


def _own_video(*, owner, video_id: str | None) -> Video | None:
    if video_id is None:
        return None
    video = Video.objects.filter(id=video_id, owner=owner).first()
    if video is None:
        raise DomainError(Code.INVALID, f"video: {NOT_YOUR_VIDEO}")
    return video


# --- spaces ---------------------------------------------------------------------------------


@transaction.atomic
def space_create(*, owner, name: str) -> Space:
    """A new space with its creator as its first coach."""
    space = Space.objects.create(name=name, owner=owner)
    Membership.objects.create(space=space, user=owner, role=Membership.Role.COACH)
    return space


@transaction.atomic
def space_join(*, user, code: str) -> Space:
    """Become a member by the invite code; joining again changes nothing (a coach stays coach)."""
    space = Space.objects.filter(invite_code=code).first()
    if space is None:
        raise DomainError(Code.NOT_FOUND, NO_SUCH_CODE)
    _, joined = Membership.objects.get_or_create(space=space, user=user)
    if joined:
        notify(users=_coaches(space.pk, but=user), kind=Notification.Kind.JOINED,
               text=f"{user.username} joined {space.name}", url=SPACE_PAGE.format(id=space.pk))
    return space


def space_delete(*, space: Space, actor) -> None:
    """Coaches only. Exercises, replies and memberships go with it; the videos stay their owners'."""
    _require_coach(space_id=space.pk, user=actor)
    space.delete()


@transaction.atomic
def membership_set_role(*, space: Space, actor, username: str, role: str) -> Membership:
    _require_coach(space_id=space.pk, user=actor)
    membership = _membership_locked(space, username)
    if role == Membership.Role.MEMBER and membership.role == Membership.Role.COACH:
        _keep_a_coach(space, leaving=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, space: Space, actor, username: str) -> None:
    """Coaches remove anyone; a member may remove themselves (leave). The last coach stays."""
    if actor.username != username:
        _require_coach(space_id=space.pk, user=actor)
    membership = _membership_locked(space, username)
    if membership.role == Membership.Role.COACH:
        _keep_a_coach(space, leaving=membership)
    membership.delete()


def _membership_locked(space: Space, username: str) -> Membership:
    # The space's memberships are locked together, so two coaches demoting each other at once
    # cannot leave the space with none.
    memberships = list(Membership.objects.select_for_update().filter(space=space).select_related("user"))
    found = next((m for m in memberships if m.user.username == username), None)
    if found is None:
        raise DomainError(Code.NOT_FOUND, NO_SUCH_MEMBER)
    found.others = memberships
    return found


def _keep_a_coach(space: Space, *, leaving: Membership) -> None:
    if not any(m.role == Membership.Role.COACH and m.pk != leaving.pk for m in leaving.others):
        raise DomainError(Code.CONFLICT, LAST_COACH)


# --- exercises and replies ------------------------------------------------------------------


def exercise_create(*, space_id: int, author, title: str, instructions: str = "", video_id: str | None = None,
                    replies_visible: bool = False) -> Exercise:
    """A coach's exercise; its demonstration is one of the coach's own videos."""
    _require_coach(space_id=space_id, user=author)
    return Exercise.objects.create(
        space_id=space_id, title=title, instructions=instructions, created_by=author,
        video=_own_video(owner=author, video_id=video_id), replies_visible=replies_visible,
    )


def exercise_update(*, exercise: Exercise, actor, **fields) -> Exercise:
    """Coaches of its space; a new demonstration is one of the editing coach's videos, and the
    exercise becomes theirs (its demonstration is always its creator's)."""
    _require_coach(space_id=exercise.space_id, user=actor)
    if "video_id" in fields:
        exercise.video = _own_video(owner=actor, video_id=fields.pop("video_id"))
        exercise.created_by = actor
        fields.update(video=exercise.video, created_by=actor)
    for name, value in fields.items():
        setattr(exercise, name, value)
    exercise.save(update_fields=list(fields))
    return exercise


def exercise_delete(*, exercise: Exercise, actor) -> None:
    """Coaches of its space. Its replies go with it; their videos stay their authors'."""
    _require_coach(space_id=exercise.space_id, user=actor)
    exercise.delete()


@transaction.atomic
def reply_create(*, exercise: Exercise, author, video_id: str, note: str = "") -> Reply:
    """A member's answer with one of their own videos; the space's coaches are told."""
    if not Membership.objects.filter(space_id=exercise.space_id, user=author).exists():
        raise DomainError(Code.FORBIDDEN, NOT_A_MEMBER)
    reply = Reply.objects.create(exercise=exercise, author=author, note=note,
                                 video=_own_video(owner=author, video_id=video_id))
    notify(users=_coaches(exercise.space_id, but=author), kind=Notification.Kind.REPLY,
           text=f"{author.username} replied to “{exercise.title}”", url=EXERCISE_PAGE.format(id=exercise.pk))
    return reply


# --- comments -------------------------------------------------------------------------------


def _check_times(video: Video, at: float, until: float | None) -> None:
    for field, value in (("at", at), ("until", until)):
        if value is not None and not math.isfinite(value):
            raise DomainError(Code.INVALID, NOT_A_TIME.format(field=field))
    if video.duration is None:
        raise DomainError(Code.CONFLICT, LENGTH_UNKNOWN)
    if not 0 <= at <= video.duration:
        raise DomainError(Code.INVALID, AT_OUTSIDE.format(at=at, duration=video.duration))
    if until is not None:
        if not 0 <= until <= video.duration:
            raise DomainError(Code.INVALID, UNTIL_OUTSIDE.format(until=until, duration=video.duration))
        if until < at:
            raise DomainError(Code.INVALID, UNTIL_BEFORE_AT.format(at=at))


@transaction.atomic
def comment_create(*, video: Video, author, text: str, at: float, until: float | None = None,
                   video_reply_id: str | None = None) -> Comment:
    """A comment at `at` (or over `at`–`until`) of a video the author may open (the caller asks
    the videos selector first); the video's owner is told, unless it is their own comment."""
    _check_times(video, at, until)
    comment = Comment.objects.create(video=video, author=author, text=text, at=at, until=until,
                                     video_reply=_own_video(owner=author, video_id=video_reply_id))
    if video.owner_id != author.pk:
        notify(users=[video.owner], kind=Notification.Kind.COMMENT,
               text=f"{author.username} commented on “{video.title}” at {_clock(at)}",
               url=WATCH_PAGE.format(id=video.pk))
    return comment


def comment_update(*, comment: Comment, actor, **fields) -> Comment:
    """The author's alone; times are checked as a whole, the new ones with the kept ones."""
    if actor.pk != comment.author_id:
        raise DomainError(Code.FORBIDDEN, NOT_AUTHOR)
    if "video_reply_id" in fields:
        fields["video_reply"] = _own_video(owner=actor, video_id=fields.pop("video_reply_id"))
    if "at" in fields or "until" in fields:
        _check_times(comment.video, fields.get("at", comment.at), fields.get("until", comment.until))
    for name, value in fields.items():
        setattr(comment, name, value)
    comment.save(update_fields=list(fields))
    return comment


def comment_delete(*, comment: Comment, actor) -> None:
    if actor.pk not in (comment.author_id, comment.video.owner_id):
        raise DomainError(Code.FORBIDDEN, NOT_AUTHOR_OR_OWNER)
    comment.delete()


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"
