from __future__ import annotations

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from .logging import clean_request_id, request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "practika_project.settings")
# Heroku sends SIGTERM and SIGKILL 30 s later. Remapped to a cold shutdown, the worker first
# waits worker_soft_shutdown_timeout for the current job, then gives it back to the broker
# (acks_late) instead of acknowledging a half-done transcode.
os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")

app = Celery("practika")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])


# The request id travels with every task a request queues, so the worker's log lines for that
# job carry the same id as the web's.
@before_task_publish.connect
def _attach_request_id(headers: dict | None = None, **_: object) -> None:
    if headers is not None:
        headers.setdefault("practika_request_id", request_id_var.get())


@task_prerun.connect
def _adopt_request_id(task=None, **_: object) -> None:
    rid = getattr(task.request, "practika_request_id", None) if task else None
    task.request.practika_token = request_id_var.set(clean_request_id(rid))


@task_postrun.connect
def _drop_request_id(task=None, **_: object) -> None:
    token = getattr(task.request, "practika_token", None) if task else None
    if token is not None:
        request_id_var.reset(token)
