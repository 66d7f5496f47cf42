"""Telegram REST API: issue a one-time link code for the signed-in user."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from digitalme.errors import error_response
from digitalme.throttling import UserRateThrottle
from telegram_bot.services import link_code_issue


class LinkCodeThrottle(UserRateThrottle):
    scope = "telegram_link_code"
    rate = "10/min"


class TelegramLinkCodeApi(APIView):
    throttle_classes = [LinkCodeThrottle]

    class TelegramLinkCodeOutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        deep_link = serializers.URLField(
            allow_null=True, help_text="https://t.me/<bot>?start=<code>; null if the bot's username is unknown"
        )
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=None,
        responses={
            201: TelegramLinkCodeOutputSerializer,
            401: error_response("Not authenticated"),
            403: error_response("Guest accounts can't link"),
            404: error_response("Telegram is not set up on this server"),
            429: error_response("Too many requests"),
        },
    )
    def post(self, request):
        issued = link_code_issue(user=request.user)
        return Response(self.TelegramLinkCodeOutputSerializer(issued).data, status=status.HTTP_201_CREATED)
