"""Saved loops on a video (domain/videos/loops.py): each user lists, saves, renames and deletes
their own, on videos they may watch; any other video, and anyone else's loop, is a 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from domain.videos import loops
from domain.videos.models import SavedLoop
from domain.videos.selectors import video_get_for
from web.api.pagination import Pagination


class LoopSerializer(serializers.ModelSerializer):
    video = serializers.CharField(source="video_id", read_only=True)

    class Meta:
        model = SavedLoop
        fields = ["id", "video", "name", "a", "b", "created_at"]


class LoopWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    a = serializers.FloatField(help_text="Start of the loop, seconds from the start of the video.")
    b = serializers.FloatField(help_text="End of the loop, seconds; after a.")


class LoopListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = LoopSerializer
    pagination_class = Pagination

    def get_queryset(self):
        video = video_get_for(user=self.request.user, video_id=self.kwargs["video_id"])
        return loops.loops_of(user=self.request.user, video=video)

    @extend_schema(request=LoopWriteSerializer, responses={201: LoopSerializer})
    def post(self, request, video_id: str):
        video = video_get_for(user=request.user, video_id=video_id)
        form = LoopWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        loop = loops.loop_create(user=request.user, video=video, **form.validated_data)
        return Response(LoopSerializer(loop).data, status=201)


class LoopDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def _loop(self, request, video_id: str, loop_id: int) -> SavedLoop:
        video = video_get_for(user=request.user, video_id=video_id)
        return loops.loop_get_for(user=request.user, video=video, loop_id=loop_id)

    @extend_schema(responses=LoopSerializer)
    def get(self, request, video_id: str, loop_id: int):
        return Response(LoopSerializer(self._loop(request, video_id, loop_id)).data)

    @extend_schema(request=LoopWriteSerializer(partial=True), responses=LoopSerializer)
    def patch(self, request, video_id: str, loop_id: int):
        loop = self._loop(request, video_id, loop_id)
        form = LoopWriteSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        return Response(LoopSerializer(loops.loop_update(loop=loop, **form.validated_data)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, video_id: str, loop_id: int):
        loops.loop_delete(loop=self._loop(request, video_id, loop_id))
        return Response(status=204)


loop_list_view = LoopListView.as_view()
loop_detail_view = LoopDetailView.as_view()
