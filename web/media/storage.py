from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def uses_s3() -> bool:
    """True when default storage is django-storages' S3 backend (AWS_STORAGE_BUCKET_NAME set)."""
    from storages.backends.s3 import S3Storage

    return issubclass(import_string(settings.STORAGES["default"]["BACKEND"]), S3Storage)
