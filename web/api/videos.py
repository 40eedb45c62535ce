"""The video API: list, multipart upload, retrieve, update, delete, reprocess.

Views fetch, check access, call a service, respond. Someone else's private video is a 404 like
a missing one, never a 403, so ids of private videos cannot be probed.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import (
    FileUploadHandler,
    StopUpload,
    TemporaryFileUploadHandler,
)
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from domain.errors import DomainError
from domain.videos import services
from domain.videos.selectors import (
    NOT_OWNER,
    NOT_OWNER_OR_STAFF,
    video_can_change,
    video_can_reprocess,
    video_get_for,
    videos_visible_to,
)
from web.api import list_cache
from web.api.errors import BODY_TOO_LARGE, domain_error_response, json_error
from web.api.pagination import Pagination
from web.api.serializers import (
    VideoDetailSerializer,
    VideoSerializer,
    VideoUpdateSerializer,
    VideoUploadSerializer,
)
from web.headers import BAD_CONTENT_LENGTH, whole_number
from web.security import UploadRateThrottle

TOO_LARGE = "The file is larger than this server accepts."
FIELDS_TOO_LARGE = "The title or description is larger than this server accepts."
ALREADY_PROCESSING = "This video is already being processed; try again when it is done."

# MAX_UPLOAD_BYTES limits the file; the multipart envelope (boundaries, title, description)
# may add this much before a Content-Length is certainly too large.
MULTIPART_ALLOWANCE = 64 * 1024


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = TOO_LARGE


# Django reads the body in the smallest chunk any handler asks for; its 64 KiB default costs
# twice the throughput of 1 MiB reads through gunicorn (docs/PERFORMANCE.md).
UPLOAD_CHUNK = 1024 * 1024


class _ByteLimit(FileUploadHandler):
    """First in the handler chain: counts file bytes as they stream and stops the upload the
    moment they pass MAX_UPLOAD_BYTES, before the next handler writes them to disk."""

    chunk_size = UPLOAD_CHUNK

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            # Django closes (and so deletes) the temporary file and stops reading the body.
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class _DiskSpool(TemporaryFileUploadHandler):
    chunk_size = UPLOAD_CHUNK


def streaming_upload(view):
    """Refuse a body whose Content-Length is already too large without reading it, and stream
    the rest to a temporary file on disk (never memory) through the byte limit.

    It wraps the DRF view from outside because session authentication reads request.POST for
    the CSRF token, which parses the body before any code inside the view runs."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            declared = _declared_length(request)
            if declared is None:
                return json_error(BAD_CONTENT_LENGTH, 400)
            if declared > settings.MAX_UPLOAD_BYTES + MULTIPART_ALLOWANCE:
                return json_error(TOO_LARGE, 413)
            refused = _over_quota(request.user, declared)  # session callers, known before the CSRF check
            if refused is not None:
                return refused
            request.upload_handlers = [_ByteLimit(request), _DiskSpool(request)]
        try:
            return view(request, *args, **kwargs)
        except RequestDataTooBig:
            # Form fields (not the file) beyond DATA_UPLOAD_MAX_MEMORY_SIZE: Django would answer
            # with its HTML 400 page.
            return json_error(FIELDS_TOO_LARGE, 413)

    return wrapped


def _declared_length(request) -> int | None:
    """The request's Content-Length (0 when there is none), or None when it is no number."""
    header = request.META.get("CONTENT_LENGTH")
    return whole_number(header) if header else 0


def _over_quota(user, declared: int) -> HttpResponse | None:
    """The 413 for a body whose file certainly takes the user past the quota, before a byte of it
    is read: the file is at least the body less the envelope allowance."""
    if not user.is_authenticated or declared <= MULTIPART_ALLOWANCE:
        return None
    try:
        services.video_quota_check(owner=user, size=declared - MULTIPART_ALLOWANCE)
    except DomainError as exc:
        return domain_error_response(exc)
    return None


class VideoListView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    throttle_classes = [UploadRateThrottle]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="videos_list",
        responses=inline_serializer("PaginatedVideoList", {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": VideoSerializer(many=True),
        }),
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request):
        page_size = Pagination().get_page_size(request)
        body = list_cache.cached_body(request, lambda: self._page(request), page_size=page_size)
        return HttpResponse(body, content_type="application/json")

    def _page(self, request) -> bytes:
        paginator = Pagination()
        page = paginator.paginate_queryset(videos_visible_to(user=request.user), request, view=self)
        data = VideoSerializer(page, many=True, context={"request": request}).data
        return JSONRenderer().render(paginator.get_paginated_response(data).data)

    @extend_schema(request={"multipart/form-data": VideoUploadSerializer}, responses={201: VideoSerializer})
    def post(self, request):
        # Token callers are known only here, still before their body is read.
        refused = _over_quota(request.user, _declared_length(request) or 0)
        if refused is not None:
            return refused
        data = request.data  # parses the body through streaming_upload's handlers
        if getattr(request, "upload_too_large", False):
            raise UploadTooLarge()
        form = VideoUploadSerializer(data=data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data.pop("file")
        original = services.FileOriginal(content=upload, filename=upload.name, size=upload.size)
        try:
            video = services.video_create_from_upload(owner=request.user, original=original, **form.validated_data)
        finally:
            upload.close()  # the spooled temporary file goes now, not whenever it is collected
        return Response(VideoSerializer(video, context={"request": request}).data, status=201)


class VideoDetailView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    # JSON only: a multipart PATCH would spool any file it carried to disk first.
    parser_classes = [JSONParser]

    def _owned(self, request, video_id: str):
        video = video_get_for(user=request.user, video_id=video_id)
        if not video_can_change(user=request.user, video=video):
            raise PermissionDenied(NOT_OWNER)
        return video

    def _respond(self, request, video, code: int = 200) -> Response:
        return Response(VideoDetailSerializer(video, context={"request": request}).data, status=code)

    @extend_schema(responses=VideoDetailSerializer)
    def get(self, request, video_id: str):
        return self._respond(request, video_get_for(user=request.user, video_id=video_id))

    @extend_schema(request=VideoUpdateSerializer, responses=VideoDetailSerializer)
    def patch(self, request, video_id: str):
        video = self._owned(request, video_id)
        # DRF reads a JSON body whole into memory; an edit is a few fields.
        declared = _declared_length(request)
        if declared is None:
            return json_error(BAD_CONTENT_LENGTH, 400)
        if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise UploadTooLarge(BODY_TOO_LARGE)
        form = VideoUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        return self._respond(request, services.video_update(video=video, **form.validated_data))

    @extend_schema(responses={204: None})
    def delete(self, request, video_id: str):
        services.video_delete(video=self._owned(request, video_id))
        return Response(status=204)


class VideoReprocessView(APIView):
    permission_classes = [IsAuthenticatedOrReadOnly]

    @extend_schema(request=None, responses={202: VideoDetailSerializer})
    def post(self, request, video_id: str):
        video = video_get_for(user=request.user, video_id=video_id)
        if not video_can_reprocess(user=request.user, video=video):
            raise PermissionDenied(NOT_OWNER_OR_STAFF)
        if not services.video_reprocess(video=video):
            return json_error(ALREADY_PROCESSING, 409)
        video.refresh_from_db()
        return Response(VideoDetailSerializer(video, context={"request": request}).data, status=202)


video_list_view = streaming_upload(VideoListView.as_view())
video_detail_view = VideoDetailView.as_view()
video_reprocess_view = VideoReprocessView.as_view()
