"""Notifications: a row for the person told, and a mail when they have an address.

The row is the notification; the mail is a copy sent by a task on the short queue, queued after
the row is committed and never inside the request. A mail that fails is retried by the task and
never takes the row with it.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from domain.spaces.models import Notification
from practika_project.celery import app as celery_app

log = logging.getLogger(__name__)

MAIL_TASK = "workers.tasks.notification_mail_task"


def notify(*, users, kind: str, text: str, url: str) -> list[Notification]:
    """Tell each of `users` (once each); their mails go out after the caller's commit."""
    rows = Notification.objects.bulk_create(
        Notification(user=user, kind=kind, text=text[:500], url=url) for user in {u.pk: u for u in users}.values()
    )
    for row in rows:
        if row.user.email:
            transaction.on_commit(lambda pk=row.pk: notification_mail_enqueue(notification_id=pk))
    return rows


def notification_mail_enqueue(*, notification_id: int) -> None:
    """Queue the mail. A broker that refuses is logged: the notification itself is safe."""
    try:
        celery_app.send_task(MAIL_TASK, args=[notification_id], retry=True, retry_policy={"max_retries": 1})
    except Exception:
        log.exception("could not queue the mail of notification %s", notification_id)


def notification_mail(*, notification_id: int) -> bool:
    """Send the notification's mail once; False when there is nothing to send (already sent, no
    address, the notification gone). A failure raises for the task to retry."""
    notification = Notification.objects.select_related("user").filter(id=notification_id, mailed_at=None).first()
    if notification is None or not notification.user.email:
        return False
    send_mail(
        subject=f"Practika: {notification.text}"[:200],
        message=f"{notification.text}\n\nOpen it in Practika: {link(notification.url)}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[notification.user.email],
    )
    Notification.objects.filter(id=notification_id, mailed_at=None).update(mailed_at=timezone.now())
    return True


def link(path: str) -> str:
    """The path as a link that works outside the site (a mail), when SITE_URL says where it is."""
    return urljoin(settings.SITE_URL, path) if settings.SITE_URL else path


def notifications_mark_read(*, user, ids: list[int] | None = None, every: bool = False) -> int:
    """Mark the caller's notifications read (the ones named, or all); how many changed. Ids that
    are not the caller's are ignored, like ids that do not exist."""
    unread = Notification.objects.filter(user=user, read=False)
    if not every:
        unread = unread.filter(id__in=ids or [])
    return unread.update(read=True)
