from __future__ import annotations

from django.contrib import admin

from domain.spaces.models import (
    Comment,
    Exercise,
    Membership,
    Notification,
    Reply,
    Space,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Space)
class SpaceAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "created_at"]
    search_fields = ["name", "owner__username"]
    list_select_related = ["owner"]
    readonly_fields = ["invite_code", "created_at"]
    raw_id_fields = ["owner"]
    inlines = [MembershipInline]


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "space", "created_by", "replies_visible", "created_at"]
    search_fields = ["title", "space__name"]
    list_select_related = ["space", "created_by"]
    raw_id_fields = ["space", "video", "created_by"]


@admin.register(Reply)
class ReplyAdmin(admin.ModelAdmin):
    list_display = ["id", "exercise", "author", "video", "created_at"]
    list_select_related = ["exercise", "author", "video"]
    raw_id_fields = ["exercise", "author", "video"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["id", "video", "author", "at", "until", "created_at"]
    search_fields = ["text", "author__username", "video__id"]
    list_select_related = ["video", "author"]
    raw_id_fields = ["video", "author", "video_reply"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "kind", "text", "read", "created_at", "mailed_at"]
    list_filter = ["kind", "read"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
