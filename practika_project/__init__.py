from __future__ import annotations

# Importing the Celery app here binds @shared_task to it in every process.
from .celery import app as celery_app

__all__ = ["celery_app"]
