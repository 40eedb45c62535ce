"""The short node's pool (workers/pool.py) in the real `worker` process: the soft and hard time
limits of short tasks hold although the node runs threads, and the node keeps serving.

A self-check is made to hang where nothing in Python can reach it: the test holds an exclusive
lock on the health reports, and the task waits for it inside psycopg2's C code.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg2
import pytest
from django.db import connection

from domain.health.models import HealthReport
from practika_project.celery import app as celery_app
from tests.workers.test_processing import kill_tree, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SELF_CHECK = "workers.tasks.self_check"


@contextmanager
def reports_locked():
    db = connection.settings_dict
    conn = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"],
                            port=db["PORT"])
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {HealthReport._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


def test_a_short_task_past_its_limits_is_stopped_and_the_node_keeps_serving(processes):
    # A one-second interval gives every self-check a period of its own to report in.
    worker = processes("worker", SELF_CHECK_INTERVAL="1")
    try:
        wait_for(lambda: worker.output().count(" ready.") >= 2, 180, "both nodes to be ready", worker)

        # Past its soft limit the task gets SoftTimeLimitExceeded, once the blocking call returns.
        with reports_locked():
            soft = celery_app.send_task(SELF_CHECK, soft_time_limit=1, time_limit=300).id
            wait_for(lambda: f"exceeded for {SELF_CHECK}[{soft}]" in worker.output(), 60, "the soft limit", worker)
        wait_for(lambda: f"{SELF_CHECK}[{soft}] raised unexpected: SoftTimeLimitExceeded" in worker.output(), 60,
                 "the task to be interrupted", worker)

        # Past its hard limit, stuck for good, the task is failed and its node started afresh.
        with reports_locked():
            hard = celery_app.send_task(SELF_CHECK, time_limit=3).id
            wait_for(lambda: f"Hard time limit (3s) exceeded for {SELF_CHECK}[{hard}]" in worker.output(), 60,
                     "the hard limit", worker)
            wait_for(lambda: "the short node exited" in worker.output(), 60, "the node to end", worker)
        wait_for(lambda: worker.output().count("short@") and worker.output().count(" ready.") >= 3, 180,
                 "the short node to be started again", worker)

        served = celery_app.send_task(SELF_CHECK).id
        wait_for(lambda: f"{SELF_CHECK}[{served}] succeeded" in worker.output(), 120, "the next task", worker)
        assert worker.popen.poll() is None, "the worker process stays up"
        assert HealthReport.objects.count() == 1, "only the task that ran to its end wrote a report"
    finally:
        kill_tree(worker.popen.pid)
