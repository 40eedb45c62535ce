"""Reads: which spaces, exercises, replies, comments and notifications a caller may see.

Everything in a space is as missing as something that never existed (Http404) for anyone who
is not a member, staff included: a space is private to its people, and staff moderate videos
through the videos' own rules.
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from domain.spaces.models import (
    Comment,
    Exercise,
    Membership,
    Notification,
    Reply,
    Space,
)
from domain.videos.selectors import video_can_open

NO_SPACE = "No such space."
NO_EXERCISE = "No such exercise."
NO_COMMENT = "No such comment."


def space_role(*, user, space_id: int) -> str | None:
    """"coach", "member", or None for anyone else (anonymous callers too)."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(space_id=space_id, user=user).values_list("role", flat=True).first()


def _spaces_with_role(user) -> QuerySet[Space]:
    role = Membership.objects.filter(space=OuterRef("pk"), user=user).values("role")[:1]
    members = Membership.objects.filter(space=OuterRef("pk")).values("space").annotate(n=Count("id")).values("n")
    return Space.objects.select_related("owner").annotate(role=Subquery(role), members=Subquery(members))


def spaces_of(*, user) -> QuerySet[Space]:
    """The spaces the caller belongs to, newest first, each with `role` and `members`."""
    if not user.is_authenticated:
        return Space.objects.none()
    return _spaces_with_role(user).filter(memberships__user=user).order_by("-created_at", "-id")


def space_get_for(*, user, space_id: int) -> Space:
    """The space with the caller's `role` and its `members` count, or Http404 for a non-member."""
    space = _spaces_with_role(user).filter(id=space_id).first() if user.is_authenticated else None
    if space is None or space.role is None:
        raise Http404(NO_SPACE)
    return space


def space_memberships(*, space: Space) -> QuerySet[Membership]:
    """Who is in the space, coaches first, then by when they joined."""
    return space.memberships.select_related("user").order_by("role", "joined_at", "id")


def exercises_visible_to(*, user, space_id: int | None = None) -> QuerySet[Exercise]:
    """Exercises of the caller's spaces (or of one of them), newest first, each with `reply_count`
    and the caller's `role` in its space."""
    if not user.is_authenticated:
        return Exercise.objects.none()
    role = Membership.objects.filter(space=OuterRef("space"), user=user).values("role")[:1]
    replies = Reply.objects.filter(exercise=OuterRef("pk")).values("exercise").annotate(n=Count("id")).values("n")
    exercises = Exercise.objects.filter(space__memberships__user=user)
    if space_id is not None:
        exercises = exercises.filter(space_id=space_id)
    return (
        exercises.select_related("space", "created_by", "video__owner")
        .prefetch_related("video__renditions")
        .annotate(role=Subquery(role), reply_count=Coalesce(Subquery(replies), 0))
        .order_by("-created_at", "-id")
    )


def exercise_get_for(*, user, exercise_id: int) -> Exercise:
    exercise = exercises_visible_to(user=user).filter(id=exercise_id).first()
    if exercise is None:
        raise Http404(NO_EXERCISE)
    return exercise


def exercises_answered(*, exercise_ids: list[int]) -> dict[int, list[str]]:
    """Who has replied to each exercise (usernames, sorted), in one query for a page."""
    answered: dict[int, list[str]] = {exercise_id: [] for exercise_id in exercise_ids}
    pairs = (
        Reply.objects.filter(exercise_id__in=exercise_ids)
        .values_list("exercise_id", "author__username")
        .distinct()
        .order_by("exercise_id", "author__username")
    )
    for exercise_id, username in pairs:
        answered[exercise_id].append(username)
    return answered


def replies_visible_to(*, user, exercise: Exercise) -> QuerySet[Reply]:
    """Newest first: all of them for the space's coaches, or for every member when the exercise
    shows its replies; otherwise the caller's own. `exercise` came from exercise_get_for."""
    replies = Reply.objects.filter(exercise=exercise).select_related("author", "video__owner")
    replies = replies.prefetch_related("video__renditions").order_by("-created_at", "-id")
    if exercise.role == Membership.Role.COACH or exercise.replies_visible:
        return replies
    return replies.filter(author=user)


def comments_on(*, video_id: str) -> QuerySet[Comment]:
    """The comments of a video the caller may open (ask domain.videos.selectors first), by `at`."""
    return (
        Comment.objects.filter(video_id=video_id)
        .select_related("author", "video_reply__owner")
        .prefetch_related("video_reply__renditions")
        .order_by("at", "id")
    )


def comment_get_for(*, user, comment_id: int) -> Comment:
    """The comment, or Http404 unless the caller may open the video it is on."""
    comment = Comment.objects.select_related("video", "author", "video_reply__owner").filter(id=comment_id).first()
    if comment is None or not video_can_open(user=user, video=comment.video):
        raise Http404(NO_COMMENT)
    return comment


def notifications_of(*, user) -> QuerySet[Notification]:
    """The caller's notifications, newest first."""
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")


def notifications_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read=False).count() if user.is_authenticated else 0
