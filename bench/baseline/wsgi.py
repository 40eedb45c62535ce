"""The baseline project; WhiteNoise in front serves BENCH_STATIC_ROOT at /static/ (B9's baseline)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application
from whitenoise import WhiteNoise

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baseline.settings")

application = get_wsgi_application()
if os.environ.get("BENCH_STATIC_ROOT"):
    application = WhiteNoise(application, root=os.environ["BENCH_STATIC_ROOT"], prefix="/static/")
