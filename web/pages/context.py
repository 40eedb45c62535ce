"""What every page's header shows: the signed-in person's unread notifications."""

from __future__ import annotations

from domain.spaces.selectors import notifications_unread_count


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": notifications_unread_count(user=user)}
