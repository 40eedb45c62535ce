"""A no-op job that notes when it started, for B6 (queue pickup)."""

from __future__ import annotations

import json
import time

import redis
from celery import shared_task
from django.conf import settings

_redis: redis.Redis | None = None


@shared_task(name="bench.stamp", ignore_result=True)
def stamp(key: str, sent: float) -> None:
    started = time.time()
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(settings.REDIS_URL)
    _redis.rpush(key, json.dumps([sent, started]))
