"""Notification mails: sent by the task on the short queue after the commit, retried when the
mail server fails, and never at the cost of the notification row."""

from __future__ import annotations

import logging
import smtplib
import time
from contextlib import contextmanager

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from domain.spaces.models import Notification
from domain.spaces.notifications import MAIL_TASK, link, notification_mail
from practika_project.celery import app as celery_app
from tests.practice import practice_story


class FlakyBackend(EmailBackend):
    """Django's in-memory outbox behind a mail server that fails the first `failures` sends."""

    failures = 0

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise smtplib.SMTPServerDisconnected("the mail server went away")
        return super().send_messages(messages)


def wait_for(predicate, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.django_db
def test_a_mail_is_sent_once_and_only_to_people_with_an_address(settings):
    story = practice_story()
    coach_note = story.coach.notifications.first()
    assert notification_mail(notification_id=coach_note.pk) is True
    assert notification_mail(notification_id=coach_note.pk) is False, "a retried task sends nothing twice"
    assert [m.to for m in mail.outbox] == [["carla@example.com"]]
    assert coach_note.text in mail.outbox[0].subject
    assert f"{settings.SITE_URL}{coach_note.url}" in mail.outbox[0].body, "a link a mail reader can open"
    # Max has no address; the notification stays his, with no mail.
    silent = Notification.objects.create(user=story.member, kind="comment", text="x", url="/videos/x/")
    assert notification_mail(notification_id=silent.pk) is False and len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_mail_links_to_where_the_site_answers(settings):
    settings.SITE_URL = "https://practika.example.org/"
    note = practice_story().coach.notifications.first()
    notification_mail(notification_id=note.pk)
    assert f"Open it in Practika: https://practika.example.org{note.url}\n" in mail.outbox[0].body
    settings.SITE_URL = ""  # production without it: the path, as the API gives it
    assert link(note.url) == note.url


@pytest.mark.django_db
def test_nothing_is_queued_before_the_commit(django_capture_on_commit_callbacks, monkeypatch):
    queued = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args, **_: queued.append((name, args)))
    with django_capture_on_commit_callbacks(execute=True):
        story = practice_story()
        assert queued == []
    # Carla is told of two joins and a reply; Max and Stan have no address, Mia nothing yet.
    assert sorted(queued) == sorted((MAIL_TASK, [n.pk]) for n in story.coach.notifications.all())
    assert not mail.outbox, "the request never sends mail itself"


def _loggers() -> list[logging.Logger]:
    return [logging.getLogger(), *(log for log in logging.Logger.manager.loggerDict.values() if isinstance(log, logging.Logger))]


@contextmanager
def logging_kept():
    """Celery's test worker sets up logging for the whole process (handlers of its own on the root
    logger and others); the rest of the suite runs with the project's LOGGING, put back after."""
    saved = {log: (log.handlers[:], log.level, log.propagate) for log in _loggers()}
    try:
        yield
    finally:
        for log in _loggers():
            log.handlers[:], level, log.propagate = saved.get(log, ([], logging.NOTSET, True))
            log.setLevel(level)


@pytest.mark.slow
def test_a_reply_reaches_the_coachs_inbox_through_a_real_worker_retrying_a_failed_send(
    transactional_db, clean_redis, settings
):
    settings.EMAIL_BACKEND = f"{FlakyBackend.__module__}.FlakyBackend"
    FlakyBackend.failures = 1
    with logging_kept(), start_worker(celery_app, pool="solo", queues=[settings.SHORT_QUEUE], perform_ping_check=False):
        story = practice_story()
        wait_for(lambda: len(mail.outbox) == 3, 30, "Carla's three mails, one of them sent again")
    assert FlakyBackend.failures == 0, "the first send failed and was retried"
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == sorted(f"Practika: {n.text}" for n in story.coach.notifications.all())
    assert story.coach.notifications.count() == 3
    assert not story.coach.notifications.filter(mailed_at=None).exists()
