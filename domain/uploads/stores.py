"""Where the bytes of an upload in progress live: a file on local disk, or an S3 multipart upload.

Both are reachable from every web process (the local one because local disk is only used when
there is one machine), so chunk N+1 may arrive anywhere.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from domain.storage import object_parameters, uses_s3
from domain.uploads.models import Upload

S3_MIN_PART_BYTES = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000


def chunk_bytes() -> int:
    """The PATCH size clients are told to use (Practika-Upload-Chunk-Size).

    With S3 it is also the part size: parts must be >= 5 MiB and at most 10,000 per upload.
    """
    size = settings.UPLOAD_CHUNK_BYTES
    if uses_s3():
        size = max(size, S3_MIN_PART_BYTES, math.ceil(settings.MAX_UPLOAD_BYTES / S3_MAX_PARTS))
    return size


def upload_chunk_bytes(upload: Upload) -> int:
    """The chunk size of this upload: with S3 its part size, fixed when it began."""
    return upload.part_bytes or chunk_bytes()


def chunk_max_bytes(chunk: int) -> int:
    """The largest PATCH a fast client should send (Practika-Upload-Chunk-Max): a whole multiple
    of its chunk size, so S3 parts are cut without a tail, and never less than one chunk."""
    return max(chunk, settings.UPLOAD_CHUNK_MAX_BYTES // chunk * chunk)


class UploadGone(Exception):
    """The bytes of an unfinished upload are no longer in storage (an S3 multipart upload that
    was aborted behind the database's back, say by the bucket's lifecycle rule)."""


class Store(Protocol):
    def begin(self, upload: Upload) -> None: ...

    def append(self, upload: Upload, chunks: Iterable[bytes]) -> int: ...

    def complete(self, upload: Upload) -> None: ...

    def uncomplete(self, upload: Upload) -> None:
        """Take back complete() when the video could not be made: no original without its row."""

    def discard(self, upload: Upload) -> None: ...


class LocalStore:
    """Appends to the video's future original file under MEDIA_ROOT."""

    def begin(self, upload: Upload) -> None:
        path = default_storage.path(upload.original_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()

    def append(self, upload: Upload, chunks: Iterable[bytes]) -> int:
        received = 0
        with open(default_storage.path(upload.original_name), "r+b") as f:
            # Bytes past the recorded offset come from a chunk that was never acknowledged
            # (a failed checksum, a crash before the commit): they are overwritten.
            f.seek(upload.offset)
            for chunk in chunks:
                f.write(chunk)
                received += len(chunk)
            f.truncate()
        return received

    def complete(self, upload: Upload) -> None:
        """Nothing to do: the appended file already is the original."""

    def uncomplete(self, upload: Upload) -> None:
        """Nothing to do: the file stays the unfinished upload's bytes, and the upload resumable."""

    def discard(self, upload: Upload) -> None:
        default_storage.delete(upload.original_name)


@contextmanager
def _multipart_upload(upload: Upload) -> Iterator[None]:
    """S3's NoSuchUpload, for the multipart upload behind `upload`, as UploadGone."""
    from botocore.exceptions import ClientError  # only with a bucket: import late

    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            raise UploadGone(upload.key) from exc
        raise


class S3Store:
    """An S3 multipart upload of equal parts of upload.part_bytes; the last one may be shorter.

    A PATCH that ends between part boundaries leaves its remainder (the "tail", shorter than a
    part) in the bucket as uploads/<key>/tail-<parts>; the next PATCH prepends it to its bytes.
    The tail is only ever rewritten with a longer copy that starts with the same bytes, so its
    first (offset - parts * part size) bytes are always the ones the database acknowledged.
    The multipart upload is completed only by complete(), after every check of the last PATCH:
    until then a refused last PATCH can be sent again.
    """

    def __init__(self) -> None:
        self.storage = default_storage
        self.client = default_storage.connection.meta.client
        self.bucket = default_storage.bucket_name

    def _key(self, name: str) -> str:
        from storages.utils import clean_name

        return self.storage._normalize_name(clean_name(name))

    def _tail_key(self, upload: Upload, parts: int) -> str:
        return self._key(f"uploads/{upload.key}/tail-{parts}")

    def begin(self, upload: Upload) -> None:
        response = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self._key(upload.original_name), **object_parameters(upload.original_name)
        )
        upload.s3_upload_id = response["UploadId"]
        upload.s3_parts = []
        upload.part_bytes = chunk_bytes()

    def append(self, upload: Upload, chunks: Iterable[bytes]) -> int:
        part_size = upload.part_bytes
        parts = list(upload.s3_parts)
        tail_length = upload.offset - len(parts) * part_size
        received = 0
        # The spool is on disk: at most one part of it ever exists, and never in memory.
        with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool, _multipart_upload(upload):
            if tail_length:
                self._read_tail(upload, len(parts), tail_length, spool)
            for chunk in chunks:
                received += len(chunk)
                view = memoryview(chunk)
                while view:
                    room = part_size - spool.tell()
                    spool.write(view[:room])
                    view = view[room:]
                    if spool.tell() == part_size:
                        parts.append(self._upload_part(upload, len(parts) + 1, spool))
            if upload.offset + received == upload.length:
                if spool.tell() or not parts:
                    parts.append(self._upload_part(upload, len(parts) + 1, spool))
            elif spool.tell():
                spool.seek(0)
                self.client.upload_fileobj(spool, self.bucket, self._tail_key(upload, len(parts)))
        if len(parts) != len(upload.s3_parts) and tail_length:
            old_tail = self._tail_key(upload, len(upload.s3_parts))
            transaction.on_commit(lambda: self.client.delete_object(Bucket=self.bucket, Key=old_tail))
        upload.s3_parts = parts
        return received

    def _read_tail(self, upload: Upload, parts: int, length: int, spool) -> None:
        body = self.client.get_object(
            Bucket=self.bucket, Key=self._tail_key(upload, parts), Range=f"bytes=0-{length - 1}"
        )["Body"]
        for block in body.iter_chunks(64 * 1024):
            spool.write(block)

    def _upload_part(self, upload: Upload, number: int, spool) -> str:
        length = spool.tell()
        spool.seek(0)
        response = self.client.upload_part(
            Bucket=self.bucket,
            Key=self._key(upload.original_name),
            UploadId=upload.s3_upload_id,
            PartNumber=number,
            Body=spool,
            ContentLength=length,
        )
        spool.seek(0)
        spool.truncate()
        return response["ETag"]

    def complete(self, upload: Upload) -> None:
        with _multipart_upload(upload):
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(upload.original_name),
                UploadId=upload.s3_upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(upload.s3_parts, 1)]},
            )
        transaction.on_commit(lambda: self._delete_tails(upload))

    def uncomplete(self, upload: Upload) -> None:
        """Completing made the parts one object: it goes (a later PATCH finds the multipart
        upload gone, a 410). Nothing is there when completing itself failed."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(upload.original_name))

    def _delete_tails(self, upload: Upload) -> None:
        listing = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(f"uploads/{upload.key}/"))
        for item in listing.get("Contents", []):
            self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def discard(self, upload: Upload) -> None:
        if upload.completed_at is None and upload.s3_upload_id:
            try:
                with _multipart_upload(upload):
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=self._key(upload.original_name), UploadId=upload.s3_upload_id
                    )
            except UploadGone:
                pass  # aborted already (the bucket's lifecycle rule): what discard wants
        self._delete_tails(upload)


def store() -> Store:
    return S3Store() if uses_s3() else LocalStore()


# The bucket's own safety net: a multipart upload nobody completes or aborts (a failure between
# S3 and the database, a crash mid-PATCH) keeps its parts, and costs, until aborted. Expiry
# aborts them a day after their last PATCH; S3 aborts whatever it missed a day later.
ABORT_RULE_ID = "practika-abort-incomplete-multipart-uploads"


def abort_after_days() -> int:
    return math.ceil(settings.UPLOAD_EXPIRY_SECONDS / 86400) + 1


def _bucket_rules(read: Callable[[], list[dict]], *, missing: str) -> list[dict]:
    """A bucket configuration's rules; none when S3 answers `missing` (it was never set)."""
    from botocore.exceptions import ClientError  # only with a bucket: import late

    try:
        return read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != missing:
            raise
        return []


def bucket_abort_rule_apply(*, days: int) -> bool:
    """Make the bucket abort multipart uploads still incomplete `days` after they began, keeping
    every other lifecycle rule. False when the rule was already there as wanted."""
    client, bucket = default_storage.connection.meta.client, default_storage.bucket_name
    rules = _bucket_rules(
        lambda: client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        missing="NoSuchLifecycleConfiguration",
    )
    wanted = {
        "ID": ABORT_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
    }
    if any(_same_rule(rule, wanted) for rule in rules):
        return False
    others = [rule for rule in rules if rule.get("ID") != ABORT_RULE_ID]
    # The call replaces the whole configuration: the other rules go back in as they were.
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*others, wanted]})
    return True


def _same_rule(rule: dict, wanted: dict) -> bool:
    # S3 may echo an empty filter back as {} or {"Prefix": ""}, and add fields of its own.
    return (
        rule.get("ID") == wanted["ID"]
        and rule.get("Status") == wanted["Status"]
        and not any((rule.get("Filter") or {}).values())
        and not rule.get("Prefix")
        and rule.get("AbortIncompleteMultipartUpload") == wanted["AbortIncompleteMultipartUpload"]
    )


# hls.js fetches playlists and segments with XHR, and the media view redirects a segment to its
# presigned bucket URL: the bucket must answer a cross-origin GET. Any origin may read, because the
# presigned URL is the access control, as it is for a <video src>.
CORS_RULE_ID = "practika-media-reads"
CORS_RULE = {
    "ID": CORS_RULE_ID,
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedOrigins": ["*"],
    "AllowedHeaders": ["Range"],
    "ExposeHeaders": ["Content-Length", "Content-Range", "ETag"],
    "MaxAgeSeconds": 3600,
}


def bucket_cors_rule_apply() -> bool:
    """Make the bucket answer cross-origin reads of media, keeping every other CORS rule. False
    when the rule was already there as wanted."""
    client, bucket = default_storage.connection.meta.client, default_storage.bucket_name
    rules = _bucket_rules(lambda: client.get_bucket_cors(Bucket=bucket)["CORSRules"], missing="NoSuchCORSConfiguration")
    if any(all(rule.get(key) == value for key, value in CORS_RULE.items()) for rule in rules):
        return False
    others = [rule for rule in rules if rule.get("ID") != CORS_RULE_ID]
    # The call replaces the whole configuration: the other rules go back in as they were.
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*others, CORS_RULE]})
    return True
