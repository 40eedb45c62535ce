"""Fault infrastructure: a private PostgreSQL cluster and private Redis servers that these tests
may stop, restart and kill, plus a `stack` of real web, worker and beat processes.

The shared PostgreSQL (5432) and Redis (6379) serve the whole team's tests and are never
touched here; outages are staged on private servers on free ports.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import Proc, free_port, need, procfile, wait_http

pytestmark = pytest.mark.slow

PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(re.findall(r"\d+", p)[-1]))
REDIS_SERVER = shutil.which("redis-server")
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "psycopg2", "OperationalError")


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI and this machine run tests as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """A throwaway cluster in /tmp (postgres must be able to reach it, so not under tmp_path)."""

    def __init__(self) -> None:
        self.bin = Path(PG_BINS[-1])
        self.root = Path(tempfile.mkdtemp(prefix="practika-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / tool), *args]), check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def psql(self, sql: str, db: str = "postgres") -> str:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-tA", "-c", sql],
            check=True, capture_output=True, text=True, timeout=30,
        )
        return out.stdout.strip()

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped by the test
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own; it keeps its data across stop/start, like a managed Redis."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.popen = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
             "--save", "", "--appendonly", "no", "--dbfilename", "dump.rdb"],
            stdout=(self.root / "redis.log").open("ab"), stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("the private redis-server did not start")

    def stop(self) -> None:
        """An orderly outage: the data is saved, so queued jobs survive it."""
        try:
            redis.Redis(port=self.port).shutdown(save=True)
        except redis.ConnectionError:
            pass  # shutdown closes the connection under us
        self.popen.wait(10)

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture(scope="session")
def private_postgres():
    need("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", bool(PG_BINS) and shutil.which("psql") is not None)
    cluster = PrivatePostgres()
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture
def private_redis(tmp_path):
    need("redis-server", REDIS_SERVER is not None)
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@dataclass
class Stack:
    """Real web, worker and beat processes of one test, and the URL the web answers on."""

    start_proc: object
    env: dict[str, str]
    base: str = ""
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, command: str | None = None, **env: str) -> Proc:
        proc = self.start_proc(name, command, **{**self.env, **env})
        self.procs.append(proc)
        return proc

    def logs_full(self) -> str:
        return "\n".join(p.output() for p in self.procs)

    def logs(self) -> str:
        return "\n".join(f"===== {p.name} =====\n{p.output()[-6000:]}" for p in self.procs)

    def web(self, **env: str) -> Proc:
        port = free_port()
        proc = self.start("web", **{"PORT": str(port), "WEB_CONCURRENCY": "1", **env})
        self.base = f"http://127.0.0.1:{port}"
        wait_http(self.base + "/core/health/live/", timeout=60)
        return proc

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.base + path, timeout=kwargs.pop("timeout", 10), **kwargs)


@pytest.fixture
def stack(processes, settings) -> Stack:
    from django.core.management import call_command

    # The release phase's periodic tasks, in the test database the processes share.
    settings.SELF_CHECK_INTERVAL = 5
    call_command("setup_periodic_tasks", stdout=open(os.devnull, "w"))
    # Production-like error handling: DEBUG off, so a failure shows the error page, not a trace.
    running = Stack(processes, {"DEBUG": "False", "SELF_CHECK_INTERVAL": "5", "LOG_LEVEL": "INFO"})
    yield running
    print(running.logs())  # pytest shows it only when the test failed


def release(stack: Stack, **env: str) -> None:
    """The release phase (migrations, periodic tasks), as the platform runs it before a deploy."""
    # The Procfile line is `a && b`: the processes fixture's `exec` would run only `a`.
    proc = stack.start("release", f"bash -c {shlex.quote(procfile()['release'])}", **env)
    code = proc.popen.wait(180)
    assert code == 0, proc.output()[-4000:]


def assert_no_traceback(body: str) -> None:
    for marker in TRACEBACK_MARKERS:
        assert marker not in body, f"{marker!r} reached the user:\n{body[:2000]}"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout} s (last: {last!r})")


def kill_group(proc: Proc, signum: int = signal.SIGKILL) -> None:
    proc.signal(signum)
    proc.popen.wait(60)


# --- Users, uploads and videos, seen from outside ---------------------------------------------


def user_token(username: str, *, staff: bool = False) -> str:
    """A user (password = username * 2) and the API token a client would hold."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user(username, password=username * 2, is_staff=staff)
    return Token.objects.create(user=user).key


def upload(base: str, token: str, path: Path, *, title: str = "clip", visibility: str = "private",
           timeout: float = 30) -> requests.Response:
    with path.open("rb") as f:
        return requests.post(
            f"{base}/core/api/videos/", headers={"Authorization": f"Token {token}"},
            data={"title": title, "visibility": visibility}, files={"file": (path.name, f, "video/mp4")},
            timeout=timeout,
        )


def statuses(ids: list[str]) -> dict[str, str]:
    from domain.videos.models import Video

    return dict(Video.objects.filter(id__in=ids).values_list("id", "status"))


def wait_ready(ids: list[str], timeout: float) -> None:
    def all_ready() -> bool:
        found = statuses(ids)
        failed = {i: s for i, s in found.items() if s == "failed"}
        assert not failed, f"videos failed: {failed}"
        return len(found) == len(ids) and set(found.values()) == {"ready"}

    wait_until(all_ready, timeout, f"videos {ids} all ready", interval=0.5)


def latest_worker_report_after(moment: float) -> bool:
    """A scheduled report that a worker (not beat's fallback) recorded after `moment`."""
    from domain.health.models import HealthReport

    for report in HealthReport.objects.filter(period__isnull=False)[:5]:
        if report.created_at.timestamp() > moment and report.checks.get("scheduler", {}).get("recorded_by") == "worker":
            return True
    return False
