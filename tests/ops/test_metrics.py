"""/core/metrics/: Prometheus text for staff or a token holder, with what the runbook watches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from domain.health.models import HealthReport
from domain.videos.models import JobStep, Video
from web.metrics.middleware import KNOWN_METHODS
from web.metrics.views import FORBIDDEN

URL = "/core/metrics/"


def samples(response) -> dict[tuple[str, tuple], float]:
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ops", password="pw-ops-12345", is_staff=True))
    return client


@pytest.mark.django_db
def test_anonymous_and_ordinary_users_are_refused(client, django_user_model):
    response = client.get(URL)
    assert response.status_code == 403 and response.json() == {"error": FORBIDDEN}
    client.force_login(django_user_model.objects.create_user("bob", password="pw-bob-12345"))
    assert client.get(URL).status_code == 403


@pytest.mark.django_db
def test_a_scraper_with_the_token_gets_in_and_a_wrong_token_does_not(client, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer scrape-token-0123456789").status_code == 200
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer scrape-token-wrong").status_code == 403
    settings.METRICS_TOKEN = ""
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db
def test_requests_are_counted_by_method_and_status(staff):
    before = samples(staff.get(URL)).get(("practika_http_requests_total", (("method", "GET"), ("status", "404"))), 0)
    staff.get("/no/such/page/")
    after = samples(staff.get(URL))
    assert after[("practika_http_requests_total", (("method", "GET"), ("status", "404")))] == before + 1
    assert after[("practika_http_request_duration_seconds_count", (("method", "GET"),))] >= 2


@pytest.mark.django_db
def test_videos_steps_and_their_durations_are_reported(staff, django_user_model):
    owner = django_user_model.objects.create_user("carol", password="pw-carol-1234")
    ready = Video.objects.create(owner=owner, title="r", status=Video.Status.READY)
    Video.objects.create(owner=owner, title="p", status=Video.Status.PENDING)
    now = timezone.now()
    JobStep.objects.create(video=ready, attempt=1, step="transcode", started_at=now - timedelta(seconds=12),
                           finished_at=now, outcome=JobStep.Outcome.OK)
    JobStep.objects.create(video=ready, attempt=1, step="probe", outcome=JobStep.Outcome.RUNNING)
    got = samples(staff.get(URL))
    assert got[("practika_videos", (("status", "ready"),))] == 1
    assert got[("practika_videos", (("status", "pending"),))] == 1
    assert got[("practika_videos", (("status", "failed"),))] == 0
    assert got[("practika_job_steps", (("outcome", "ok"), ("step", "transcode")))] == 1
    assert got[("practika_job_steps", (("outcome", "running"), ("step", "probe")))] == 1
    assert got[("practika_job_step_duration_seconds_count", (("step", "transcode"),))] == 1
    assert got[("practika_job_step_duration_seconds_sum", (("step", "transcode"),))] == pytest.approx(12, abs=0.5)


@pytest.mark.django_db
def test_the_latest_self_check_is_reported(staff):
    HealthReport.objects.create(status="degraded", duration_ms=30, checks={
        "database": {"ok": True, "latency_ms": 4.0}, "workers": {"ok": False, "latency_ms": 1000.0},
    })
    got = samples(staff.get(URL))
    assert got[("practika_selfcheck_ok", (("check", "database"),))] == 1
    assert got[("practika_selfcheck_ok", (("check", "workers"),))] == 0
    assert got[("practika_selfcheck_latency_seconds", (("check", "workers"),))] == pytest.approx(1.0)
    assert got[("practika_selfcheck_age_seconds", ())] < 60


@pytest.mark.django_db
def test_queue_lengths_come_from_the_broker(staff, settings, clean_redis):
    import redis

    # REDIS_URL is the broker (settings.py), and clean_redis is that same database, emptied.
    redis.Redis.from_url(clean_redis).lpush(settings.VIDEO_QUEUE, "a", "b")
    got = samples(staff.get(URL))
    assert got[("practika_queue_length", (("queue", "video"),))] == 2
    assert got[("practika_queue_length", (("queue", "short"),))] == 0


@pytest.mark.django_db
def test_accepted_upload_bytes_are_counted(staff, clip):
    path = clip("up.mp4", seconds=1, width=160, height=120)
    key = ("practika_upload_bytes_total", (("via", "api"),))
    before = samples(staff.get(URL)).get(key, 0)
    with path.open("rb") as f:
        created = staff.post("/core/api/videos/", {"file": f, "title": "counted"})
    assert created.status_code == 201, created.content
    assert samples(staff.get(URL))[key] >= before + path.stat().st_size


@pytest.mark.django_db
def test_made_up_methods_share_one_label_and_the_series_stay_bounded(staff):
    """500 made-up methods once made 9,000 series: each was a label value of its own."""
    def http_series(scrape: dict) -> set:
        return {key for key in scrape if key[0].startswith("practika_http_request")}

    # gunicorn hands any upper-case token of 3 to 20 characters to Django as the method.
    assert staff.generic("MADEUP", "/core/api/videos/").status_code == 405
    staff.get(URL)  # the scrape itself is counted once it has answered
    before = samples(staff.get(URL))
    for n in range(500):
        assert staff.generic(f"MADEUP{n}", "/core/api/videos/").status_code == 405
    after = samples(staff.get(URL))

    other = ("practika_http_requests_total", (("method", "OTHER"), ("status", "405")))
    assert after[other] == before[other] + 500
    assert http_series(after) == http_series(before)
    labels = {(label, value) for _, pairs in http_series(after) for label, value in pairs}
    # Earlier tests in this process may have counted any standard method; never a made-up one.
    assert {value for label, value in labels if label == "method"} <= {*KNOWN_METHODS, "OTHER"}
    assert all(value.isdigit() for label, value in labels if label == "status")


def test_a_status_outside_the_standard_codes_counts_as_other():
    from web.metrics.middleware import method_label, status_label

    assert status_label(404) == "404" and status_label(599) == "other"
    assert method_label("PATCH") == "PATCH" and method_label("PROPFIND") == "OTHER"
