"""Staff API of the ops app: `POST /api/performance/database-test`."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import StrictSerializer
from digitalme.errors import error_response
from ops.dbtest import database_latency_test


class DatabaseTestApi(APIView):
    """Times the product's hot queries (chat turn, integrations) and judges p95 against 100 ms."""

    permission_classes = [IsAdminUser]

    class DatabaseTestInputSerializer(StrictSerializer):
        iterations = serializers.IntegerField(min_value=1, max_value=2000, default=100)

    @extend_schema(
        request=DatabaseTestInputSerializer,
        responses={
            200: OpenApiResponse(description="p50/p95 per query and a pass/fail verdict against the threshold"),
            400: error_response("Invalid input"),
            401: error_response("Not authenticated"),
            403: error_response("Not staff"),
        },
    )
    def post(self, request):
        data = self.DatabaseTestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(database_latency_test(user=request.user, **data.validated_data))
