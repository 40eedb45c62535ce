from __future__ import annotations

from django.contrib import admin

from domain.videos.models import JobStep, Rendition, Video


class RenditionInline(admin.TabularInline):
    model = Rendition
    extra = 0
    can_delete = False
    readonly_fields = ["label", "width", "height", "file", "size_bytes"]


class JobStepInline(admin.TabularInline):
    """The job history: every step of every attempt, with how and why it ended."""

    model = JobStep
    extra = 0
    can_delete = False
    readonly_fields = ["attempt", "step", "started_at", "finished_at", "outcome", "reason", "detail"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Video)
class VideoAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "owner", "visibility", "status", "progress", "attempts", "created_at"]
    list_filter = ["status", "visibility"]
    search_fields = ["id", "title", "owner__username", "original_filename"]
    list_select_related = ["owner"]
    readonly_fields = [
        "id", "status", "progress", "error", "original", "original_filename", "size", "duration",
        "width", "height", "poster", "attempts", "claim", "heartbeat_at", "queued_at", "created_at",
        "processed_at", "first_ready_at",
    ]
    inlines = [RenditionInline, JobStepInline]
