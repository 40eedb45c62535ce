"""Health checks shared by /core/health/ and the scheduled self-check.

Each check is a plain function that returns a dict of details or raises; run_checks() runs them
concurrently in daemon threads under one deadline, so a service that does not answer at all
costs the caller at most the deadline.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from practika_project.celery import app as celery_app

CheckFn = Callable[[], dict]


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # Checks run in throwaway threads: never leave their connection behind.
        connection.close()
    return {}


def check_cache() -> dict:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was written")
    cache.delete(key)
    return {}


def check_broker() -> dict:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        if conn.transport_cls in ("redis", "rediss"):
            client = conn.default_channel.client
            return {"queues": {q: client.llen(q) for q in (settings.VIDEO_QUEUE, settings.SHORT_QUEUE)}}
    return {}


def check_storage() -> dict:
    name = default_storage.save(f"health/probe-{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as f:
            if f.read() != b"ok":
                raise RuntimeError("storage did not return what was written")
    finally:
        default_storage.delete(name)
    return {}


def check_workers() -> dict:
    replies = celery_app.control.ping(timeout=1.0) or []
    names = sorted(name for reply in replies for name in reply)
    if not names:
        raise RuntimeError("no Celery worker answered a ping within 1 s")
    return {"count": len(names), "names": names}


def check_scheduler() -> dict:
    from web.health.models import HealthReport

    try:
        latest = HealthReport.objects.only("created_at").first()
    finally:
        connection.close()
    if latest is None:
        raise RuntimeError("no scheduled report yet: is beat running?")
    age = (timezone.now() - latest.created_at).total_seconds()
    if age > 3 * settings.SELF_CHECK_INTERVAL:
        raise RuntimeError(f"the latest scheduled report is {age:.0f} s old: is beat running?")
    return {"age_seconds": round(age, 1)}


SERVICE_CHECKS: dict[str, CheckFn] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "storage": check_storage,
    "workers": check_workers,
}
ENDPOINT_CHECKS: dict[str, CheckFn] = {**SERVICE_CHECKS, "scheduler": check_scheduler}


def _run_one(fn: CheckFn, out: dict) -> None:
    started = time.perf_counter()
    try:
        result = {"ok": True, **fn()}
    except Exception as exc:  # a check reports failure; it never raises to the caller
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    out.update(result)


def run_checks(checks: dict[str, CheckFn], deadline: float | None = None) -> dict[str, dict]:
    deadline = settings.HEALTH_CHECK_TIMEOUT if deadline is None else deadline
    results: dict[str, dict] = {name: {} for name in checks}
    threads = []
    for name, fn in checks.items():
        t = threading.Thread(target=_run_one, args=(fn, results[name]), daemon=True)
        t.start()
        threads.append((name, t))
    end = time.monotonic() + deadline
    for name, t in threads:
        t.join(max(0.0, end - time.monotonic()))
        if t.is_alive():
            results[name] = {
                "ok": False,
                "error": f"no answer within {deadline:g} s",
                "latency_ms": round(deadline * 1000, 2),
            }
    return {name: dict(result) for name, result in results.items()}


def overall_status(results: dict[str, dict]) -> str:
    if not results.get("database", {}).get("ok"):
        return "down"
    return "ok" if all(r.get("ok") for r in results.values()) else "degraded"


def public_view(results: dict[str, dict], *, staff: bool) -> dict[str, dict]:
    """Error details (exception text, hosts, ports, URLs) are for staff only."""
    if staff:
        return results
    return {
        name: {k: v for k, v in r.items() if k in ("ok", "latency_ms", "count", "age_seconds")}
        for name, r in results.items()
    }

