"""Practika's own settings, plus one probe task the queue-pickup benchmark (B6) sends.

Nothing else differs: the processes under test run the Procfile's commands unchanged.
"""

from __future__ import annotations

from practika_project.settings import *  # noqa: F401,F403

CELERY_IMPORTS = ["bench.probe"]
