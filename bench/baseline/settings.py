from __future__ import annotations

import os

SECRET_KEY = "bench-baseline-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.baseline.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
USE_TZ = True
# Where the raw-body view writes (the same disk as Practika's media) and what WhiteNoise serves.
BENCH_UPLOAD_DIR = os.environ.get("BENCH_UPLOAD_DIR", "/tmp")
BENCH_STATIC_ROOT = os.environ.get("BENCH_STATIC_ROOT", "")
# gunicorn.conf.py wraps every app in web/request_body.py, which reads this: the same socket timeout
# as Practika's default, so both sides of a comparison read bodies the same way.
REQUEST_BODY_TIMEOUT = 20
