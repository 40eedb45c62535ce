"""The pages through Django's test client: accounts, access rules, CSRF, the status chart."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from domain.health.models import HealthReport
from domain.videos.models import REPROCESSING_FAILED, Rendition, Video
from web.pages.status import latency_chart
from web.pages.templatetags.practika import duration

PASSWORD = "a-long practice passphrase"


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob", password=PASSWORD)


def test_signing_up_signs_you_in(client, db):
    response = client.post(
        "/accounts/signup/", {"username": "carol", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").context["user"].username == "carol"


def test_signup_shows_what_is_wrong(client, db):
    response = client.post("/accounts/signup/", {"username": "carol", "password1": "x", "password2": "y"})
    assert response.status_code == 200
    assert "didn’t match" in response.content.decode()


def test_logout_asks_on_get_and_logs_out_on_post(client, alice):
    client.force_login(alice)
    assert b"Log out" in client.get("/accounts/logout/").content
    assert client.get("/").context["user"].is_authenticated
    client.post("/accounts/logout/")
    assert not client.get("/").context["user"].is_authenticated


def test_password_change_keeps_you_signed_in(client, alice):
    client.force_login(alice)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "another long phrase", "new_password2": "another long phrase"},
    )
    assert response.status_code == 302
    assert client.get("/").context["user"].is_authenticated
    alice.refresh_from_db()
    assert alice.check_password("another long phrase")


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/logout/"])
def test_forms_without_a_csrf_token_are_refused(db, path):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(path, {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert b"security token" in response.content


def test_the_status_page_is_for_staff(client, alice):
    assert client.get("/status/")["Location"].startswith("/accounts/login/")
    client.force_login(alice)
    assert client.get("/status/").status_code == 403
    alice.is_staff = True
    alice.save()
    assert client.get("/status/").status_code == 200


def _report(minutes_ago: int, status: str = "ok", workers_ok: bool = True) -> HealthReport:
    checks = {
        "database": {"ok": True, "latency_ms": 1.2},
        "workers": {"ok": workers_ok, "latency_ms": 850.0, **({} if workers_ok else {"error": "no reply"})},
    }
    report = HealthReport.objects.create(status=status, duration_ms=900, checks=checks)
    HealthReport.objects.filter(id=report.id).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    report.refresh_from_db()
    return report


def test_the_status_page_draws_latencies_and_status_as_svg(client, alice):
    alice.is_staff = True
    alice.save()
    _report(120)
    _report(60, "degraded", workers_ok=False)
    _report(1)
    _report(60 * 30)  # older than the chart's 24 hours: history only
    client.force_login(alice)
    html = client.get("/status/").content.decode()
    svg = html[html.index("<svg"): html.index("</svg>")]
    assert svg.count("<polyline") == 2  # one line per check
    assert svg.count('class="mark ') == 3  # one status mark per report in the window
    assert 'class="mark degraded"' in svg
    assert "no reply" in html  # staff see the failing check's details in the history's report


def test_the_chart_puts_slower_checks_higher_and_later_reports_further_right():
    now = timezone.now()
    reports = [
        HealthReport(created_at=now - timedelta(hours=h), status="ok", duration_ms=1,
                     checks={"fast": {"ok": True, "latency_ms": 1}, "slow": {"ok": True, "latency_ms": 500}})
        for h in (20, 2)
    ]
    chart = latency_chart(reports, now=now)
    fast, slow = ({s.name: s for s in chart.series}[n] for n in ("fast", "slow"))
    (x_old, y_fast), (x_new, _) = (tuple(map(float, p.split(","))) for p in fast.points.split())
    y_slow = float(slow.points.split()[0].split(",")[1])
    assert x_old < x_new and y_slow < y_fast  # SVG y grows downwards
    assert chart.marks[0].x < chart.marks[1].x


def _video(owner, **fields) -> Video:
    return Video.objects.create(owner=owner, title=fields.pop("title", "Scales"), **fields)


def test_an_empty_library_says_what_to_do_first(client, alice):
    assert b"Sign up to upload your first video" in client.get("/").content
    client.force_login(alice)
    assert b"Upload your first video" in client.get("/").content


def test_the_library_shows_progress_and_failure_reasons(client, alice):
    _video(alice, title="Etude", status="processing", progress=42)
    _video(alice, title="Broken", status="failed", error="This file is not a video.")
    client.force_login(alice)
    html = client.get("/?show=mine").content.decode()
    assert "Etude" in html and "processing 42 %" in html
    assert "This file is not a video." in html


def test_the_owner_is_told_that_a_reprocess_failed_while_the_earlier_version_plays(client, alice, bob):
    error = REPROCESSING_FAILED.format(reason="The video is too long: the limit is 1 minute.")
    video = _video(alice, visibility="public", status="ready", error=error)
    client.force_login(alice)
    assert error in client.get(f"/videos/{video.id}/").content.decode()
    client.force_login(bob)
    assert error not in client.get(f"/videos/{video.id}/").content.decode()


def test_the_library_pages(client, alice):
    for i in range(30):
        _video(alice, title=f"Take {i}")
    client.force_login(alice)
    first, second = client.get("/"), client.get("/?page=2")
    assert "Page 1 of 2" in first.content.decode()
    assert len(first.context["tiles"]) == 24 and len(second.context["tiles"]) == 6


def _unmasked(html: bytes) -> bytes:
    """The page without its CSRF token, which Django masks differently on every response."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", html)


def test_someone_elses_private_video_is_the_same_404_as_a_missing_one(client, alice, bob):
    video = _video(alice)
    client.force_login(bob)
    hidden, missing = client.get(f"/videos/{video.id}/"), client.get("/videos/no-such-video/")
    assert hidden.status_code == missing.status_code == 404
    assert _unmasked(hidden.content) == _unmasked(missing.content)


def test_only_the_owner_edits(client, alice, bob):
    video = _video(alice, visibility="public")
    client.force_login(bob)
    assert client.post(f"/videos/{video.id}/edit/", {"title": "Mine now", "visibility": "public"}).status_code == 403
    client.force_login(alice)
    client.post(f"/videos/{video.id}/edit/", {"title": "Arpeggios", "description": "slow", "visibility": "unlisted"})
    video.refresh_from_db()
    assert (video.title, video.description, video.visibility) == ("Arpeggios", "slow", "unlisted")
    assert "Copy link" in client.get(f"/videos/{video.id}/").content.decode()


def test_staff_reprocess_from_the_page_as_through_the_api_and_nothing_more(client, alice, bob):
    video = _video(alice, visibility="public", status="failed", error="The worker crashed.")
    client.force_login(bob)
    assert client.post(f"/videos/{video.id}/reprocess/").status_code == 403
    assert ">Reprocess</button>" not in client.get(f"/videos/{video.id}/").content.decode()
    client.force_login(User.objects.create_user("sam", is_staff=True))
    html = client.get(f"/videos/{video.id}/").content.decode()
    assert ">Reprocess</button>" in html and "Delete…" not in html and "Edit details" not in html
    assert client.post(f"/videos/{video.id}/reprocess/")["Location"] == f"/videos/{video.id}/"
    video.refresh_from_db()
    assert video.status == "pending"
    assert client.post(f"/videos/{video.id}/edit/", {"title": "x", "visibility": "public"}).status_code == 403
    assert client.post(f"/videos/{video.id}/delete/").status_code == 403


def test_the_player_starts_with_the_sharpest_rendition_up_to_720p_unless_asked(client, alice):
    video = _video(alice, status="ready")
    for label, width, height in (("1080p", 1920, 1080), ("360p", 640, 360), ("720p", 1280, 720)):
        Rendition.objects.create(video=video, label=label, width=width, height=height, file=f"{label}.mp4", size_bytes=1)
    client.force_login(alice)
    page = client.get(f"/videos/{video.id}/")
    assert [s["label"] for s in page.context["sources"]] == ["360p", "720p", "1080p"]
    assert page.context["current"]["label"] == "720p"
    assert re.search(r'<option value="720p" data-url="[^"]+" selected>', page.content.decode())
    assert client.get(f"/videos/{video.id}/?quality=1080p").context["current"]["label"] == "1080p"
    assert b"pages/vendor/hls.min.js" not in page.content  # no stream, none to come: no hls.js


def test_the_player_is_handed_the_hls_stream_signed_like_every_media_url(client, alice):
    video = _video(alice, status="processing")
    client.force_login(alice)
    page = client.get(f"/videos/{video.id}/")
    assert page.context["state"]["hls_url"] is None
    assert b"pages/vendor/hls.min.js" in page.content  # the stream may appear while it processes

    master = f"{video.storage_prefix}hls/master.m3u8"
    Video.objects.filter(id=video.id).update(hls_playlist=master)
    page = client.get(f"/videos/{video.id}/")
    assert re.fullmatch(rf"/media/{master}\?e=\d+&s=[\w-]+", page.context["state"]["hls_url"])
    assert page.context["has_player"] and b"pages/vendor/hls.min.js" in page.content
    Video.objects.filter(id=video.id).update(visibility="public")
    assert client.get(f"/videos/{video.id}/").context["state"]["hls_url"] == f"/media/{master}"
    # A failed video's stream stops part-way: the page offers it no more than the API does.
    Video.objects.filter(id=video.id).update(status="failed")
    assert client.get(f"/videos/{video.id}/").context["state"]["hls_url"] is None


def test_delete_asks_first_then_removes(client, alice):
    video = _video(alice)
    client.force_login(alice)
    assert b"Delete for good" in client.get(f"/videos/{video.id}/delete/").content
    assert Video.objects.filter(id=video.id).exists()
    assert client.post(f"/videos/{video.id}/delete/")["Location"] == "/"
    assert not Video.objects.filter(id=video.id).exists()


def test_durations_read_like_a_clock():
    assert [duration(v) for v in (None, 4.6, 83.4, 3723)] == ["", "0:05", "1:23", "1:02:03"]


def test_the_upload_page_lists_the_users_interrupted_recordings_to_finish(client, alice, bob):
    from domain.uploads.services import upload_append, upload_create

    cut = upload_create(owner=alice, length=None, filename="take.webm", title="Scales <b>cut</b>")
    upload_append(owner=alice, key=cut.key, offset=0, content_length=3, chunks=[b"abc"])
    empty = upload_create(owner=alice, length=None, filename="take.webm", title="Nothing arrived")
    upload_create(owner=bob, length=None, filename="take.webm", title="Bob's take")
    client.force_login(alice)
    page = client.get("/videos/upload/").content.decode()

    assert "Interrupted recordings" in page and "Bob&#x27;s take" not in page
    assert f'data-url="/core/api/uploads/{cut.key}"' in page and "Scales &lt;b&gt;cut&lt;/b&gt;" in page
    assert page.count("Finish as video") == 1, "a take with no bytes can only be deleted"
    assert f'data-url="/core/api/uploads/{empty.key}"' in page
    client.force_login(bob)
    assert "Bob&#x27;s take" in client.get("/videos/upload/").content.decode()
    client.force_login(User.objects.create_user("carol"))
    assert re.search(r'<section id="interrupted"[^>]* hidden>', client.get("/videos/upload/").content.decode())


def test_no_template_comment_spans_lines():
    """Django's {# #} ends at the line's end: one left open is printed on the page as text."""
    templates = Path(__file__).resolve().parents[3] / "web"
    open_comments = [f"{path.name}:{number}" for path in templates.rglob("templates/**/*.html")
                     for number, line in enumerate(path.read_text().splitlines(), 1) if "{#" in line and "#}" not in line]
    assert open_comments == []
