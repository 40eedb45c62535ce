"""Every page in real headless Chromium at phone and desktop width: it fits, it logs no error,
and a screenshot lands under tests/artifacts/screens/ for people to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from domain.health.models import HealthReport
from domain.videos.models import Video
from tests.web.pages.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    fits,
    login,
    shoot,
    signup,
)

pytestmark = pytest.mark.slow


def _day_of_reports() -> None:
    """A day of self-check reports every 20 minutes, with a slow spell and one outage."""
    now = timezone.now()
    for i in range(72):
        at = now - timedelta(minutes=20 * i + 1)
        slow = 20 <= i < 26
        checks = {
            "database": {"ok": i != 40, "latency_ms": 1.5 + (i % 5) * 0.3},
            "cache": {"ok": True, "latency_ms": 0.4 + (i % 3) * 0.1},
            "broker": {"ok": True, "latency_ms": 2.0 + (i % 4)},
            "storage": {"ok": True, "latency_ms": 3.0 + (60 if slow else 0)},
            "workers": {"ok": not slow, "latency_ms": 1000.0 if slow else 15.0 + i % 7},
        }
        status = "down" if i == 40 else "degraded" if slow else "ok"
        report = HealthReport.objects.create(status=status, duration_ms=20, checks=checks)
        HealthReport.objects.filter(id=report.id).update(created_at=at)


def test_every_page_fits_a_phone_and_a_desktop_without_errors(live, browse):
    User.objects.create_user("staff", password=PASSWORD, is_staff=True)
    _day_of_reports()
    visitor = browse()
    member = browse()
    staff = browse()
    page = member.new_page()
    signup(page, live, "dana")
    login(staff.new_page(), live, "staff")
    # A video part-way through processing, as its owner sees it in the library and on its page.
    cooking = Video.objects.create(
        owner=User.objects.get(username="dana"), title="Still cooking", status="processing", progress=40,
        heartbeat_at=timezone.now(),
    )

    tour = [
        (visitor, "/", "library-anonymous"),
        (visitor, "/accounts/login/", "login"),
        (visitor, "/accounts/signup/", "signup"),
        (visitor, "/videos/no-such-video/", "404"),
        (visitor, "/accounts/logout/", "logout-anonymous"),
        (member, "/?show=public", "library-empty"),
        (member, "/?show=mine", "library-processing"),
        (member, f"/videos/{cooking.id}/", "watch-processing"),
        (member, f"/videos/{cooking.id}/delete/", "delete-confirm"),
        (member, "/status/", "403"),
        (member, "/videos/upload/", "upload"),
        (member, "/accounts/password/", "password-change"),
        (member, "/accounts/logout/", "logout"),
        (staff, "/status/", "status"),
    ]
    for viewport in (PHONE, DESKTOP):
        for who, path, name in tour:
            page = who.new_page(viewport)
            response = page.goto(live(path))
            assert response.status == {"404": 404, "403": 403}.get(name, 200), path
            fits(page)
            shoot(page, name)
            page.close()
    for who in (visitor, member, staff):
        assert who.errors == []


def test_a_form_posted_without_its_csrf_token_is_refused_and_with_it_works_by_keyboard(live, browse):
    User.objects.create_user("lee", password=PASSWORD)
    page = browse().new_page()
    page.goto(live("/accounts/login/"))
    response = page.request.post(live("/accounts/login/"), form={"username": "lee", "password": PASSWORD})
    assert response.status == 403
    assert "security token" in response.text()

    # By keyboard alone: the first Tab offers the skip link; the login form starts in its first
    # field, Tab moves on, Enter submits.
    page.goto(live("/"))
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.goto(live("/accounts/login/"))
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("lee")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(live("/"))
    expect(page.get_by_role("link", name="lee")).to_be_visible()


def test_the_status_page_is_staff_only(live, browse):
    _day_of_reports()
    member = browse().new_page()
    signup(member, live, "erin")
    assert member.goto(live("/status/")).status == 403
    User.objects.filter(username="erin").update(is_staff=True)
    member.goto(live("/status/"))
    chart = member.get_by_role("img", name="Check latencies and overall status, last 24 hours")
    assert chart.is_visible()
