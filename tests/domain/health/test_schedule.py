"""Periodic tasks declared in code, written by the release's idempotent command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from domain.health.schedule import period_claim, periodic_tasks, self_check_interval

pytestmark = pytest.mark.django_db


def release() -> str:
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    return out.getvalue()


def test_the_release_writes_every_declared_task_once():
    release()
    assert release().count("unchanged") == len(periodic_tasks())
    rows = {t.name: t for t in PeriodicTask.objects.all()}
    assert set(rows) == {"self-check", "canary", "maintenance"}
    assert rows["self-check"].queue == "short" and rows["self-check"].interval.every == 60
    assert rows["canary"].interval.every == 3600


def test_a_new_self_check_is_due_at_once_so_a_fresh_deploy_reports_without_waiting():
    release()
    due = {task.name: ModelEntry(task).is_due().is_due for task in PeriodicTask.objects.all()}
    assert due == {"self-check": True, "canary": False, "maintenance": False}


def test_an_operators_change_survives_a_release():
    release()
    slower = IntervalSchedule.objects.create(every=300, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="self-check").update(interval=slower, enabled=False)
    assert "self-check: unchanged" in release()
    task = PeriodicTask.objects.get(name="self-check")
    assert (task.interval.every, task.enabled) == (300, False)


def test_a_change_in_the_code_wins_over_the_admin(settings):
    release()
    slower = IntervalSchedule.objects.create(every=300, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(name="self-check").update(interval=slower)
    settings.SELF_CHECK_INTERVAL = 30
    assert "self-check: updated" in release()
    assert PeriodicTask.objects.get(name="self-check").interval.every == 30


def test_a_task_the_code_no_longer_declares_is_removed_but_an_operators_own_is_kept():
    every = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="retired", task="workers.tasks.gone", interval=every, description="code:x")
    PeriodicTask.objects.create(name="mine", task="workers.tasks.self_check", interval=every)
    assert "retired: removed" in release()
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {"self-check", "canary", "maintenance", "mine"}


def test_the_interval_follows_the_admin(settings):
    assert self_check_interval() == settings.SELF_CHECK_INTERVAL  # nothing written yet
    release()
    PeriodicTask.objects.filter(name="self-check").update(
        interval=IntervalSchedule.objects.create(every=2, period=IntervalSchedule.MINUTES)
    )
    assert self_check_interval() == 120


def test_each_run_expires_after_one_interval():
    release()
    assert {t.name: t.expire_seconds for t in PeriodicTask.objects.all()} == {
        "self-check": 60, "canary": 3600, "maintenance": 86400
    }


def test_the_first_run_in_a_period_claims_it(clean_redis):
    release()
    start = 3600 * 1000  # the start of a canary period
    assert period_claim(name="canary", now=start) == 1000
    assert period_claim(name="canary", now=start + 3599) is None
    assert period_claim(name="maintenance", now=start) is not None
    assert period_claim(name="canary", now=start + 3600) == 1001


def test_a_second_canary_task_in_the_period_does_nothing(clean_redis):
    from domain.health.models import CanaryRun
    from workers import tasks

    release()
    tasks.canary()  # no worker here: it fails fast, but it ran
    assert tasks.canary() is None
    assert CanaryRun.objects.count() == 1
