"""Where media bytes live and what they are: local disk under MEDIA_ROOT or an S3 bucket.

One place decides the type every stored object is written and served with, lists what is
stored under a prefix and removes it, on local disk and S3 alike.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils.module_loading import import_string

# The only types a stored object is ever written or served with, by the extension Practika gave
# it (storage names are generated; the user's filename lends an original at most its extension).
# mimetypes is not asked: it knows .ts as a Qt translation file, and the client's declared type
# never counts. Served as its own type an "original.html" or ".svg" would run script on whichever
# origin serves it, ours or the bucket's.
_TYPES = {".mp4": "video/mp4", ".m4s": "video/iso.segment", ".ts": "video/mp2t",
          ".m3u8": "application/vnd.apple.mpegurl", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".vtt": "text/vtt"}
DOWNLOAD = "application/octet-stream"
# An original (domain.videos.services.original_name_for) is the user's file, whatever its extension
# claims: only ever a download.
_ORIGINAL_PREFIX = "original"


def content_type_for(name: str) -> str:
    base = os.path.basename(name)
    if base.startswith(_ORIGINAL_PREFIX):
        return DOWNLOAD
    return _TYPES.get(os.path.splitext(base)[1].lower(), DOWNLOAD)


def content_disposition_for(name: str) -> str:
    return "inline" if content_type_for(name) != DOWNLOAD else f'attachment; filename="{os.path.basename(name)}"'


def uses_s3() -> bool:
    """True when default storage is django-storages' S3 backend (AWS_STORAGE_BUCKET_NAME set)."""
    from storages.backends.s3 import S3Storage

    return issubclass(import_string(settings.STORAGES["default"]["BACKEND"]), S3Storage)


def object_parameters(name: str) -> dict[str, str]:
    """What S3 stores with an object: its type and disposition from the allow-list, never the
    Content-Type a client declared for its upload (django-storages' default)."""
    return {"ContentType": content_type_for(name), "ContentDisposition": content_disposition_for(name)}


def storage_replace(name: str, content: File) -> None:
    """Store `content` at exactly `name`, replacing what is there in one step: a reader gets the
    old bytes or the new, never half. A growing HLS playlist is rewritten while players read it,
    and it must keep its name (default_storage.save would pick a new one)."""
    if uses_s3():
        default_storage.replace(name, content)  # a PUT replaces an object whole
        return
    dest = default_storage.path(name)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    partial = f"{dest}.{secrets.token_hex(4)}.part"
    try:
        with open(partial, "wb") as out:
            content.seek(0)
            shutil.copyfileobj(content, out)
        os.replace(partial, dest)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise


def storage_names_under(prefix: str) -> Iterator[str]:
    """Every stored file under a prefix, through the storage API (local disk and S3 alike)."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{prefix}{name}"
    for sub in dirs:
        yield from storage_names_under(f"{prefix}{sub}/")


def storage_delete_under(prefix: str) -> None:
    """Remove every stored file under a prefix, and on local disk the folders they leave."""
    for name in list(storage_names_under(prefix)):
        default_storage.delete(name)
    remove_empty_local_folders(prefix)


def remove_empty_local_folders(prefix: str) -> None:
    # Object stores have no folders; on local disk the empty ones would be left behind.
    try:
        root = default_storage.path(prefix)
    except NotImplementedError:
        return
    for folder, _, _ in os.walk(root, topdown=False):
        try:
            os.rmdir(folder)
        except OSError:
            pass
