"""Browser fixtures: the real web, worker and beat processes, and Debian's Chromium headless.

The web process runs the development settings with DEBUG off: production's CSRF origin check
refuses plain http, and DEBUG would replace our 404 page with Django's technical one. With DEBUG
off WhiteNoise serves collected files, so the session collects them once first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connections
from playwright.sync_api import expect

from tests.conftest import BASE_DIR, free_port, need, wait_http

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = BASE_DIR / "tests" / "artifacts"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
PASSWORD = "a-long practice passphrase"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def chromium(request):
    """Per test: while Playwright's sync API runs, this thread counts as async to Django, which
    would break every ORM-using test that came after a session-long browser. A test module may
    add arguments of its own (CHROMIUM_EXTRA_ARGS), such as a fake camera."""
    need(f"Chromium at {CHROMIUM}", Path(CHROMIUM).exists())
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, *getattr(request.module, "CHROMIUM_EXTRA_ARGS", [])]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> str:
    """A fresh STATIC_ROOT of our own: the shared staticfiles/ may hold another build's stale
    .gz copies, which WhiteNoise would prefer to the current files."""
    root = str(tmp_path_factory.mktemp("static"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "practika_project.settings", "STATIC_ROOT": root}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, check=True, env=env)
    return root


@dataclass
class Live:
    url: str
    web: object

    def __call__(self, path: str) -> str:
        return self.url + path


# Small chunks, so a short clip spans several PATCHes; by default they do not grow.
CHUNK = 128 * 1024


def start_live(processes, collected_static, **env) -> Live:
    """web, worker and beat as the Procfile starts them, on a free port."""
    release = processes("release")
    assert release.popen.wait(120) == 0, release.output()
    port = free_port()
    env = {"UPLOAD_CHUNK_BYTES": str(CHUNK), "UPLOAD_CHUNK_MAX_BYTES": str(CHUNK), **env}
    web = processes(
        "web", PORT=str(port), DEBUG="false", STATIC_ROOT=collected_static, WEB_CONCURRENCY="1", GUNICORN_THREADS="8",
        **env,
    )
    processes("worker")
    processes("beat")
    url = f"http://127.0.0.1:{port}"
    assert wait_http(url + "/core/health/live/", timeout=60).status_code == 200, web.output()
    return Live(url, web)


@pytest.fixture
def live(processes, collected_static, ffmpeg) -> Live:
    return start_live(processes, collected_static)


@dataclass
class Browsing:
    """Pages opened in one browser context, with every console error and page error they saw."""

    context: object
    errors: list[str] = field(default_factory=list)

    def _console(self, page, message) -> None:
        # The document's own status (a 404 page) is asserted by the tests, not reported here.
        if message.type != "error" or message.location.get("url") == page.url:
            return
        self.errors.append(f"{page.url}: {message.text}")

    def new_page(self, viewport: dict | None = None):
        page = self.context.new_page()
        if viewport:
            page.set_viewport_size(viewport)
        page.on("console", lambda m: self._console(page, m))
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        # Leaving a page mid-upload asks "are you sure?": the tests mean it.
        page.on("dialog", lambda d: d.accept())
        return page


@pytest.fixture
def browse(chromium, request, monkeypatch):
    """browse() -> a fresh context (its own cookies); screenshots of its pages if the test fails."""
    # Playwright's sync API keeps an asyncio loop marked running on this thread; the ORM calls
    # the tests make between browser steps are ordinary blocking calls, which Django must be told.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    opened: list[Browsing] = []

    def open_context() -> Browsing:
        b = Browsing(chromium.new_context(viewport=DESKTOP))
        b.context.set_default_timeout(20_000)
        opened.append(b)
        return b

    yield open_context
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for i, b in enumerate(opened):
            for j, page in enumerate(b.context.pages):
                page.screenshot(path=str(ARTIFACTS / f"{name}-{i}-{j}.png"), full_page=True)
    for b in opened:
        b.context.close()
    # ORM calls made while Playwright ran may hold a connection of their own: close it, or the
    # test database cannot be dropped at the end of the session.
    connections.close_all()


def signup(page, live: Live, username: str) -> None:
    page.goto(live("/accounts/signup/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(live("/"))


def login(page, live: Live, username: str) -> None:
    page.goto(live("/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live("/"))


def fits(page) -> None:
    """No horizontal scroll: nothing is wider than the viewport."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px at {page.viewport_size['width']} px"


def shoot(page, name: str) -> Path:
    """Screenshots under tests/artifacts/screens/ for people to look at: the whole page, and
    the first screenful as a visitor sees it."""
    path = ARTIFACTS / "screens" / f"{name}-{page.viewport_size['width']}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.screenshot(path=str(path.with_name(path.stem + "-top.png")))
    return path


def loop_holds(page, seek, *, times: int) -> None:
    """Sets an A–B loop from 1.0 s to 3.2 s by keyboard (a segment boundary lies between) and
    plays: the playhead comes back to A `times` times and never gets past B by more than a step.
    `seek(page, seconds)` is the caller's own, since a growing stream must wait to be seekable."""
    page.evaluate("() => document.getElementById('player').pause()")
    seek(page, 1.0)
    page.keyboard.press("[")
    seek(page, 3.2)
    page.keyboard.press("]")
    expect(page.locator("#loop-info")).to_have_text("Looping 0:01.0 – 0:03.2")
    page.evaluate(
        "() => { const v = document.getElementById('player'); window.loops = 0; window.latest = 0; let last = v.currentTime;"
        " v.addEventListener('timeupdate', () => { if (v.currentTime < last - 1) loops++;"
        " last = v.currentTime; latest = Math.max(latest, last); }); }"
    )
    seek(page, 1.0)
    page.keyboard.press("k")
    page.wait_for_function(f"() => window.loops >= {times}", timeout=30_000)
    assert page.evaluate("() => window.latest") < 3.5
