"""Development settings, and the base that production.py hardens.

Every knob is an environment variable with a safe default (README has the table). With nothing
set, Practika runs on one machine with only Python: SQLite, media on local disk, a file-based
cache and a filesystem Celery broker, all under .var/.
"""

from __future__ import annotations

import ssl
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"

env = environ.Env()


def env_positive_int(name: str, default: int) -> int:
    """A count or a size that only makes sense above zero: a bad value stops the process with
    the variable's name, rather than run with a guess."""
    raw = env.str(name, default="").strip()
    if not raw:
        return default
    if not raw.isdecimal() or int(raw) == 0:
        raise ImproperlyConfigured(f"{name} must be a positive whole number, not {raw!r}")
    return int(raw)


SECRET_KEY = env("SECRET_KEY", default="django-insecure-development-only-key-do-not-deploy")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "web.errors.csrf_failure"
VERSION = env("PRACTIKA_VERSION", default=env("HEROKU_SLUG_COMMIT", default="dev"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "axes",
    "domain.videos",
    "domain.uploads",
    "domain.health",
    "domain.spaces",
    "workers",
    "web.pages",
    "web.accounts",
]

MIDDLEWARE = [
    "web.request_id.RequestIdMiddleware",
    "web.metrics.middleware.MetricsMiddleware",
    "practika_project.logging.LogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "web.security.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "web.health.middleware.LivenessMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Turns a sign-in that django-axes refused into its lockout page (web/security.py).
    "axes.middleware.AxesMiddleware",
]

# Inline style attributes remain in a few templates; scripts are only our static files.
CONTENT_SECURITY_POLICY = env(
    "CONTENT_SECURITY_POLICY",
    default="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; media-src 'self' blob: https:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
)

ROOT_URLCONF = "practika_project.urls"
WSGI_APPLICATION = "practika_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.pages.context.unread_notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections are worth ~60 % of throughput; health checks drop dead ones.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("sslmode", env("DATABASE_SSLMODE", default="prefer"))
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
else:
    # SQLite knows no sslmode; several processes share the file, so wait for the write lock.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and broker ----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Heroku Redis speaks TLS with a self-signed certificate: encrypt, but do not verify.
REDIS_SSL = REDIS_URL.startswith("rediss://")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "practika_project.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                **({"ssl_cert_reqs": None} if REDIS_SSL else {}),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ---------------------------------------------------------------------------------
VIDEO_QUEUE = "video"
SHORT_QUEUE = "short"
VIDEO_JOB_TIME_LIMIT = env.int("VIDEO_JOB_TIME_LIMIT", default=4 * 3600)
# Transcodes one `worker` process runs at once (its video node's processes).
VIDEO_WORKER_CONCURRENCY = env_positive_int("VIDEO_WORKER_CONCURRENCY", 2)
# Each ffmpeg (and probe) child: its threads, and its address space. A 4K source needs about
# 1.5 GB; past the limit the attempt goes back to the queue, the file is not blamed.
FFMPEG_THREADS = env_positive_int("FFMPEG_THREADS", 2)
FFMPEG_MAX_MEMORY_BYTES = env_positive_int("FFMPEG_MAX_MEMORY_BYTES", 3 * 1024**3)
# A source longer than VIDEO_CHUNKED_FROM seconds is transcoded in parts of VIDEO_CHUNK_SECONDS
# (rounded to whole segments) that any video worker of any dyno takes (docs/PERFORMANCE.md, B12).
VIDEO_CHUNK_SECONDS = env_positive_int("VIDEO_CHUNK_SECONDS", 60)
VIDEO_CHUNKED_FROM = env_positive_int("VIDEO_CHUNKED_FROM", 180)
# A part's worker beats every few seconds while ffmpeg runs; this long without a beat it is taken
# to be dead (killed, or its dyno gone) and the part is encoded again.
VIDEO_CHUNK_SILENT_SECONDS = env_positive_int("VIDEO_CHUNK_SILENT_SECONDS", 30)

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest job, so Redis never hands a running job to a second worker.
        "visibility_timeout": VIDEO_JOB_TIME_LIMIT + 3600,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        "health_check_interval": 25,
    }
    if REDIS_SSL:
        CELERY_BROKER_USE_SSL = {"ssl_cert_reqs": ssl.CERT_NONE}
else:
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "control", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # The default 1 s poll makes every job and every worker ping wait a second.
        "polling_interval": 0.1,
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = SHORT_QUEUE
CELERY_TASK_ROUTES = {"workers.tasks.video_*": {"queue": VIDEO_QUEUE}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("WORKER_SOFT_SHUTDOWN_TIMEOUT", default=20.0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BEAT_SCHEDULER = "workers.beat:Scheduler"  # the database scheduler, see workers/beat.py
CELERY_TIMEZONE = "UTC"

# --- Media and storage ----------------------------------------------------------------------
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "domain.s3_storage.MediaS3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "default_acl": None,
            "querystring_auth": True,
            # SigV4 presigned URLs (X-Amz-Expires): AWS refuses SigV2 on newer buckets.
            "signature_version": "s3v4",
            "querystring_expire": env.int("MEDIA_URL_MAX_AGE", default=3600),
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}

STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=2 * 1024**3)
MAX_VIDEO_SECONDS = env.float("MAX_VIDEO_SECONDS", default=3 * 3600)
# Originals and renditions together, per user; an upload past it is refused with a clear error.
MAX_USER_STORAGE_BYTES = env.int("MAX_USER_STORAGE_BYTES", default=10 * 1024**3)
MEDIA_URL_MAX_AGE = env.int("MEDIA_URL_MAX_AGE", default=3600)
# tus uploads: idle ones (and their bytes) are removed after this long. Clients are told to send
# chunks of UPLOAD_CHUNK_BYTES (the Practika-Upload-Chunk-Size header); S3 parts need >= 5 MiB.
UPLOAD_EXPIRY_SECONDS = env.int("UPLOAD_EXPIRY_SECONDS", default=24 * 3600)
# Unfinished uploads reserve their declared length from the quota; this many at most per user.
MAX_UNFINISHED_UPLOADS = env.int("MAX_UNFINISHED_UPLOADS", default=5)
UPLOAD_CHUNK_BYTES = env.int("UPLOAD_CHUNK_BYTES", default=8 * 1024 * 1024)
# A client on a fast link may send whole multiples of that, up to this (Practika-Upload-Chunk-Max).
UPLOAD_CHUNK_MAX_BYTES = env.int("UPLOAD_CHUNK_MAX_BYTES", default=64 * 1024 * 1024)
# A client that sends no byte of a request body for this many seconds loses the request (what
# arrived of a tus PATCH is kept, its lock released). Below GUNICORN_TIMEOUT (28 s) and the 30 s
# Heroku's router gives a request; a healthy upload never pauses this long.
REQUEST_BODY_TIMEOUT = env.float("REQUEST_BODY_TIMEOUT", default=20)
# Uploads stream to disk: Django never holds more than this much of a request in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default=None)

# --- Self-checks ----------------------------------------------------------------------------
SELF_CHECK_INTERVAL = env.int("SELF_CHECK_INTERVAL", default=60)
HEALTH_ALERT_WEBHOOK_URL = env("HEALTH_ALERT_WEBHOOK_URL", default="")
# Health alerts (and Django's server-error mails) go to ADMINS: comma-separated addresses.
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
SERVER_EMAIL = env("SERVER_EMAIL", default="practika@localhost")
DEFAULT_FROM_EMAIL = SERVER_EMAIL  # notifications' mails come from the same sender
# Where the site answers, for the links in notification mails (a mail cannot follow a path);
# `make run` sets it from its PORT (honcho gives each process a PORT of its own).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# smtp+tls://user:password@host:587 in production; mail is printed to stdout by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=1.5)
# Anonymous callers of /core/health/ get a result at most this old, shared by every web process
# through the cache: one run writes to storage and asks every worker, too much to do per request.
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5)
# Thresholds of the scheduled report (seconds unless named otherwise); README lists them.
HEALTH_MAX_PENDING_AGE = env.int("HEALTH_MAX_PENDING_AGE", default=15 * 60)
HEALTH_MAX_PROCESSING_AGE = env.int("HEALTH_MAX_PROCESSING_AGE", default=VIDEO_JOB_TIME_LIMIT)
HEALTH_MAX_FAILED_24H = env.int("HEALTH_MAX_FAILED_24H", default=20)
HEALTH_MAX_SHORT_QUEUE_DEPTH = env.int("HEALTH_MAX_SHORT_QUEUE_DEPTH", default=100)
HEALTH_MIN_DISK_FREE_MB = env.int("HEALTH_MIN_DISK_FREE_MB", default=1024)
# Healing: pending videos no job claimed, processing videos whose heartbeat stopped.
HEAL_UNCLAIMED_AFTER = env.int("HEAL_UNCLAIMED_AFTER", default=10 * 60)
# The job beats every 10 s whatever it is doing, so two silent minutes mean it is gone (a
# SIGKILL, or a redelivery after a restart that finds the video still marked processing).
HEAL_SILENT_AFTER = env.int("HEAL_SILENT_AFTER", default=2 * 60)
# A status change alerts only once it held for this many consecutive reports (no flapping storm).
HEALTH_ALERT_CONFIRMATIONS = env.int("HEALTH_ALERT_CONFIRMATIONS", default=2)
CANARY_INTERVAL = env.int("CANARY_INTERVAL", default=3600)
CANARY_TIMEOUT = env.int("CANARY_TIMEOUT", default=300)
MAINTENANCE_INTERVAL = env.int("MAINTENANCE_INTERVAL", default=24 * 3600)
HEALTH_REPORT_RETENTION_DAYS = env.int("HEALTH_REPORT_RETENTION_DAYS", default=14)
# A stored file younger than this is never swept as an orphan: its row may not be committed yet.
ORPHAN_MIN_AGE = env.int("ORPHAN_MIN_AGE", default=24 * 3600)

# --- Metrics: Prometheus at /core/metrics/ for staff, or for a scraper holding this token -----
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Auth and API ---------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling is django-axes (web/security.py). Its backend, first, refuses a client that
# failed LOGIN_MAX_FAILURES times for one account until LOGIN_FAILURE_WINDOW seconds pass without a
# failure; the login page, the API's token endpoint and the admin all go through it. Failures are
# counted per account AND client, so a stranger's guesses lock out only the stranger, never the
# owner signing in from elsewhere (usernames are public on the library's tiles).
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_MAX_FAILURES", default=10)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("LOGIN_FAILURE_WINDOW", default=300))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "web.security.SignInThrottle"
AXES_CLIENT_IP_CALLABLE = "web.security.client_address"
AXES_LOCKOUT_CALLABLE = "web.security.sign_in_refused"
# The counters live in the cache: axes' database tables stay empty, so the admin need not list them,
# and its start-up banner would be one more line in every process's log.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "web.api.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "web.api.errors.json_exception_handler",
    # Scoped throttles only (web/security.py): reading is never throttled.
    "DEFAULT_THROTTLE_RATES": {
        "uploads": env("UPLOAD_RATE", default="60/hour"),
        "comments": env("COMMENT_RATE", default="120/hour"),
    },
    # Proxies in front of the web that append the client's address to X-Forwarded-For; the client is
    # the address the outermost one appended, whatever the client wrote there itself. None here: the
    # development server is reached directly. Production counts Heroku's router.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Practika API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Videos and health reports both have a `status`: name their enums apart.
    "ENUM_NAME_OVERRIDES": {
        "VideoStatusEnum": "domain.videos.models.Video.Status",
        "HealthStatusEnum": "domain.health.models.HealthReport.Status",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Logging: one line per event on stdout, each carrying the request id ---------------------
# Every line goes through the one stdout handler, whose `redact` filter strips URL query values
# (signatures, tokens) from the message, Django's `request` extra and tracebacks
# (practika_project/logging.py). Django's own console handler (DEBUG only, stderr) would print
# django.* lines a second time past it, so the `django` logger keeps only the admins' mail.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "practika_project.logging.RequestIdFilter"},
        "log_context": {"()": "practika_project.logging.LogContextFilter"},
        "redact": {"()": "practika_project.logging.RedactQueryFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(user_id)s %(video_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["request_id", "log_context", "redact"],
            "formatter": LOG_FORMAT,
        },
        # Django's error mail to ADMINS, as Django sets it up: a report, not a log line. It runs
        # before the root's handler (the record reaches `django` first), so it still gets the
        # request and the traceback that the report is made of.
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["mail_admins"], "level": "INFO", "propagate": True},
        "django.server": {"level": "WARNING", "propagate": True},
    },
}
