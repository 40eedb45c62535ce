"""The video in JSON, exactly as /work/shared/CONTRACT.md describes it, plus its job history."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from domain.videos.models import JobStep, Rendition, Video
from web.media.signing import video_hls_url, video_media_url, video_storyboard_url


def _is_owner(context: dict, video: Video) -> bool:
    request = context.get("request")
    return bool(request and request.user.is_authenticated and request.user.pk == video.owner_id)


class RenditionSerializer(serializers.ModelSerializer):
    """The schema of a rendition; VideoSerializer builds the dicts itself (a serializer per
    video doubled the cost of a list page)."""

    url = serializers.CharField()

    class Meta:
        model = Rendition
        fields = ["label", "width", "height", "url", "size_bytes"]


class JobStepSerializer(serializers.ModelSerializer):
    """One step of the history: `reason` is a sentence for the owner; `detail` (exception text,
    ffmpeg's last lines, paths) is for staff only, null for anyone else."""

    detail = serializers.SerializerMethodField()

    class Meta:
        model = JobStep
        fields = ["attempt", "step", "started_at", "finished_at", "outcome", "reason", "detail"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_detail(self, step: JobStep) -> str | None:
        request = self.context.get("request")
        return (step.detail or None) if request and request.user.is_staff else None


class VideoSerializer(serializers.ModelSerializer):
    """A video as the list and the detail show it. Cached lists are built again only when a Video
    field in domain/videos/changes.LISTED_FIELDS changes: a field shown here is listed there."""

    owner = serializers.CharField(source="owner.username", read_only=True)
    error = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    renditions = serializers.SerializerMethodField()
    hls_url = serializers.SerializerMethodField()
    storyboard_url = serializers.SerializerMethodField()
    original_url = serializers.SerializerMethodField()

    class Meta:
        model = Video
        fields = [
            "id", "title", "description", "visibility", "owner", "status", "progress", "error",
            "created_at", "processed_at", "duration", "width", "height", "fps", "thumbnail_url",
            "renditions", "hls_url", "storyboard_url", "original_url",
        ]
        read_only_fields = [f for f in fields if f not in ("title", "description", "visibility")]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, video: Video) -> str | None:
        return video.error or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_thumbnail_url(self, video: Video) -> str | None:
        return video_media_url(video=video, name=video.poster) if video.poster else None

    @extend_schema_field(RenditionSerializer(many=True))
    def get_renditions(self, video: Video) -> list[dict]:
        # Sorted in Python so the prefetched renditions are used as they are (no extra query).
        renditions = sorted(video.renditions.all(), key=lambda r: (r.height * r.width, r.label))
        return [
            {"label": r.label, "width": r.width, "height": r.height,
             "url": video_media_url(video=video, name=r.file), "size_bytes": r.size_bytes}
            for r in renditions
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_hls_url(self, video: Video) -> str | None:
        return video_hls_url(video=video)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_storyboard_url(self, video: Video) -> str | None:
        return video_storyboard_url(video=video)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_original_url(self, video: Video) -> str | None:
        if not video.original or not _is_owner(self.context, video):
            return None
        return video_media_url(video=video, name=video.original)


class VideoDetailSerializer(VideoSerializer):
    """One video: the contract's fields plus `history`, each step of each processing attempt
    (owner and staff only; for anyone else it is an empty list)."""

    history = serializers.SerializerMethodField()

    class Meta(VideoSerializer.Meta):
        fields = [*VideoSerializer.Meta.fields, "history"]

    @extend_schema_field(JobStepSerializer(many=True))
    def get_history(self, video: Video) -> list[dict]:
        request = self.context.get("request")
        if not (_is_owner(self.context, video) or (request and request.user.is_staff)):
            return []
        return JobStepSerializer(video.steps.all(), many=True, context=self.context).data


@extend_schema_field(OpenApiTypes.BINARY)
class _UploadField(serializers.FileField):
    """The file part of a multipart upload: bytes in the schema, not the URL DRF would say."""


class VideoUploadSerializer(serializers.Serializer):
    file = _UploadField(help_text="The video file.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=Video.Visibility.choices, default=Video.Visibility.PRIVATE)


class VideoUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Video.Visibility.choices, required=False)
