"""JSON API for reports: `POST /api/reports/`."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from reports import services
from reports.models import REASON_MAX_LENGTH, Report, TargetType


class ReportInputSerializer(serializers.Serializer):
    target_type = serializers.ChoiceField(choices=TargetType.choices)
    target_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    reason = serializers.CharField(min_length=1, max_length=REASON_MAX_LENGTH)


class ReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = Report
        fields = ["id", "target_type", "target_id", "reason", "status", "created_at"]
        read_only_fields = fields


class ReportsView(APIView):
    """Report a post, comment, message or bunny you can see to the moderators."""

    @extend_schema(
        request=ReportInputSerializer,
        responses={201: ReportSerializer},
        description="404 when the target does not exist or is not visible to you; "
        "409 when you have an open report of it already.",
    )
    def post(self, request):
        data = ReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.report_content(reporter=request.user, **data.validated_data)
        return Response(ReportSerializer(report).data, status=status.HTTP_201_CREATED)
