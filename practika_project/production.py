"""Production settings for containers (Heroku): development settings, hardened.

Refuses to start without SECRET_KEY or with DEBUG on, rather than run insecurely.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F403
from .settings import DATABASES, LOGGING, REST_FRAMEWORK, env

if not os.environ.get("SECRET_KEY"):
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Production settings need a long random SECRET_KEY in the "
        "environment (heroku config:set SECRET_KEY=...)."
    )
SECRET_KEY = os.environ["SECRET_KEY"]

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    raise ImproperlyConfigured(
        "DEBUG is on with production settings. Unset DEBUG, or use "
        "DJANGO_SETTINGS_MODULE=practika_project.settings for development."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[".herokuapp.com", "localhost", "127.0.0.1"])
# No guess at the address in production: bin/deploy-heroku-container sets the app's web URL, and
# without it the mails carry paths.
SITE_URL = env("SITE_URL", default="")

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Heroku Postgres requires TLS; a local server without TLS sets DATABASE_SSLMODE=disable.
    DATABASES["default"]["OPTIONS"]["sslmode"] = env("DATABASE_SSLMODE", default="require")

STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False

# Heroku's router terminates TLS and says so in X-Forwarded-Proto. It also appends the client's
# address to X-Forwarded-For, and it is the only proxy: sign-in throttling counts that last hop.
REST_FRAMEWORK["NUM_PROXIES"] = env.int("NUM_PROXIES", default=1)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Health probes from inside the dyno or container speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^core/health/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING["handlers"]["stdout"]["formatter"] = env("LOG_FORMAT", default="json")
