from __future__ import annotations

from django.contrib import admin

from domain.health.models import CanaryRun, HealthReport, MaintenanceRun


class ReadOnly(admin.ModelAdmin):
    """Written by the scheduled tasks only: the admin shows them, nobody edits them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(HealthReport)
class HealthReportAdmin(ReadOnly):
    list_display = ["created_at", "status", "confirmed", "duration_ms", "failing"]
    list_filter = ["status"]
    date_hierarchy = "created_at"


@admin.register(CanaryRun)
class CanaryRunAdmin(ReadOnly):
    list_display = ["created_at", "ok", "duration_ms", "reason"]
    list_filter = ["ok"]


@admin.register(MaintenanceRun)
class MaintenanceRunAdmin(ReadOnly):
    list_display = ["created_at", "reports_deleted", "orphans_deleted", "orphan_bytes"]
