"""The staff health dashboard: the latest report, the history, and a 24-hour chart.

The chart is computed here as coordinates and drawn by the template as inline SVG, so it is a
picture without any JavaScript, and every label passes through the template's escaping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone

from domain.health.models import HealthReport
from web.api.authentication import accepts_api_token

WINDOW = timedelta(hours=24)
HISTORY_ROWS = 50
# Colour-blind-safe palette (Okabe-Ito), one per check in name order.
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000", "#f0e442"]

WIDTH, HEIGHT = 960, 330
LEFT, RIGHT, TOP = 64, 16, 14
PLOT_H = 230
STRIP_Y, STRIP_H = TOP + PLOT_H + 10, 12
# Latencies span from a fraction of a millisecond (the cache) to seconds (a worker ping): log scale.
FLOOR_MS = 0.1


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    points: str
    failures: list[tuple[float, float]]
    last_ms: float | None


@dataclass(frozen=True)
class Mark:
    x: float
    width: float
    status: str
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    strip_y: int
    strip_h: int
    series: list[Series]
    marks: list[Mark]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    summary: str


def _ms_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"


def latency_chart(reports: list[HealthReport], *, now: datetime) -> Chart:
    start = now - WINDOW
    plot_w = WIDTH - LEFT - RIGHT
    bottom = TOP + PLOT_H
    latencies = [
        float(c.get("latency_ms") or 0) for r in reports for c in r.checks.values() if isinstance(c, dict)
    ]
    top_decade = max(1, math.ceil(math.log10(max([FLOOR_MS * 10, *latencies]))))
    low_decade = math.log10(FLOOR_MS)

    def x_of(t: datetime) -> float:
        return round(LEFT + plot_w * (t - start).total_seconds() / WINDOW.total_seconds(), 1)

    def y_of(ms: float) -> float:
        frac = (math.log10(max(ms, FLOOR_MS)) - low_decade) / (top_decade - low_decade)
        return round(bottom - PLOT_H * frac, 1)

    names = sorted({name for r in reports for name in r.checks})
    series = []
    for i, name in enumerate(names):
        points, failures, last = [], [], None
        for r in reports:
            check = r.checks.get(name)
            if not isinstance(check, dict):
                continue
            last = float(check.get("latency_ms") or 0)
            point = (x_of(r.created_at), y_of(last))
            points.append(f"{point[0]},{point[1]}")
            if not check.get("ok"):
                failures.append(point)
        series.append(Series(name, PALETTE[i % len(PALETTE)], " ".join(points), failures, last))

    slot = max(1.5, plot_w * settings.SELF_CHECK_INTERVAL / WINDOW.total_seconds())
    marks = [
        Mark(x_of(r.created_at), round(slot, 1), r.status, f"{r.created_at:%H:%M} {r.status}") for r in reports
    ]
    y_ticks = [(y_of(10**d), _ms_label(10**d)) for d in range(round(low_decade), top_decade + 1)]
    first_hour = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    x_ticks = [
        (x_of(first_hour + timedelta(hours=h)), f"{first_hour + timedelta(hours=h):%H:%M}")
        for h in range(0, 24, 3)
    ]
    bad = sum(1 for r in reports if r.status != HealthReport.Status.OK)
    summary = f"{len(reports)} reports in the last 24 hours, {bad} not ok."
    return Chart(
        WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, bottom, STRIP_Y, STRIP_H,
        series, marks, y_ticks, x_ticks, summary,
    )


def _details(check: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in check.items() if k not in ("ok", "latency_ms"))


@accepts_api_token
@login_required
def status_view(request):
    if not request.user.is_staff:
        raise PermissionDenied("The status page is for staff.")
    now = timezone.now()
    window = list(HealthReport.objects.filter(created_at__gte=now - WINDOW).order_by("created_at"))
    latest = HealthReport.objects.first()
    checks = []
    if latest is not None:
        checks = [
            {"name": name, "ok": c.get("ok"), "latency_ms": c.get("latency_ms"), "details": _details(c)}
            for name, c in sorted(latest.checks.items())
            if isinstance(c, dict)
        ]
    return render(
        request,
        "pages/status.html",
        {
            "latest": latest,
            "checks": checks,
            "history": HealthReport.objects.all()[:HISTORY_ROWS],
            "chart": latency_chart(window, now=now) if window else None,
            "interval": settings.SELF_CHECK_INTERVAL,
        },
    )
