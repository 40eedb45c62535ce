"""The run's environment: its own database, Redis db and media folder, and real processes
started from the Procfile's commands."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import redis
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SETTINGS = "bench.practika_settings"


def procfile() -> dict[str, str]:
    lines = (BASE_DIR / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(root: int) -> list[int]:
    """The root and every descendant still alive (ffmpeg under a Celery child, say)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system time of live processes plus what their finished children used."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    url: str = ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60, count: int = 1) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.output().count(text) >= count:
                return
            if self.popen.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not print {text!r} in {timeout} s; log: {self.log}")

    def children(self) -> list[int]:
        return [pid for pid in process_tree(self.popen.pid) if pid != self.popen.pid]

    def stop(self) -> None:
        """Kill the whole tree at once: a graceful shutdown measures nothing here."""
        for pid in process_tree(self.popen.pid):
            for kill in (os.killpg, os.kill):  # Celery nodes lead process groups of their own
                try:
                    kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.popen.wait()


class Stack:
    """Starts processes against the bench's database, Redis db and media folder."""

    def __init__(self, *, database_url: str, redis_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.workdir = workdir
        self.media_root = workdir / "media"
        self.logs = workdir / "logs"
        self.media_root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[Proc] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DEBUG": "false",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "MEDIA_ROOT": str(self.media_root),
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
            "PYTHONPATH": str(BASE_DIR),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def start(self, name: str, command: str | None = None, **env: str) -> Proc:
        log = self.logs / f"{name}-{len(self.procs)}.log"
        popen = subprocess.Popen(
            ["bash", "-c", f"exec {command or procfile()[name]}"],
            cwd=BASE_DIR,
            env=self.env(**env),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def web(self, command: str | None = None, name: str = "web", **env: str) -> Proc:
        """gunicorn from the Procfile (or the same config around another app), answering."""
        port = free_port()
        proc = self.start(name, command, PORT=str(port), **env)
        proc.url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 90
        while time.monotonic() < end:
            try:
                requests.get(proc.url + "/core/health/live/", timeout=15)
                # Every worker booted: the first request may not have reached them all.
                proc.wait_for("Booting worker", count=int(env.get("WEB_CONCURRENCY", "2")))
                return proc
            except requests.RequestException:  # not listening yet, or a busy machine's slow boot
                if proc.popen.poll() is not None:
                    break
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer; log: {proc.log}")

    def baseline(self, **env: str) -> Proc:
        raw = self.workdir / "raw"
        raw.mkdir(exist_ok=True)
        return self.web(
            baseline_command(), name="baseline",
            DJANGO_SETTINGS_MODULE="bench.baseline.settings", BENCH_UPLOAD_DIR=str(raw), **env,
        )

    def worker(self, **env: str) -> Proc:
        proc = self.start("worker", **env)
        proc.wait_for("ready.", count=2)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)

    def flush_redis(self) -> None:
        redis.Redis.from_url(self.redis_url).flushdb()

    def prepare_database(self) -> None:
        """Create the bench's database if missing and run the release phase against it."""
        url = urlparse(self.database_url)
        name = url.path.lstrip("/")
        admin = psycopg2.connect(
            host=url.hostname, port=url.port or 5432, user=url.username,
            password=url.password or "", dbname="postgres",
        )
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        release = self.start("release")
        if release.popen.wait(300) != 0:
            raise RuntimeError(f"release failed; log: {release.log}")
        self.procs.remove(release)


def baseline_command() -> str:
    """The Procfile's web command, same gunicorn config, serving the bench's minimal project."""
    return procfile()["web"].replace("practika_project.wsgi", "bench.baseline.wsgi")
