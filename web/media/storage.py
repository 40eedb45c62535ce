from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from web.media.ranges import content_disposition_for, content_type_for


def uses_s3() -> bool:
    """True when default storage is django-storages' S3 backend (AWS_STORAGE_BUCKET_NAME set)."""
    from storages.backends.s3 import S3Storage

    return issubclass(import_string(settings.STORAGES["default"]["BACKEND"]), S3Storage)


def object_parameters(name: str) -> dict[str, str]:
    """What S3 stores with an object: its type and disposition from the allow-list, never the
    Content-Type a client declared for its upload (django-storages' default)."""
    return {"ContentType": content_type_for(name), "ContentDisposition": content_disposition_for(name)}
