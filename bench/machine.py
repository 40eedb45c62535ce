"""What the run ran on, and a CPU calibration to tell a quiet machine from a busy one."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata

import psycopg2
import redis

from bench.env import BASE_DIR

# Two busy loops, one per core of a 2-core machine, each about a second when the machine is quiet.
CALIBRATION_LOOP = "s = 0\nfor i in range(4_000_000):\n    s += i * i\n"
PACKAGES = ("django", "djangorestframework", "gunicorn", "celery", "redis", "psycopg2-binary", "whitenoise")


def calibrate() -> float:
    """Wall seconds for two busy Python loops run side by side."""
    started = time.perf_counter()
    loops = [subprocess.Popen([sys.executable, "-c", CALIBRATION_LOOP]) for _ in range(2)]
    for loop in loops:
        loop.wait()
    return round(time.perf_counter() - started, 3)


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def _meminfo_mib() -> int:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) // 1024


def _cpu_model() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def machine_info(*, database_url: str, redis_url: str) -> dict:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        postgres = cur.fetchone()[0]
    versions = {name: metadata.version(name) for name in PACKAGES}
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_mib": _meminfo_mib(),
        "loadavg_at_start": os.getloadavg(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": postgres,
        "redis": redis.Redis.from_url(redis_url).info("server")["redis_version"],
        "ffmpeg": _first_line(["ffmpeg", "-version"]),
        "wrk": _first_line(["wrk", "-v"]),
        "commit": _first_line(["git", "-C", str(BASE_DIR), "rev-parse", "--short", "HEAD"]),
        **versions,
    }
