"""Figures that live in the database and the broker, read when Prometheus scrapes.

Jobs by state (videos, and processing steps by outcome), queue depths, step durations over the
last hour, and the latest scheduled self-check, so one scrape shows what the runbook watches.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, F, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, SummaryMetricFamily

from domain.health.checks import queue_depths
from domain.health.models import HealthReport
from domain.videos.models import JobStep, Video

DURATION_WINDOW = timedelta(hours=1)


def video_states() -> GaugeMetricFamily:
    family = GaugeMetricFamily("practika_videos", "Videos by processing status.", labels=["status"])
    counts = dict(Video.objects.values_list("status").annotate(n=Count("id")))
    for status in Video.Status.values:
        family.add_metric([status], counts.get(status, 0))
    return family


def step_states() -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "practika_job_steps", "Processing steps started in the last hour, by step and outcome.",
        labels=["step", "outcome"],
    )
    since = timezone.now() - DURATION_WINDOW
    rows = JobStep.objects.filter(started_at__gte=since).values_list("step", "outcome").annotate(n=Count("id"))
    for step, outcome, n in rows:
        family.add_metric([step, outcome], n)
    return family


def step_durations() -> SummaryMetricFamily:
    family = SummaryMetricFamily(
        "practika_job_step_duration_seconds", "Finished processing steps of the last hour, by step.",
        labels=["step"],
    )
    since = timezone.now() - DURATION_WINDOW
    rows = (
        JobStep.objects.filter(finished_at__gte=since)
        .values("step")
        .annotate(n=Count("id"), total=Sum(F("finished_at") - F("started_at")))
    )
    for row in rows:
        family.add_metric([row["step"]], count_value=row["n"], sum_value=row["total"].total_seconds())
    return family


def queue_lengths() -> GaugeMetricFamily:
    family = GaugeMetricFamily("practika_queue_length", "Jobs waiting in the broker, by queue.", labels=["queue"])
    for queue, depth in (queue_depths() or {}).items():  # none from the development broker
        family.add_metric([queue], depth)
    return family


def self_check() -> list[GaugeMetricFamily]:
    report = HealthReport.objects.first()
    ok = GaugeMetricFamily("practika_selfcheck_ok", "1 when the check passed in the latest self-check.", labels=["check"])
    latency = GaugeMetricFamily(
        "practika_selfcheck_latency_seconds", "Each check's latency in the latest self-check.", labels=["check"]
    )
    age = GaugeMetricFamily("practika_selfcheck_age_seconds", "Seconds since the latest scheduled self-check.")
    if report is not None:
        for name, result in sorted(report.checks.items()):
            ok.add_metric([name], 1 if result.get("ok") else 0)
            latency.add_metric([name], float(result.get("latency_ms") or 0) / 1000)
        age.add_metric([], (timezone.now() - report.created_at).total_seconds())
    return [ok, latency, age]


class PractikaCollector:
    def collect(self):
        yield video_states()
        yield step_states()
        yield step_durations()
        yield from self_check()
        try:
            yield queue_lengths()
        except Exception:  # a broker outage must not cost the scrape; the runbook watches `up` too
            yield GaugeMetricFamily("practika_queue_length", "Jobs waiting in the broker, by queue.", labels=["queue"])
