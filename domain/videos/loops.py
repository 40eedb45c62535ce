"""Saved loops: the A–B loops a user names and keeps on a video, to practise the same bars again.

Each is its owner's alone. The caller opens the video first (selectors.video_get_for), so a video
the user may not watch is a 404 before any loop is looked at; someone else's loop is a 404 too.
"""

from __future__ import annotations

import math

from django.db.models import QuerySet
from django.http import Http404

from domain.errors import Code, DomainError
from domain.videos.models import SavedLoop, Video

LOOP_NOT_FOUND = "No such loop."
NAME_EMPTY = "Give the loop a name."
NOT_A_TIME = "{field} must be a number of seconds."
A_NEGATIVE = "a must be 0 or later."
B_NOT_AFTER_A = "b must come after a."
B_AFTER_END = "b ({b:g} s) is past the end of the video ({duration:g} s)."


def loops_of(*, user, video: Video) -> QuerySet[SavedLoop]:
    return SavedLoop.objects.filter(owner=user, video=video)


def loop_get_for(*, user, video: Video, loop_id: int) -> SavedLoop:
    loop = loops_of(user=user, video=video).filter(id=loop_id).first()
    if loop is None:
        raise Http404(LOOP_NOT_FOUND)
    return loop


def _check(video: Video, name: str, a: float, b: float) -> None:
    if not name.strip():
        raise DomainError(Code.INVALID, NAME_EMPTY)
    for field, value in (("a", a), ("b", b)):
        if not math.isfinite(value):
            raise DomainError(Code.INVALID, NOT_A_TIME.format(field=field))
    if a < 0:
        raise DomainError(Code.INVALID, A_NEGATIVE)
    if b <= a:
        raise DomainError(Code.INVALID, B_NOT_AFTER_A)
    # A video still processing may not know its length yet: then only the order is checked, and a
    # loop past the end plays to the end.
    if video.duration is not None and b > video.duration:
        raise DomainError(Code.INVALID, B_AFTER_END.format(b=b, duration=video.duration))


def loop_create(*, user, video: Video, name: str, a: float, b: float) -> SavedLoop:
    _check(video, name, a, b)
    return SavedLoop.objects.create(owner=user, video=video, name=name.strip(), a=a, b=b)


def loop_update(*, loop: SavedLoop, **fields) -> SavedLoop:
    """Name and times, checked as a whole: the new ones with the kept ones."""
    merged = {"name": loop.name, "a": loop.a, "b": loop.b, **fields}
    _check(loop.video, **merged)
    for field, value in fields.items():
        setattr(loop, field, value.strip() if field == "name" else value)
    loop.save(update_fields=list(fields))
    return loop


def loop_delete(*, loop: SavedLoop) -> None:
    loop.delete()
