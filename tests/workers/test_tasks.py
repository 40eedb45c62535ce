"""Jobs are queued by name (the domain never imports a task): every name sent is a registered
task, and the router sends it to the queue whose node runs that kind of work."""

from __future__ import annotations

import pytest
from django.conf import settings

from domain.health.schedule import periodic_tasks
from domain.spaces.notifications import MAIL_TASK
from domain.videos.services import PROCESS_TASK
from practika_project.celery import app as celery_app
from workers.beat import SELF_CHECK_TASK
from workers.canary import CANARY_TASK

SENT_BY_NAME = {PROCESS_TASK: settings.VIDEO_QUEUE, CANARY_TASK: settings.VIDEO_QUEUE, MAIL_TASK: settings.SHORT_QUEUE}


def queue_of(name: str) -> str:
    route = celery_app.amqp.router.route({}, name)
    return route["queue"].name


@pytest.mark.parametrize("name, queue", sorted(SENT_BY_NAME.items()))
def test_a_job_sent_by_name_is_a_registered_task_on_its_queue(name, queue):
    celery_app.loader.import_default_modules()  # what a worker imports at start
    assert name in celery_app.tasks
    assert queue_of(name) == queue


def test_every_periodic_task_is_registered_and_routed_to_its_queue():
    celery_app.loader.import_default_modules()
    for periodic in periodic_tasks():
        assert periodic.task in celery_app.tasks, periodic.task
        assert queue_of(periodic.task) == periodic.queue, periodic.task
    assert SELF_CHECK_TASK in celery_app.tasks


def test_an_unknown_name_is_not_registered():
    celery_app.loader.import_default_modules()
    assert "workers.tasks.no_such_task" not in celery_app.tasks
