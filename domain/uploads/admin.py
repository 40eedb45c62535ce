from __future__ import annotations

from django.contrib import admin

from domain.uploads.models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["key", "owner", "filename", "offset", "length", "video_id", "updated_at", "completed_at"]
    list_filter = ["completed_at"]
    search_fields = ["key", "video_id", "owner__username", "filename"]
    # Progress is the protocol's business: an edit here would desynchronise it from storage.
    readonly_fields = [field.name for field in Upload._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
