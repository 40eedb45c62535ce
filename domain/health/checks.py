"""Health checks shared by /core/health/ and the scheduled self-check.

Each check is a plain function that returns a dict of details (with "ok": False when it found
a problem it can describe) or raises; run_checks() runs them concurrently in daemon threads
under one deadline, so a service that does not answer at all costs the caller at most the
deadline. /core/health/ runs the fast service checks (live for staff, shared for everyone else:
endpoint_snapshot()); the scheduled report runs them all.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.utils import timezone

from domain.health.models import CanaryRun, HealthReport, MaintenanceRun
from domain.health.schedule import self_check_interval
from domain.videos.models import Video
from practika_project.celery import app as celery_app

CheckFn = Callable[[], dict]

NO_WORKER = "no Celery worker answered within {timeout:g} s"
NO_CONSUMER = "no worker consumes the {queue} queue"
NO_REPORT = "no scheduled report yet: is beat running?"
STALE_REPORT = "the latest scheduled report is {age:.0f} s old: is beat running?"
NO_ANSWER = "no answer within {deadline:g} s"


def closes_connection(fn: CheckFn) -> CheckFn:
    """Checks run in throwaway threads: never leave their database connection behind."""

    @functools.wraps(fn)
    def wrapper() -> dict:
        try:
            return fn()
        finally:
            connection.close()

    return wrapper


@closes_connection
def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def check_cache() -> dict:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was written")
    cache.delete(key)
    return {}


def queues() -> tuple[str, ...]:
    return (settings.VIDEO_QUEUE, settings.SHORT_QUEUE)


def queue_depths() -> dict[str, int] | None:
    """Jobs waiting in each queue, for the broker check and the metrics; None when the broker
    keeps no lengths (the development filesystem broker). Raises when the broker does not answer."""
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        if conn.transport_cls not in ("redis", "rediss"):
            return None
        client = conn.default_channel.client
        return {q: client.llen(q) for q in queues()}


def check_broker() -> dict:
    depths = queue_depths()
    if depths is None:
        return {}
    result: dict = {"queues": depths}
    if depths[settings.SHORT_QUEUE] > settings.HEALTH_MAX_SHORT_QUEUE_DEPTH:
        result.update(ok=False, error=f"{depths[settings.SHORT_QUEUE]} short jobs are waiting")
    return result


def check_storage() -> dict:
    name = default_storage.save(f"health/probe-{uuid.uuid4().hex}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name) as f:
            if f.read() != b"ok":
                raise RuntimeError("storage did not return what was written")
    finally:
        default_storage.delete(name)
    return {}


def queue_consumers(timeout: float) -> dict[str, list[str]]:
    """Which workers answer, and the queues each consumes: {worker: [queue, ...]}."""
    replies = celery_app.control.inspect(timeout=timeout).active_queues() or {}
    return {worker: sorted(q["name"] for q in qs) for worker, qs in replies.items()}


def check_workers() -> dict:
    # Replies come in milliseconds, but inspect always waits its whole window: half the deadline
    # leaves the other half for connecting to the broker.
    timeout = settings.HEALTH_CHECK_TIMEOUT / 2
    workers = queue_consumers(timeout)
    if not workers:
        raise RuntimeError(NO_WORKER.format(timeout=timeout))
    consumers = {q: sorted(w for w, qs in workers.items() if q in qs) for q in queues()}
    result: dict = {"count": len(workers), "names": sorted(workers), "consumers": consumers}
    missing = [q for q, names in consumers.items() if not names]
    if missing:
        result.update(ok=False, error="; ".join(NO_CONSUMER.format(queue=q) for q in missing))
    return result


@closes_connection
def check_scheduler() -> dict:
    latest = HealthReport.objects.filter(period__isnull=False).only("created_at").first()
    if latest is None:
        raise RuntimeError(NO_REPORT)
    age = (timezone.now() - latest.created_at).total_seconds()
    if age > 3 * self_check_interval():
        raise RuntimeError(STALE_REPORT.format(age=age))
    return {"age_seconds": round(age, 1)}


def check_disk() -> dict:
    """Free space where media is kept on local disk; nothing to measure with S3."""
    if not isinstance(default_storage, FileSystemStorage):
        return {"local": False}
    path = Path(settings.MEDIA_ROOT)
    while not path.exists():
        path = path.parent
    free_mb = shutil.disk_usage(path).free // (1024 * 1024)
    result: dict = {"local": True, "free_mb": free_mb}
    if free_mb < settings.HEALTH_MIN_DISK_FREE_MB:
        result.update(ok=False, error=f"only {free_mb} MB free under MEDIA_ROOT")
    return result


def _oldest_age(status: str, limit: int) -> dict:
    oldest = Video.objects.filter(status=status).order_by("created_at").first()
    if oldest is None:
        return {"count": 0}
    age = (timezone.now() - oldest.created_at).total_seconds()
    result: dict = {
        "count": Video.objects.filter(status=status).count(),
        "oldest_id": oldest.pk,
        "age_seconds": round(age, 1),
    }
    if age > limit:
        result.update(ok=False, error=f"video {oldest.pk} has been {status} for {age:.0f} s")
    return result


@closes_connection
def check_pending() -> dict:
    return _oldest_age("pending", settings.HEALTH_MAX_PENDING_AGE)


@closes_connection
def check_processing() -> dict:
    return _oldest_age("processing", settings.HEALTH_MAX_PROCESSING_AGE)


@closes_connection
def check_failed() -> dict:
    since = timezone.now() - timedelta(hours=24)
    count = Video.objects.filter(status="failed", processed_at__gte=since).count()
    result: dict = {"count": count}
    if count > settings.HEALTH_MAX_FAILED_24H:
        result.update(ok=False, error=f"{count} videos failed in the last 24 hours")
    return result


@closes_connection
def check_canary() -> dict:
    """The latest finished canary: a failure keeps the report degraded until one passes."""
    run = CanaryRun.objects.filter(finished_at__isnull=False).first()
    if run is None:
        return {"ran": False}
    result: dict = {"ran": True, "at": run.finished_at.isoformat(), "duration_ms": run.duration_ms}
    if not run.ok:
        result.update(ok=False, error=run.reason)
    return result


@closes_connection
def check_maintenance() -> dict:
    """What the latest daily maintenance removed."""
    run = MaintenanceRun.objects.first()
    if run is None:
        return {"ran": False}
    return {
        "ran": True,
        "at": run.created_at.isoformat(),
        "reports_deleted": run.reports_deleted,
        "orphans_deleted": run.orphans_deleted,
        "orphan_bytes": run.orphan_bytes,
    }


SERVICE_CHECKS: dict[str, CheckFn] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
    "storage": check_storage,
    "workers": check_workers,
}
ENDPOINT_CHECKS: dict[str, CheckFn] = {**SERVICE_CHECKS, "scheduler": check_scheduler}
# What the scheduled report adds to the service checks: the state of the work itself. The worker
# adds what only it can see (workers.selfcheck.REPORT_CHECKS).
STATE_CHECKS: dict[str, CheckFn] = {
    "disk": check_disk,
    "pending": check_pending,
    "processing": check_processing,
    "failed": check_failed,
    "canary": check_canary,
    "maintenance": check_maintenance,
}


def run_one(fn: Callable[[], dict]) -> dict:
    """Run one check or healing step: its details, ok, and latency; it never raises."""
    started = time.perf_counter()
    try:
        result = {"ok": True, **fn()}
    except Exception as exc:  # a check reports failure; it never raises to the caller
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def run_checks(checks: dict[str, CheckFn], deadline: float | None = None) -> dict[str, dict]:
    deadline = settings.HEALTH_CHECK_TIMEOUT if deadline is None else deadline
    results: dict[str, dict] = {name: {} for name in checks}
    threads = []
    for name, fn in checks.items():
        t = threading.Thread(target=lambda n=name, f=fn: results[n].update(run_one(f)), daemon=True)
        t.start()
        threads.append((name, t))
    end = time.monotonic() + deadline
    for name, t in threads:
        t.join(max(0.0, end - time.monotonic()))
        if t.is_alive():
            results[name] = {
                "ok": False,
                "error": NO_ANSWER.format(deadline=deadline),
                "latency_ms": round(deadline * 1000, 2),
            }
    return {name: dict(result) for name, result in results.items()}


def overall_status(results: dict[str, dict]) -> str:
    if not results.get("database", {}).get("ok"):
        return "down"
    return "ok" if all(r.get("ok") for r in results.values()) else "degraded"


PUBLIC_KEYS = ("ok", "latency_ms", "count", "age_seconds")


def public_view(results: dict[str, dict], *, staff: bool) -> dict[str, dict]:
    """Error details (exception text, hosts, ports, URLs) are for staff only."""
    if staff:
        return results
    return {name: {k: v for k, v in r.items() if k in PUBLIC_KEYS} for name, r in results.items()}


# --- /core/health/ for everyone but staff: one run, shared ------------------------------------
# A run writes and deletes a storage object and waits for every worker to answer a broadcast,
# about a second of a web thread: anyone calling in a loop would take the web tier down. So
# anonymous callers get the latest run while it is younger than HEALTH_CACHE_SECONDS. It is kept
# in the cache for every web process and in each process for itself; when it has aged, one thread
# of one process runs the checks again while every other caller answers with the result being
# replaced (or, at a cold start, waits for the new one). With the cache unreachable, each process
# refreshes its own copy, still one thread at a time and at most once per HEALTH_CACHE_SECONDS.
# The database check is shared like the others: run live it would open a PostgreSQL connection
# per call (checks run in throwaway threads that close theirs), and a result a few seconds old
# still answers 503 within HEALTH_CACHE_SECONDS of an outage.

SNAPSHOT_KEY = "health:endpoint"
REFRESHING_KEY = "health:endpoint:refreshing"
_refreshing = threading.Lock()
_latest: dict | None = None  # this process's copy: {"at": epoch seconds, "duration_ms", "checks"}


def endpoint_run() -> dict:
    """Run the endpoint's checks now."""
    started = time.perf_counter()
    results = run_checks(ENDPOINT_CHECKS)
    return {"at": time.time(), "duration_ms": round((time.perf_counter() - started) * 1000, 2), "checks": results}


def _age(snapshot: dict | None) -> float:
    return math.inf if snapshot is None else time.time() - snapshot["at"]


def _kept() -> float:
    """A result older than this is never answered, even while a new one is on its way."""
    return max(60.0, 2 * settings.HEALTH_CACHE_SECONDS)


def _refresh_budget() -> int:
    """How long a refresh may take: the checks' deadline and a few cache round trips. A process
    that died refreshing holds the others back no longer than this."""
    return math.ceil(settings.HEALTH_CHECK_TIMEOUT) + 5


def endpoint_snapshot() -> dict:
    """The endpoint's latest run, shared as described above."""
    latest = _latest
    if _age(latest) < settings.HEALTH_CACHE_SECONDS:
        return latest
    if _age(latest) < _kept():
        if not _refreshing.acquire(blocking=False):
            return latest  # another thread of this process is refreshing it
    else:
        _refreshing.acquire()  # nothing to answer with yet: wait for that thread (a bounded run)
    try:
        return _refresh()
    finally:
        _refreshing.release()


def _refresh() -> dict:
    global _latest
    if _age(_latest) < settings.HEALTH_CACHE_SECONDS:
        return _latest  # refreshed by the thread this one waited for
    try:
        shared = cache.get(SNAPSHOT_KEY)
        if _age(shared) < settings.HEALTH_CACHE_SECONDS:
            _latest = shared
            return shared
        claimed = cache.add(REFRESHING_KEY, os.getpid(), timeout=_refresh_budget())
    except Exception:  # the cache is unreachable: this process keeps its own copy
        shared, claimed = None, None
    if claimed is False:  # another process is refreshing
        usable = min((s for s in (shared, _latest) if _age(s) < _kept()), key=_age, default=None)
        awaited = usable or _await_shared()
        if awaited is not None:
            _latest = awaited
            return awaited
    _latest = endpoint_run()
    if claimed is not None:
        try:
            cache.set(SNAPSHOT_KEY, _latest, timeout=math.ceil(_kept()))
            cache.delete(REFRESHING_KEY)
        except Exception:  # the cache went away meanwhile: the next refresh finds out
            pass
    return _latest


def _await_shared() -> dict | None:
    """The run another process started, once it is in the cache; None if it never comes."""
    end = time.monotonic() + _refresh_budget()
    while time.monotonic() < end:
        time.sleep(0.05)
        try:
            shared = cache.get(SNAPSHOT_KEY)
        except Exception:  # the cache went away: refresh here
            return None
        if _age(shared) < settings.HEALTH_CACHE_SECONDS:
            return shared
    return None


def endpoint_snapshot_forget() -> None:
    """Drop this process's copy and the shared one: the next anonymous call runs the checks
    (tests, where one test's result must not answer the next)."""
    global _latest
    _latest = None
    try:
        cache.delete_many([SNAPSHOT_KEY, REFRESHING_KEY])
    except Exception:  # no cache, nothing shared to forget
        pass
