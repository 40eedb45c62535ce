"""What the web processes count as they serve requests.

Under gunicorn each worker process counts on its own; gunicorn.conf.py sets
PROMETHEUS_MULTIPROC_DIR so a scrape adds up every worker's files instead of seeing one worker.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "practika_http_requests",
    "HTTP requests answered, by method (OTHER for a non-standard one) and status code.",
    ["method", "status"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "practika_http_request_duration_seconds",
    "Time to answer an HTTP request, by method (OTHER for a non-standard one).",
    ["method"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
UPLOAD_BYTES = Counter(
    "practika_upload_bytes", "Bytes of video accepted by uploads, by route (api or tus).",
    ["via"], registry=REGISTRY,
)
