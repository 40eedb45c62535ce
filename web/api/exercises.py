"""Exercises of a space and the video replies to them.

An exercise outside the caller's spaces is a 404; writing what only coaches may is a 403 from
the services. Replies are listed to the coaches (and to every member when the exercise shows
them); anyone else sees their own.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from domain.spaces import selectors, services
from domain.spaces.models import Exercise, Membership, Reply
from web.api.pagination import Pagination
from web.api.serializers import VideoSerializer

# Ids are PostgreSQL bigints; a larger number is no id at all (400, not a database error).
MAX_ID = 2**63 - 1


class ExerciseSerializer(serializers.ModelSerializer):
    """`answered` (usernames of those who replied) is for the space's coaches, null for members;
    the view puts the page's answers in the context, one query for the whole page."""

    space = serializers.IntegerField(source="space_id", read_only=True)
    video = VideoSerializer(read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    replies = serializers.IntegerField(source="reply_count", read_only=True, default=0)
    answered = serializers.SerializerMethodField()

    class Meta:
        model = Exercise
        fields = ["id", "space", "title", "instructions", "video", "replies_visible", "created_by", "created_at",
                  "replies", "answered"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField(), allow_null=True))
    def get_answered(self, exercise: Exercise) -> list[str] | None:
        if exercise.role != Membership.Role.COACH:
            return None
        return self.context["answered"].get(exercise.pk, [])


class ExerciseCreateSerializer(serializers.Serializer):
    space = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(max_length=20000, allow_blank=True, required=False, default="")
    video = serializers.CharField(max_length=32, allow_null=True, required=False, default=None,
                                  help_text="Id of one of your videos: the demonstration.")
    replies_visible = serializers.BooleanField(required=False, default=False)


class ExerciseUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    instructions = serializers.CharField(max_length=20000, allow_blank=True, required=False)
    video = serializers.CharField(max_length=32, allow_null=True, required=False)
    replies_visible = serializers.BooleanField(required=False)


class ReplySerializer(serializers.ModelSerializer):
    exercise = serializers.IntegerField(source="exercise_id", read_only=True)
    author = serializers.CharField(source="author.username", read_only=True)
    video = VideoSerializer(read_only=True)

    class Meta:
        model = Reply
        fields = ["id", "exercise", "author", "video", "note", "created_at"]


class ReplyCreateSerializer(serializers.Serializer):
    video = serializers.CharField(max_length=32, help_text="Id of one of your videos.")
    note = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")


def exercise_response(request, exercise_id: int, status: int = 200) -> Response:
    exercise = selectors.exercise_get_for(user=request.user, exercise_id=exercise_id)
    context = {"request": request, "answered": selectors.exercises_answered(exercise_ids=[exercise.pk])}
    return Response(ExerciseSerializer(exercise, context=context).data, status=status)


class ExerciseListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ExerciseSerializer
    pagination_class = Pagination

    def get_queryset(self):
        space = self.request.query_params.get("space")
        if space is None:
            return selectors.exercises_visible_to(user=self.request.user)
        field = serializers.IntegerField(min_value=1, max_value=MAX_ID)
        try:
            space_id = field.run_validation(space)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"space": exc.detail}) from None
        selectors.space_get_for(user=self.request.user, space_id=space_id)  # 404 for a non-member
        return selectors.exercises_visible_to(user=self.request.user, space_id=space_id)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        coached = [e.pk for e in page if e.role == Membership.Role.COACH]
        self.answered = selectors.exercises_answered(exercise_ids=coached)
        return page

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "answered": getattr(self, "answered", {})}

    @extend_schema(parameters=[OpenApiParameter("space", int, description="Only this space's exercises.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=ExerciseCreateSerializer, responses={201: ExerciseSerializer})
    def post(self, request):
        form = ExerciseCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        space = selectors.space_get_for(user=request.user, space_id=data.pop("space"))
        exercise = services.exercise_create(space_id=space.pk, author=request.user, video_id=data.pop("video"), **data)
        return exercise_response(request, exercise.pk, status=201)


class ExerciseDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ExerciseSerializer)
    def get(self, request, exercise_id: int):
        return exercise_response(request, exercise_id)

    @extend_schema(request=ExerciseUpdateSerializer, responses=ExerciseSerializer)
    def patch(self, request, exercise_id: int):
        exercise = selectors.exercise_get_for(user=request.user, exercise_id=exercise_id)
        form = ExerciseUpdateSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        fields = dict(form.validated_data)
        if "video" in fields:
            fields["video_id"] = fields.pop("video")
        services.exercise_update(exercise=exercise, actor=request.user, **fields)
        return exercise_response(request, exercise_id)

    @extend_schema(responses={204: None})
    def delete(self, request, exercise_id: int):
        exercise = selectors.exercise_get_for(user=request.user, exercise_id=exercise_id)
        services.exercise_delete(exercise=exercise, actor=request.user)
        return Response(status=204)


class ReplyListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = ReplySerializer
    pagination_class = Pagination

    def get_queryset(self):
        exercise = selectors.exercise_get_for(user=self.request.user, exercise_id=self.kwargs["exercise_id"])
        return selectors.replies_visible_to(user=self.request.user, exercise=exercise)

    @extend_schema(request=ReplyCreateSerializer, responses={201: ReplySerializer})
    def post(self, request, exercise_id: int):
        exercise = selectors.exercise_get_for(user=request.user, exercise_id=exercise_id)
        form = ReplyCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        reply = services.reply_create(exercise=exercise, author=request.user,
                                      video_id=form.validated_data["video"], note=form.validated_data["note"])
        reply = selectors.replies_visible_to(user=request.user, exercise=exercise).get(pk=reply.pk)
        return Response(ReplySerializer(reply, context={"request": request}).data, status=201)


exercise_list_view = ExerciseListView.as_view()
exercise_detail_view = ExerciseDetailView.as_view()
reply_list_view = ReplyListView.as_view()
