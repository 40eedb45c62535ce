"""gunicorn for Heroku: $PORT, $WEB_CONCURRENCY, the router's 30 s limits."""

from __future__ import annotations

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads let one worker stream a slow upload while it answers JSON requests.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Heroku's router gives up after 30 s; a stuck request should be killed a little earlier...
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "28"))
# ...and SIGKILL follows SIGTERM 30 s later, so in-flight requests get less than that to finish.
graceful_timeout = 20
keepalive = 5
max_requests = 1000
max_requests_jitter = 100
# The router is the only peer a dyno has; trust its X-Forwarded-* headers.
forwarded_allow_ips = "*"
accesslog = "-"
errorlog = "-"
# Only documented atoms: %(M)s is the duration in milliseconds, {x-request-id}o the echoed id.
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(f)s" "%(a)s"'
)
