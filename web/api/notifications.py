"""The caller's notifications, newest first, and marking them read."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from domain.spaces import selectors
from domain.spaces.models import Notification
from domain.spaces.notifications import notifications_mark_read
from web.api.exercises import MAX_ID
from web.api.pagination import Pagination

NOTHING_NAMED = "Name the notifications to mark read (ids), or send all: true."


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "url", "created_at", "read"]


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=1000,
                                required=False)
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, data: dict) -> dict:
        if not data["all"] and "ids" not in data:
            raise serializers.ValidationError(NOTHING_NAMED)
        return data


class NotificationListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = NotificationSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return selectors.notifications_of(user=self.request.user)


class NotificationReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=MarkReadSerializer, responses=inline_serializer("NotificationsRead", {
        "marked": serializers.IntegerField(), "unread": serializers.IntegerField(),
    }))
    def post(self, request):
        form = MarkReadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        marked = notifications_mark_read(user=request.user, ids=form.validated_data.get("ids"),
                                         every=form.validated_data["all"])
        return Response({"marked": marked, "unread": selectors.notifications_unread_count(user=request.user)})


notification_list_view = NotificationListView.as_view()
notification_read_view = NotificationReadView.as_view()
