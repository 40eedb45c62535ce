"""B6: queue pickup, job queued → job started, on a warm `worker` process."""

from __future__ import annotations

import json
import statistics
import time
import uuid

import redis
from django.conf import settings

from bench.env import Stack
from bench.report import Result

JOBS = 200
WARMUP = 10


def _pickups(queue: str, r: redis.Redis, count: int) -> list[float]:
    from bench.probe import stamp

    key = f"bench:pickup:{uuid.uuid4().hex}"
    delays = []
    for _ in range(count):
        # One job at a time: pickup latency, not time spent queued behind other jobs.
        stamp.apply_async((key, time.time()), queue=queue)
        item = r.blpop([key], timeout=10)
        if item is None:
            raise RuntimeError(f"a job on the {queue!r} queue did not start within 10 s")
        sent, started = json.loads(item[1])
        delays.append((started - sent) * 1000)
    return delays


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def b6(stack: Stack) -> list[Result]:
    stack.worker()
    r = redis.Redis.from_url(stack.redis_url)
    details = {}
    for queue in (settings.SHORT_QUEUE, settings.VIDEO_QUEUE):
        _pickups(queue, r, WARMUP)
        delays = _pickups(queue, r, JOBS)
        details[queue] = {"p50_ms": round(_percentile(delays, 50), 2),
                          "p99_ms": round(_percentile(delays, 99), 2), "max_ms": round(max(delays), 2)}
    video = details[settings.VIDEO_QUEUE]
    what = f"queue pickup, {JOBS} jobs on the video queue"
    return [
        Result("B6.p50", what + ", p50", "ms", video["p50_ms"], None, video["p50_ms"], "< 50 ms",
               video["p50_ms"] < 50, details),
        Result("B6.p99", what + ", p99", "ms", video["p99_ms"], None, video["p99_ms"], "< 250 ms",
               video["p99_ms"] < 250, details),
    ]
