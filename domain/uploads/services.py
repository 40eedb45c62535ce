"""tus uploads: create, append, abandon, expire. The views translate HTTP; the rules live here."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from django.conf import settings
from django.db import OperationalError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from domain.errors import Code, DomainError
from domain.uploads.models import Upload
from domain.uploads.stores import UploadGone, chunk_max_bytes, store, upload_chunk_bytes
from domain.videos.models import Video, new_video_id
from domain.videos.services import (
    original_name_for,
    video_create_from_upload,
    video_quota_check,
)

UPLOAD_EMPTY = "The file is empty."
UPLOAD_TOO_LARGE = "The file is larger than the upload limit of {limit}."
UPLOAD_NO_FILENAME = "Upload-Metadata must include a filename."
UPLOAD_BAD_VISIBILITY = "visibility must be one of: {choices}."
UPLOAD_TITLE_TOO_LONG = "The title is longer than {limit} characters."
UPLOAD_NOT_FOUND = "No such upload."
UPLOAD_EXPIRED = "This upload has expired; start again."
UPLOAD_OFFSET_MISMATCH = "Upload-Offset does not match the upload's offset ({offset})."
UPLOAD_PAST_LENGTH = "The chunk goes past Upload-Length."
UPLOAD_CHUNK_TOO_LARGE = "A PATCH may carry at most {limit} bytes (Practika-Upload-Chunk-Max); send smaller chunks."
UPLOAD_BUSY = "Another request is writing to this upload; retry in a moment."
UPLOAD_COMPLETE = "This upload is complete; delete the video instead."
UPLOAD_LENGTH_CHANGED = "Upload-Length was declared already ({length}); it cannot change."
UPLOAD_LENGTH_SHORT = "Upload-Length is shorter than the bytes this upload has and carries ({received})."
UPLOAD_TOO_MANY_UNFINISHED = (
    "You have {limit} unfinished uploads; finish or delete one of them before you start another."
)
CHECKSUM_MISMATCH = "The chunk does not match its Upload-Checksum."

CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "md5": hashlib.md5}


log = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE for a row that NOWAIT could not lock.
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Checksum:
    """What the bytes of one append must hash to (tus's Upload-Checksum)."""

    algorithm: str  # a key of CHECKSUM_ALGORITHMS
    digest: bytes


def _visibilities() -> list[str]:
    return [value for value, _ in Video._meta.get_field("visibility").choices]


def _size_check(size: int) -> None:
    if size > settings.MAX_UPLOAD_BYTES:
        raise DomainError(Code.TOO_LARGE, UPLOAD_TOO_LARGE.format(limit=filesizeformat(settings.MAX_UPLOAD_BYTES)))


def _length_check(length: int) -> None:
    _size_check(length)
    if length <= 0:
        raise DomainError(Code.INVALID, UPLOAD_EMPTY)


def upload_create(
    *, owner, length: int | None, filename: str, title: str = "", description: str = "", visibility: str = "private"
) -> Upload:
    """`length` None defers it (tus creation-defer-length): the bytes of a recording arrive while
    it is made, and a later PATCH says how many there are. Until then the limits apply to the
    bytes as they arrive."""
    if length is not None:
        _length_check(length)
    if not filename.strip():
        raise DomainError(Code.INVALID, UPLOAD_NO_FILENAME)
    if visibility not in _visibilities():
        raise DomainError(Code.INVALID, UPLOAD_BAD_VISIBILITY.format(choices=", ".join(_visibilities())))
    if Upload.objects.unfinished().filter(owner=owner).count() >= settings.MAX_UNFINISHED_UPLOADS:
        raise DomainError(Code.TOO_MANY, UPLOAD_TOO_MANY_UNFINISHED.format(limit=settings.MAX_UNFINISHED_UPLOADS))
    video_quota_check(owner=owner, size=length or 0)  # before any byte arrives
    title = title.strip() or PurePosixPath(filename.replace("\\", "/")).stem or filename
    title_limit = Video._meta.get_field("title").max_length
    if title_limit and len(title) > title_limit:
        raise DomainError(Code.INVALID, UPLOAD_TITLE_TOO_LONG.format(limit=title_limit))
    video_id = new_video_id()
    upload = Upload(
        owner=owner,
        video_id=video_id,
        original_name=original_name_for(video_id, filename),
        length=length,
        # The user's filename is only ever displayed; storage names are generated.
        filename=filename[:255],
        title=title,
        description=description,
        visibility=visibility,
    )
    store().begin(upload)
    upload.save()
    return upload


def upload_get(*, owner, key: str) -> Upload:
    upload = Upload.objects.filter(owner=owner, key=key).first()
    if upload is None:
        raise DomainError(Code.NOT_FOUND, UPLOAD_NOT_FOUND)
    if upload.is_expired:
        raise DomainError(Code.EXPIRED, UPLOAD_EXPIRED)
    return upload


def _lock(*, owner, key: str) -> Upload:
    try:
        # NOWAIT: a second PATCH on the same upload is told to retry instead of queueing
        # behind a transfer that may take a while (tus clients retry 423).
        upload = Upload.objects.select_for_update(nowait=True).filter(owner=owner, key=key).first()
    except OperationalError as exc:
        if getattr(exc.__cause__, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        raise DomainError(Code.BUSY, UPLOAD_BUSY) from None
    if upload is None:
        raise DomainError(Code.NOT_FOUND, UPLOAD_NOT_FOUND)
    if upload.is_expired:
        raise DomainError(Code.EXPIRED, UPLOAD_EXPIRED)
    return upload


def upload_append(
    *,
    owner,
    key: str,
    offset: int,
    content_length: int,
    chunks: Iterable[bytes],
    checksum: Checksum | None = None,
    length: int | None = None,
) -> Upload:
    """Stores the body of one PATCH. `chunks` may end early (a dropped connection): what arrived
    is kept and the offset says so. When the bytes do not match `checksum`, nothing of this PATCH
    counts. On the last byte the pending video is created, and only after every check passed is
    the upload completed in storage: a refusal leaves it resumable. `length` declares the length
    of an upload that deferred it (once; the same value again is harmless)."""
    try:
        with transaction.atomic():
            upload = _lock(owner=owner, key=key)
            # The lock is held while the body streams in: its size is bounded, as advertised.
            most = chunk_max_bytes(upload_chunk_bytes(upload))
            if content_length > most:
                raise DomainError(Code.TOO_LARGE, UPLOAD_CHUNK_TOO_LARGE.format(limit=most))
            if offset != upload.offset:
                raise DomainError(Code.CONFLICT, UPLOAD_OFFSET_MISMATCH.format(offset=upload.offset))
            if length is not None:
                _declare_length(upload, length, received=offset + content_length)
            if upload.length_deferred:
                # Limits a declared length meets at creation, met by the bytes as they come.
                _size_check(offset + content_length)
                video_quota_check(owner=upload.owner, size=offset + content_length, video_id=upload.video_id)
            elif offset + content_length > upload.length:
                raise DomainError(Code.INVALID, UPLOAD_PAST_LENGTH)
            if upload.completed_at is not None:
                return upload
            if offset + content_length == upload.length:
                # The last PATCH: refused before its body, if it is to be refused. The video's
                # creation checks again once the body is in (another upload may finish meanwhile).
                video_quota_check(owner=upload.owner, size=upload.length, video_id=upload.video_id)
            received = _append_checked(upload, chunks, checksum)
            upload.offset = offset + received
            upload.updated_at = timezone.now()
            if upload.offset == upload.length:
                upload.completed_at = upload.updated_at
            # Conditional on the offset we started from: where the database has no row locks
            # (SQLite) this still lets only one of two racing PATCHes count.
            claimed = Upload.objects.filter(key=upload.key, offset=offset).update(
                length=upload.length,
                offset=upload.offset,
                s3_parts=upload.s3_parts,
                updated_at=upload.updated_at,
                completed_at=upload.completed_at,
            )
            if claimed != 1:
                raise DomainError(Code.CONFLICT, UPLOAD_OFFSET_MISMATCH.format(offset=offset))
            if upload.completed_at is not None:
                # Last, inside the transaction: if the video cannot be made, nothing above counts.
                video_create_from_upload(
                    owner=upload.owner,
                    original=FinishedUpload(upload),
                    title=upload.title,
                    description=upload.description,
                    visibility=upload.visibility,
                    video_id=upload.video_id,
                )
    except UploadGone:  # S3 no longer has the multipart upload (the bucket's lifecycle rule)
        raise DomainError(Code.EXPIRED, UPLOAD_EXPIRED) from None
    return upload


def _declare_length(upload: Upload, length: int, *, received: int) -> None:
    """Upload-Length on a PATCH: fixes a deferred length, checked as a creation checks it."""
    if not upload.length_deferred:
        if length != upload.length:
            raise DomainError(Code.INVALID, UPLOAD_LENGTH_CHANGED.format(length=upload.length))
        return
    _length_check(length)
    if length < received:
        raise DomainError(Code.INVALID, UPLOAD_LENGTH_SHORT.format(received=received))
    video_quota_check(owner=upload.owner, size=length, video_id=upload.video_id)
    upload.length = length


def _append_checked(upload: Upload, chunks: Iterable[bytes], checksum: Checksum | None) -> int:
    """Append through the store; the bytes it received, once they match `checksum`. Bytes of a
    failed check lie past the recorded offset, where the next PATCH overwrites them."""
    if checksum is None:
        return store().append(upload, chunks)
    hasher = CHECKSUM_ALGORITHMS[checksum.algorithm]()
    received = store().append(upload, _hashed(chunks, hasher))
    if hasher.digest() != checksum.digest:
        raise DomainError(Code.CHECKSUM_MISMATCH, CHECKSUM_MISMATCH)
    return received


def _hashed(chunks: Iterable[bytes], hasher) -> Iterator[bytes]:
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk


@dataclass
class FinishedUpload:
    """An upload whose last byte is in, as a video's original: its bytes are in storage
    already, so storing it is completing it in place (with S3, CompleteMultipartUpload; on
    local disk the appended file already is the original): never a copy."""

    upload: Upload

    @property
    def filename(self) -> str:
        return self.upload.filename

    @property
    def size(self) -> int:
        return self.upload.length

    def store(self, *, video_id: str) -> str:
        store().complete(self.upload)
        return self.upload.original_name

    def discard(self, *, video_id: str) -> None:
        store().uncomplete(self.upload)


def upload_abandon(*, owner, key: str) -> None:
    with transaction.atomic():
        upload = _lock(owner=owner, key=key)
        if upload.completed_at is not None:
            raise DomainError(Code.CONFLICT, UPLOAD_COMPLETE)
        store().discard(upload)
        upload.delete()


def uploads_expire(*, now: datetime | None = None) -> int:
    """Removes uploads idle past UPLOAD_EXPIRY_SECONDS; unfinished ones take their bytes (and
    S3 multipart uploads) with them. Returns how many were removed. One that cannot be removed
    is logged and left for the next run; it never stops the others."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.UPLOAD_EXPIRY_SECONDS)
    removed = 0
    for key in Upload.objects.filter(updated_at__lt=cutoff).values_list("key", flat=True):
        try:
            removed += _expire(key=key, cutoff=cutoff)
        except Exception:
            log.exception("could not remove expired upload %s; the next run tries again", key)
    return removed


def _expire(*, key: str, cutoff: datetime) -> int:
    with transaction.atomic():
        # A PATCH holding the row is activity: skip it, the next run will look again.
        upload = Upload.objects.select_for_update(skip_locked=True).filter(key=key, updated_at__lt=cutoff).first()
        if upload is None:
            return 0
        if upload.completed_at is None:
            store().discard(upload)
        upload.delete()
    return 1
