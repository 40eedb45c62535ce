"""tus 1.0.0 (core, creation, creation-defer-length, termination, checksum, expiration) at
/core/api/uploads/.

DRF's APIView gives these views the API's authentication (session with CSRF, or Token) and JSON
errors; the body of a PATCH is read here in small blocks and streamed into storage.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.http import http_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import APIException, ParseError, UnsupportedMediaType
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from domain.uploads.models import Upload
from domain.uploads.services import (
    CHECKSUM_ALGORITHMS,
    Checksum,
    upload_abandon,
    upload_append,
    upload_create,
    upload_get,
)
from domain.uploads.stores import chunk_bytes, chunk_max_bytes, upload_chunk_bytes
from web.headers import BAD_CONTENT_LENGTH, whole_number
from web.security import UploadRateThrottle

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-defer-length,termination,checksum,expiration"
# Clients should send PATCH bodies of this many bytes (with S3 storage: the multipart part size).
CHUNK_SIZE_HEADER = "Practika-Upload-Chunk-Size"
CHUNK_MAX_HEADER = "Practika-Upload-Chunk-Max"
VIDEO_ID_HEADER = "Practika-Video-Id"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
# gunicorn copies its read-ahead buffer on every read: small reads cost more than the disk.
READ_BLOCK = 1024 * 1024

BAD_TUS_VERSION = "This server speaks tus 1.0.0 (Tus-Resumable: 1.0.0)."
BAD_LENGTH = "Upload-Length must be a whole number of bytes."
BAD_DEFER_LENGTH = "Send either Upload-Length, or Upload-Defer-Length: 1 to declare the length later."
BAD_METADATA = "Upload-Metadata is not valid tus metadata."
BAD_OFFSET = "Upload-Offset must be a whole number of bytes."
BAD_CONTENT_TYPE = f"PATCH bodies must be {OFFSET_CONTENT_TYPE}."
BAD_CHECKSUM_HEADER = "Upload-Checksum must be '<algorithm> <base64 digest>' with one of: {algorithms}."


def _header(name: str, description: str, required: bool = True) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=required, description=description)


_ERROR = OpenApiResponse(inline_serializer("UploadError", {"error": serializers.CharField()}), description="JSON error")
_TUS_RESUMABLE = _header("Tus-Resumable", "Always 1.0.0.")


class TusVersionMismatch(APIException):
    status_code = 412
    default_detail = BAD_TUS_VERSION


class TusView(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [UploadRateThrottle]  # creations per user, shared with multipart uploads

    def get_permissions(self):
        # Capability discovery (and CORS preflights) carry no credentials.
        return [] if self.request.method == "OPTIONS" else super().get_permissions()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != TUS_VERSION:
            raise TusVersionMismatch()

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Tus-Resumable"] = TUS_VERSION
        if request.method == "OPTIONS" or response.status_code == 412:
            response["Tus-Version"] = TUS_VERSION
        return response

    def options(self, request, *args, **kwargs):
        response = HttpResponse(status=204)
        response["Tus-Extension"] = TUS_EXTENSIONS
        response["Tus-Max-Size"] = str(settings.MAX_UPLOAD_BYTES)
        response["Tus-Checksum-Algorithm"] = ",".join(CHECKSUM_ALGORITHMS)
        _chunk_headers(response, chunk_bytes())
        return response


def _chunk_headers(response: HttpResponse, chunk: int) -> None:
    response[CHUNK_SIZE_HEADER] = str(chunk)
    response[CHUNK_MAX_HEADER] = str(chunk_max_bytes(chunk))


def _state_headers(response: HttpResponse, upload: Upload) -> HttpResponse:
    response["Upload-Offset"] = str(upload.offset)
    response["Cache-Control"] = "no-store"
    _chunk_headers(response, upload_chunk_bytes(upload))
    if upload.completed_at is None:
        response["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    else:
        response[VIDEO_ID_HEADER] = upload.video_id
    return response


def _whole_number(value: str | None, message: str) -> int:
    number = whole_number(value)
    if number is None:
        raise ParseError(message)
    return number


def _metadata(header: str) -> dict[str, str]:
    pairs = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, value = item.partition(" ")
        try:
            pairs[key] = base64.b64decode(value, validate=True).decode()
        except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8
            raise ParseError(BAD_METADATA) from None
        if "\x00" in pairs[key]:
            raise ParseError(BAD_METADATA)
    return pairs


class UploadCollection(TusView):
    @extend_schema(
        summary="Create a tus upload",
        request=None,
        parameters=[
            _TUS_RESUMABLE,
            _header("Upload-Length", "Size of the whole file in bytes (at most MAX_UPLOAD_BYTES).", required=False),
            _header(
                "Upload-Defer-Length",
                "1 instead of Upload-Length: the length comes with a later PATCH (a recording).",
                required=False,
            ),
            _header("Upload-Metadata", "tus metadata: filename, title; optional visibility, description."),
        ],
        responses={201: OpenApiResponse(description="Created; Location names the upload."), **{
            code: _ERROR for code in (400, 401, 403, 412, 413)
        }},
    )
    def post(self, request):
        length = _creation_length(request)
        meta = _metadata(request.headers.get("Upload-Metadata", ""))
        upload = upload_create(
            owner=request.user,
            length=length,
            filename=meta.get("filename", ""),
            title=meta.get("title", ""),
            description=meta.get("description", ""),
            visibility=meta.get("visibility") or "private",
        )
        response = _state_headers(HttpResponse(status=201), upload)
        response["Location"] = reverse("api-upload", args=[upload.key])
        return response


def _creation_length(request) -> int | None:
    """The Upload-Length of a creation; None when it is deferred."""
    deferred = request.headers.get("Upload-Defer-Length")
    if deferred is None:
        return _whole_number(request.headers.get("Upload-Length"), BAD_LENGTH)
    if deferred != "1" or "Upload-Length" in request.headers:
        raise ParseError(BAD_DEFER_LENGTH)
    return None


class UploadResource(TusView):
    @extend_schema(exclude=True)  # HEAD: tus offset discovery
    def head(self, request, key: str):
        upload = upload_get(owner=request.user, key=key)
        response = _state_headers(HttpResponse(status=200), upload)
        if upload.length_deferred:
            response["Upload-Defer-Length"] = "1"
        else:
            response["Upload-Length"] = str(upload.length)
        return response

    @extend_schema(
        summary="Append bytes to a tus upload",
        description=f"The body is the chunk's raw bytes, sent as {OFFSET_CONTENT_TYPE}.",
        # Not declared as a request body: schema-driven fuzzers cannot serialize this media type.
        request=None,
        parameters=[
            _TUS_RESUMABLE,
            _header("Upload-Offset", "Where this chunk starts; must equal the server's offset."),
            _header("Upload-Checksum", "Optional '<algorithm> <base64 digest>' of this chunk.", required=False),
            _header("Upload-Length", "The whole length, once, for an upload created with Upload-Defer-Length.",
                    required=False),
        ],
        responses={204: OpenApiResponse(description="Stored; Upload-Offset says how far, and on the last "
                                        "byte Practika-Video-Id names the pending video."),
                   **{code: _ERROR for code in (400, 401, 403, 404, 409, 410, 412, 413, 415, 423, 460)}},
    )
    def patch(self, request, key: str):
        if request.content_type.split(";")[0].strip() != OFFSET_CONTENT_TYPE:
            raise UnsupportedMediaType(request.content_type, BAD_CONTENT_TYPE)
        offset = _whole_number(request.headers.get("Upload-Offset"), BAD_OFFSET)
        # Django reads nothing of a body without a Content-Length (chunked transfer).
        content_length = _whole_number(request.headers.get("Content-Length"), BAD_CONTENT_LENGTH)
        upload = upload_append(
            owner=request.user,
            key=key,
            offset=offset,
            content_length=content_length,
            chunks=_body(request, content_length),
            checksum=_checksum(request.headers.get("Upload-Checksum")),
            length=_optional_length(request.headers.get("Upload-Length")),
        )
        return _state_headers(HttpResponse(status=204), upload)

    @extend_schema(
        summary="Abandon a tus upload (its bytes are removed)",
        parameters=[_TUS_RESUMABLE],
        responses={204: None, **{code: _ERROR for code in (401, 403, 404, 409, 410, 412)}},
    )
    def delete(self, request, key: str):
        upload_abandon(owner=request.user, key=key)
        return HttpResponse(status=204)


def _optional_length(header: str | None) -> int | None:
    return None if header is None else _whole_number(header, BAD_LENGTH)


def _checksum(header: str | None) -> Checksum | None:
    if header is None:
        return None
    algorithm, _, encoded = header.partition(" ")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except ValueError:
        digest = None
    if algorithm not in CHECKSUM_ALGORITHMS or not digest:
        raise ParseError(BAD_CHECKSUM_HEADER.format(algorithms=", ".join(CHECKSUM_ALGORITHMS)))
    return Checksum(algorithm, digest)


def _body(request, length: int) -> Iterator[bytes]:
    """The PATCH body in small blocks; ends early, without error, if the client went away."""
    left = length
    while left > 0:
        try:
            block = request.read(min(READ_BLOCK, left))
        except OSError:  # the connection dropped (gunicorn raises NoMoreData, an IOError)
            return
        if not block:
            return
        left -= len(block)
        yield block
