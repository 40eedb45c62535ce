"""Run every check now and print a table: for operators, and for `heroku run`.

Exits 0 when the status is ok, 1 when degraded, 2 when down. Records nothing: a manual run
must not make a dead scheduler look alive.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from domain.health.checks import check_scheduler, overall_status, run_checks
from workers.selfcheck import REPORT_CHECKS

EXIT_CODES = {"ok": 0, "degraded": 1, "down": 2}


def detail(result: dict) -> str:
    parts = [result["error"]] if "error" in result else []
    parts += [f"{k}={json.dumps(v)}" for k, v in result.items() if k not in ("ok", "latency_ms", "error")]
    return "; ".join(parts)


class Command(BaseCommand):
    help = "Run the health checks now, print a table, exit non-zero unless ok."

    def handle(self, *args, **options):
        results = run_checks({**REPORT_CHECKS, "scheduler": check_scheduler})
        status = overall_status(results)
        width = max(len(name) for name in results)
        for name, result in results.items():
            mark = "ok" if result["ok"] else "FAIL"
            self.stdout.write(f"{name:<{width}}  {mark:<4}  {result['latency_ms']:>8.1f} ms  {detail(result)}")
        self.stdout.write(f"status: {status}")
        if status != "ok":
            raise SystemExit(EXIT_CODES[status])
