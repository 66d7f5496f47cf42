"""Web Push API: the server's public key, and the signed-in user's devices (list, add, remove)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import StrictSerializer
from digitalme.errors import error_response
from notifications.models import PushSubscription
from notifications.selectors import push_subscription_list
from notifications.services import push_enabled, push_subscription_delete, push_subscription_save, vapid_public_key

E400 = error_response("Invalid subscription (code invalid_subscription or invalid)")
E401 = error_response("Not authenticated")
E404 = error_response("Not found (or not yours)")
E409 = error_response("Push is not configured on this server (code push_unavailable)")


class PushConfigOutputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    public_key = serializers.CharField(help_text="VAPID applicationServerKey (base64url), empty when disabled")


class PushSubscriptionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "label", "created", "last_success_at", "last_failure_at", "failures"]
        read_only_fields = fields


class PushConfigApi(APIView):
    @extend_schema(responses={200: PushConfigOutputSerializer, 401: E401})
    def get(self, request):
        return Response(PushConfigOutputSerializer({"enabled": push_enabled(), "public_key": vapid_public_key()}).data)


class PushSubscriptionKeysInputSerializer(StrictSerializer):
    p256dh = serializers.CharField(max_length=128)
    auth = serializers.CharField(max_length=64)


class PushSubscriptionListApi(APIView):
    class PushSubscriptionCreateInputSerializer(StrictSerializer):
        endpoint = serializers.URLField(max_length=1000)
        keys = PushSubscriptionKeysInputSerializer()
        expirationTime = serializers.IntegerField(required=False, allow_null=True)  # noqa: N815 - the browser's name

    @extend_schema(responses={200: PushSubscriptionOutputSerializer(many=True), 401: E401})
    def get(self, request):
        return Response(PushSubscriptionOutputSerializer(push_subscription_list(user=request.user), many=True).data)

    @extend_schema(
        request=PushSubscriptionCreateInputSerializer,
        responses={
            200: PushSubscriptionOutputSerializer,
            201: PushSubscriptionOutputSerializer,
            400: E400,
            401: E401,
            409: E409,
        },
    )
    def post(self, request):
        data = self.PushSubscriptionCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription, created = push_subscription_save(
            user=request.user,
            endpoint=data.validated_data["endpoint"],
            p256dh=data.validated_data["keys"]["p256dh"],
            auth=data.validated_data["keys"]["auth"],
            user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(
            PushSubscriptionOutputSerializer(subscription).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PushSubscriptionDetailApi(APIView):
    @extend_schema(operation_id="push_subscription_destroy", responses={204: None, 401: E401, 404: E404})
    def delete(self, request, subscription_id: int):
        push_subscription_delete(user=request.user, subscription_id=subscription_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
