from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAdminUser

from domain.health.models import HealthReport


class HealthReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = HealthReport
        fields = ["id", "created_at", "status", "duration_ms", "checks"]


@extend_schema(responses=HealthReportSerializer(many=True))
@api_view(["GET"])
@permission_classes([IsAdminUser])
def report_list_view(request):
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(HealthReport.objects.all(), request)
    return paginator.get_paginated_response(HealthReportSerializer(page, many=True).data)
