"""`POST /api/chat/load-test` (staff): the chat load scenario in-process, bounded."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from digitalme.errors import error_response
from loadtest.services import load_test_run

MAX_USERS = 50
MAX_MESSAGES_PER_USER = 20
MAX_TURNS = 300  # keeps one request well under a minute even on a small machine


class LoadTestInputSerializer(serializers.Serializer):
    concurrentUsers = serializers.IntegerField(min_value=1, max_value=MAX_USERS)  # noqa: N815 - docs/API.md name
    messagesPerUser = serializers.IntegerField(min_value=1, max_value=MAX_MESSAGES_PER_USER)  # noqa: N815

    def validate(self, attrs: dict) -> dict:
        if attrs["concurrentUsers"] * attrs["messagesPerUser"] > MAX_TURNS:
            raise serializers.ValidationError(
                {"messagesPerUser": [f"concurrentUsers × messagesPerUser is limited to {MAX_TURNS} turns."]}
            )
        return attrs


class LoadTestLatencySerializer(serializers.Serializer):
    p50 = serializers.FloatField(allow_null=True)
    p95 = serializers.FloatField(allow_null=True)
    p99 = serializers.FloatField(allow_null=True)
    mean = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)


# Documentation of the response (a dict from the service; "errors" can't be a Serializer
# attribute, so the fields are given as a mapping).
LOAD_TEST_OUTPUT_FIELDS: dict[str, serializers.Field] = {
    "users": serializers.IntegerField(),
    "turns_sent": serializers.IntegerField(),
    "turns_ok": serializers.IntegerField(),
    "errors": serializers.IntegerField(),
    "error_codes": serializers.DictField(child=serializers.IntegerField()),
    "failed_handshakes": serializers.IntegerField(),
    "wall_s": serializers.FloatField(),
    "turns_per_s": serializers.FloatField(allow_null=True),
    "ttft_ms": LoadTestLatencySerializer(),
    "full_reply_ms": LoadTestLatencySerializer(),
    "frames_received": serializers.IntegerField(),
    "replies_intact": serializers.IntegerField(),
    "messages_sent": serializers.IntegerField(),
    "messages_stored": serializers.IntegerField(),
}


class LoadTestApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=LoadTestInputSerializer,
        responses={
            # a copy: inline_serializer keeps (and changes) the mapping it is given
            200: inline_serializer("LoadTestOutput", fields=dict(LOAD_TEST_OUTPUT_FIELDS)),
            400: error_response("Sizes out of bounds"),
            403: error_response("Not staff"),
        },
        summary="Run the chat load scenario in-process (staff)",
    )
    def post(self, request):
        data = LoadTestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = load_test_run(
            concurrent_users=data.validated_data["concurrentUsers"],
            messages_per_user=data.validated_data["messagesPerUser"],
        )
        return Response({name: result[name] for name in LOAD_TEST_OUTPUT_FIELDS}, status=status.HTTP_200_OK)
