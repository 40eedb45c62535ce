"""Who may watch a private video because of the practice loop; domain/videos/selectors.py asks
here, so the video API, the watch page and the media URLs they sign follow one rule.

Only the spaces' models are read here, never a videos selector, so the two apps do not import
each other in a circle.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from domain.spaces.models import Comment, Exercise, Membership, Reply


def video_shared_with(*, user, video_id: str) -> bool:
    """True when a space shares the video with `user` (signed in, neither owner nor staff): it is
    the demonstration of an exercise in a space they belong to, or the video of a reply they may
    see (a coach of the exercise's space, or any member once the exercise shows its replies)."""
    if Exercise.objects.filter(video_id=video_id, space__memberships__user=user).exists():
        return True
    membership = Membership.objects.filter(user=user, space=OuterRef("exercise__space"))
    return Reply.objects.filter(video_id=video_id).filter(
        Q(author=user)
        | Exists(membership.filter(role=Membership.Role.COACH))
        | (Q(exercise__replies_visible=True) & Exists(membership))
    ).exists()


def videos_commented_with(*, video_id: str) -> list[str]:
    """The videos whose comments carry this one as their video reply: whoever may watch one of
    them reads the comment, so may watch its video reply too."""
    return list(Comment.objects.filter(video_reply_id=video_id).values_list("video_id", flat=True).distinct())
