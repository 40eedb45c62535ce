"""The S3 storage backend (STORAGES["default"] when AWS_STORAGE_BUCKET_NAME is set).

A module of its own so that boto3 is imported only where a bucket is configured.
"""

from __future__ import annotations

from storages.backends.s3 import S3Storage

from domain.storage import object_parameters


class MediaS3Storage(S3Storage):
    """django-storages' S3 backend, with every object's type decided by content_type_for."""

    def get_object_parameters(self, name: str) -> dict:
        return {**super().get_object_parameters(name), **object_parameters(name)}

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        # Signed into the URL too, so an object stored before types came from the allow-list
        # (with whatever type its uploader declared) is served as the list says.
        served = {f"Response{key}": value for key, value in object_parameters(name).items()}
        return super().url(name, {**(parameters or {}), **served}, expire, http_method)

    def replace(self, name: str, content) -> str:
        """Store at exactly `name`, over whatever is there (domain.storage.storage_replace)."""
        return self._save(name, content)
