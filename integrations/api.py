"""Integrations API (docs/API.md "Integrations"): list, switches, sync now, disconnect, health,
insights and the staff measurements. Thin: parse, call a service/selector, serialize.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp
from django.http import Http404
from django.urls import reverse
from django.utils.http import urlencode
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import StrictSerializer
from digitalme.errors import error_response
from digitalme.throttling import UserRateThrottle
from integrations import insights, loadtest, selectors, services
from integrations.models import PROVIDER_KINDS, Integration, IntegrationStatus, Provider

ERRORS = {
    400: error_response("Invalid input"),
    401: error_response("Not authenticated"),
    404: error_response("Unknown provider"),
    409: error_response("Not connected / reconnect needed / switched off"),
    503: error_response("The sync queue is unavailable"),
}
INTEGRATIONS_PAGE = "/integrations/"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _configured(provider: str) -> bool:
    from allauth.socialaccount.adapter import get_adapter

    try:
        get_adapter().get_app(None, provider)
    except (SocialApp.DoesNotExist, Http404):  # our adapter turns "not configured" into a 404
        return False
    return True


def integration_state(provider: str, integration: Integration | None) -> dict[str, Any]:
    """One provider's entry of the list (documented in docs/INTEGRATIONS.md). Never any token."""
    connect = f"{reverse(f'{provider}_login')}?{urlencode({'process': 'connect', 'next': INTEGRATIONS_PAGE})}"
    api = f"/api/integrations/{provider}/"
    base: dict[str, Any] = {
        "provider": provider,
        "name": Provider(provider).label,
        "configured": _configured(provider),
        "connected": integration is not None,
        "urls": {"connect": connect, "update": api, "sync": f"{api}sync/", "disconnect": f"{api}disconnect/"},
    }
    if integration is None:
        return {
            **base,
            "account": "",
            "enabled": False,
            "status": "not_connected",
            "reconnect_needed": False,
            "status_detail": "",
            "kinds": dict.fromkeys(PROVIDER_KINDS[provider], False),
            "last_sync": None,
            "last_success": None,
            "last_error": "",
            "items": 0,
            "items_by_kind": dict.fromkeys(PROVIDER_KINDS[provider], 0),
            "refresh": {"attempts": 0, "successes": 0},
        }
    counts = selectors.integration_item_counts(integration)
    if integration.status == IntegrationStatus.RECONNECT_NEEDED:
        state = "reconnect_needed"
    elif not integration.enabled:
        state = "paused"
    else:
        state = "active"
    return {
        **base,
        "account": integration.account_label,
        "enabled": integration.enabled,
        "status": state,
        "reconnect_needed": integration.reconnect_needed,
        "status_detail": integration.status_detail,
        "kinds": {kind: bool(integration.kinds.get(kind, True)) for kind in PROVIDER_KINDS[provider]},
        "last_sync": _iso(integration.last_sync_at),
        "last_success": _iso(integration.last_success_at),
        "last_error": integration.last_error,
        "items": sum(counts.values()),
        "items_by_kind": counts,
        "refresh": {"attempts": integration.refresh_attempts, "successes": integration.refresh_successes},
    }


class IntegrationOutputSerializer(serializers.Serializer):
    provider = serializers.ChoiceField(choices=Provider.choices)
    name = serializers.CharField()
    configured = serializers.BooleanField(help_text="client id/secret set on the server")
    connected = serializers.BooleanField()
    account = serializers.CharField(help_text="GitHub login or Google email")
    enabled = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["not_connected", "active", "paused", "reconnect_needed"])
    reconnect_needed = serializers.BooleanField()
    status_detail = serializers.CharField()
    kinds = serializers.DictField(child=serializers.BooleanField())
    last_sync = serializers.DateTimeField(allow_null=True)
    last_success = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()
    items = serializers.IntegerField()
    items_by_kind = serializers.DictField(child=serializers.IntegerField())
    refresh = serializers.DictField(child=serializers.IntegerField())
    urls = serializers.DictField(child=serializers.CharField())


class IntegrationListApi(APIView):
    @extend_schema(responses={200: IntegrationOutputSerializer(many=True), **ERRORS})
    def get(self, request):
        found = selectors.integration_list(user=request.user)
        return Response([integration_state(provider, integration) for provider, integration in found.items()])


class IntegrationDetailApi(APIView):
    class IntegrationUpdateInputSerializer(StrictSerializer):
        enabled = serializers.BooleanField(required=False)
        kinds = serializers.DictField(child=serializers.BooleanField(), required=False)

    @extend_schema(responses={200: IntegrationOutputSerializer, **ERRORS})
    def get(self, request, provider: str):
        services.provider_from_slug(provider)
        return Response(integration_state(provider, selectors.integration_list(user=request.user)[provider]))

    @extend_schema(request=IntegrationUpdateInputSerializer, responses={200: IntegrationOutputSerializer, **ERRORS})
    def patch(self, request, provider: str):
        services.provider_from_slug(provider)
        data = self.IntegrationUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.integration_update(user=request.user, provider=provider, **data.validated_data)
        return Response(integration_state(provider, selectors.integration_list(user=request.user)[provider]))

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "IntegrationDeleted", {"provider": serializers.CharField(), "revoked": serializers.BooleanField()}
            ),
            **ERRORS,
        },
    )
    def delete(self, request, provider: str):
        """Same as POST .../disconnect/: revoke at the provider, delete tokens and synced data."""
        return Response(services.integration_disconnect(user=request.user, provider=provider))


class SyncNowThrottle(UserRateThrottle):
    """Each "sync now" queues a job that calls Google/GitHub: a few an hour per user."""

    scope = "sync_now"


class IntegrationSyncApi(APIView):
    throttle_classes = [SyncNowThrottle]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "IntegrationSyncQueued", {"queued": serializers.BooleanField(), "provider": serializers.CharField()}
            ),
            **ERRORS,
        },
    )
    def post(self, request, provider: str):
        services.integration_sync_request(user=request.user, provider=provider)
        return Response({"queued": True, "provider": provider}, status=status.HTTP_202_ACCEPTED)


class IntegrationDisconnectApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "IntegrationDisconnected", {"provider": serializers.CharField(), "revoked": serializers.BooleanField()}
            ),
            **ERRORS,
        },
    )
    def post(self, request, provider: str):
        return Response(services.integration_disconnect(user=request.user, provider=provider))


class IntegrationHealthApi(APIView):
    """Public: each provider healthy/degraded/down from recent sync results; no user data."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "IntegrationHealth", {"status": serializers.CharField(), "providers": serializers.DictField()}
            )
        }
    )
    def get(self, request):
        providers = selectors.provider_health()
        states = {p["status"] for p in providers.values()}
        overall = "down" if states == {"down"} else "degraded" if states - {"healthy"} else "healthy"
        return Response({"status": overall, "providers": providers, "token_refresh": selectors.refresh_success_rate()})


class IntegrationLoadTestApi(APIView):
    permission_classes = [IsAdminUser]

    class IntegrationLoadTestInputSerializer(StrictSerializer):
        provider = serializers.ChoiceField(choices=Provider.choices, default=Provider.GITHUB)
        concurrency = serializers.IntegerField(min_value=1, max_value=100, default=10)
        rounds = serializers.IntegerField(min_value=1, max_value=20, default=1)

    @extend_schema(
        request=IntegrationLoadTestInputSerializer,
        responses={
            200: OpenApiResponse(description="latency percentiles and errors"),
            403: error_response("Staff only"),
            **ERRORS,
        },
    )
    def post(self, request):
        data = self.IntegrationLoadTestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(loadtest.integrations_load_test(user=request.user, **data.validated_data))


class InsightListApi(APIView):
    @extend_schema(responses={200: OpenApiResponse(description="{insights: [...], generated_at}"), **ERRORS})
    def get(self, request):
        items = insights.compute_insights(user=request.user)
        now = insights.current_time()
        return Response(
            {
                "generated_at": now.isoformat(),
                "insights": [{**i.as_dict(), "freshness": insights.freshness(i.synced_at, now)} for i in items],
            }
        )
