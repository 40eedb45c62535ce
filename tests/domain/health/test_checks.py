"""Health checks that read the broker: the depth of each queue, one reading for health and metrics."""

from __future__ import annotations

import pytest
import redis

from domain.health.checks import check_broker, queue_depths


def test_queue_depths_are_the_lengths_of_the_broker_lists(settings, clean_redis):
    redis.Redis.from_url(clean_redis).lpush(settings.VIDEO_QUEUE, "a", "b")
    assert queue_depths() == {settings.VIDEO_QUEUE: 2, settings.SHORT_QUEUE: 0}


@pytest.mark.parametrize("waiting, ok", [(2, True), (3, False)])
def test_the_broker_check_fails_once_too_many_short_jobs_wait(settings, clean_redis, waiting, ok):
    settings.HEALTH_MAX_SHORT_QUEUE_DEPTH = 2
    redis.Redis.from_url(clean_redis).lpush(settings.SHORT_QUEUE, *range(waiting))
    result = check_broker()
    assert result["queues"][settings.SHORT_QUEUE] == waiting
    assert result.get("ok", True) is ok
    if not ok:
        assert result["error"] == f"{waiting} short jobs are waiting"
