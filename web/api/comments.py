"""Comments pinned to a moment of a video: read by whoever may open the video, written by them
when signed in (rate limited like uploads), changed by the author, deleted by the author or the
video's owner."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.response import Response
from rest_framework.views import APIView

from domain.spaces import selectors, services
from domain.spaces.models import Comment
from domain.videos.selectors import video_get_for
from web.api.pagination import Pagination
from web.api.serializers import VideoSerializer
from web.security import CommentRateThrottle


class CommentSerializer(serializers.ModelSerializer):
    video = serializers.CharField(source="video_id", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    video_reply = VideoSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Comment
        fields = ["id", "video", "author", "text", "at", "until", "video_reply", "created_at"]


class CommentWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    at = serializers.FloatField(help_text="Seconds from the start of the video.")
    until = serializers.FloatField(allow_null=True, required=False, default=None,
                                   help_text="End of the range, in seconds; null for a moment.")
    video = serializers.CharField(max_length=32, allow_null=True, required=False, default=None,
                                  help_text="Id of one of your videos, as a video reply.")


def _fields(data: dict) -> dict:
    if "video" in data:
        data["video_reply_id"] = data.pop("video")
    return data


class CommentListView(generics.ListAPIView):
    permission_classes = [IsAuthenticatedOrReadOnly]
    throttle_classes = [CommentRateThrottle]
    serializer_class = CommentSerializer
    pagination_class = Pagination

    def get_queryset(self):
        video = video_get_for(user=self.request.user, video_id=self.kwargs["video_id"])
        return selectors.comments_on(video_id=video.pk)

    @extend_schema(request=CommentWriteSerializer, responses={201: CommentSerializer})
    def post(self, request, video_id: str):
        video = video_get_for(user=request.user, video_id=video_id)
        form = CommentWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        comment = services.comment_create(video=video, author=request.user, **_fields(dict(form.validated_data)))
        return Response(CommentSerializer(comment, context={"request": request}).data, status=201)


class CommentDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=CommentWriteSerializer(partial=True), responses=CommentSerializer)
    def patch(self, request, comment_id: int):
        comment = selectors.comment_get_for(user=request.user, comment_id=comment_id)
        form = CommentWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        comment = services.comment_update(comment=comment, actor=request.user, **_fields(dict(form.validated_data)))
        return Response(CommentSerializer(comment, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, comment_id: int):
        comment = selectors.comment_get_for(user=request.user, comment_id=comment_id)
        services.comment_delete(comment=comment, actor=request.user)
        return Response(status=204)


comment_list_view = CommentListView.as_view()
comment_detail_view = CommentDetailView.as_view()
