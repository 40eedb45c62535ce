"""gunicorn for Heroku: $PORT, $WEB_CONCURRENCY, the router's 30 s limits."""

from __future__ import annotations

import os
import tempfile

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
# Recycling guards against slow leaks; a worker takes ~1 s to start again, so not too often.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# The router is the only peer a dyno has; trust its X-Forwarded-* headers.
forwarded_allow_ips = "*"
# The heartbeat file gunicorn touches every second must not sit on a container's overlay disk,
# where a slow write looks like a hung worker; /dev/shm is memory on Docker and on dynos alike.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Each worker counts its requests on its own; prometheus_client adds the workers' files up when
# /core/metrics/ is scraped. A fresh folder per server start, so old counts never leak in.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="practika-metrics-")


def post_worker_init(worker):
    # Bodies that stall, and answers that leave a body unread, must not hold a thread or break the
    # client's next request on the connection: a guard around the application, which needs
    # gunicorn's socket and the switch below (web/request_body.py).
    from web.request_body import RequestBodyMiddleware

    worker.wsgi = RequestBodyMiddleware(worker.wsgi)


def pre_request(worker, req):
    worker.log.debug("%s %s", req.method, req.path)  # what gunicorn's own hook does
    # An answer that leaves the request's body unread must close the connection, and gunicorn
    # drops a "Connection" header from the application: the application gets the request's own
    # switch instead, on its body, which it sees as environ["wsgi.input"] (web/request_body.py).
    from web.request_body import CLOSE_CONNECTION

    setattr(req.body, CLOSE_CONNECTION, req.force_close)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# gunicorn ≥ 25 opens a control socket under $HOME; a dyno's home is not writable for the app
# user and nobody attaches to a dyno's master, so the socket only logs a permission error.
control_socket_disable = True
# Its lines go through the same query-string redaction as Django's, in either LOG_FORMAT.
logger_class = "practika_project.logging.GunicornLogger"
accesslog = "-"
errorlog = "-"
# Only documented atoms: %(M)s is the duration in milliseconds, {x-request-id}o the echoed id.
# The request line is logged without its query string (%(U)s, not %(r)s): signed media URLs
# carry their signature there, and a log reader must not be able to replay them.
access_log_format = (
    '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s "%(f)s" "%(a)s"'
)

# Production logs one JSON object per line (LOG_FORMAT, the same switch as Django's LOGGING), so
# gunicorn's own lines and the access log are JSON there too, the access line with its fields.
_production = os.environ.get("DJANGO_SETTINGS_MODULE") == "practika_project.production"
if os.environ.get("LOG_FORMAT", "json" if _production else "text") == "json":
    logconfig_dict = {
        "root": {"level": "INFO", "handlers": []},
        "loggers": {
            name: {"level": "INFO", "handlers": ["stdout"], "propagate": False}
            for name in ("gunicorn.error", "gunicorn.access")
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}
        },
        "formatters": {
            "json": {
                "()": "practika_project.logging.GunicornJsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
    }
