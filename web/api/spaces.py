"""Spaces: create, list and open yours, join by invite code, and the coaches' member changes.

Someone else's space is a 404 like a missing one (the selectors raise it), so ids cannot be
probed; a member asking what only coaches may gets a 403 (the services refuse it).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from domain.spaces import selectors, services
from domain.spaces.models import Membership, Space
from web.api.pagination import Pagination

INVITE_PAGE = "/join/{code}/"


class SpaceSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True, allow_null=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices, read_only=True)
    members = serializers.IntegerField(read_only=True)
    invite_url = serializers.SerializerMethodField()

    class Meta:
        model = Space
        fields = ["id", "name", "owner", "role", "members", "invite_url"]

    def get_invite_url(self, space: Space) -> str | None:
        if space.role != Membership.Role.COACH:
            return None
        return self.context["request"].build_absolute_uri(INVITE_PAGE.format(code=space.invite_code))


class SpaceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class JoinSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class MemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username", read_only=True)
    role = serializers.ChoiceField(choices=Membership.Role.choices)


def space_response(request, space_id: int, status: int = 200) -> Response:
    # Read again through the selector, so `role` and `members` are the caller's and current.
    space = selectors.space_get_for(user=request.user, space_id=space_id)
    return Response(SpaceSerializer(space, context={"request": request}).data, status=status)


class SpaceListView(generics.ListAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = SpaceSerializer
    pagination_class = Pagination

    def get_queryset(self):
        return selectors.spaces_of(user=self.request.user)

    @extend_schema(request=SpaceCreateSerializer, responses={201: SpaceSerializer})
    def post(self, request):
        form = SpaceCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        space = services.space_create(owner=request.user, **form.validated_data)
        return space_response(request, space.pk, status=201)


class SpaceDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=SpaceSerializer)
    def get(self, request, space_id: int):
        return space_response(request, space_id)

    @extend_schema(responses={204: None})
    def delete(self, request, space_id: int):
        services.space_delete(space=selectors.space_get_for(user=request.user, space_id=space_id), actor=request.user)
        return Response(status=204)


class SpaceJoinView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=JoinSerializer, responses=SpaceSerializer)
    def post(self, request):
        form = JoinSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        space = services.space_join(user=request.user, code=form.validated_data["code"])
        return space_response(request, space.pk)


class MemberView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=MemberSerializer, responses=MemberSerializer)
    def patch(self, request, space_id: int, username: str):
        space = selectors.space_get_for(user=request.user, space_id=space_id)
        form = MemberSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        membership = services.membership_set_role(
            space=space, actor=request.user, username=username, role=form.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, space_id: int, username: str):
        space = selectors.space_get_for(user=request.user, space_id=space_id)
        services.membership_remove(space=space, actor=request.user, username=username)
        return Response(status=204)


space_list_view = SpaceListView.as_view()
space_detail_view = SpaceDetailView.as_view()
space_join_view = SpaceJoinView.as_view()
member_view = MemberView.as_view()
