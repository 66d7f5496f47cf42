"""Account API: registration, JWT tokens, the current user, export and deletion."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.models import Language
from accounts.serializers import StrictSerializer, TokenRefreshSerializer, UserOutputSerializer
from accounts.services import user_create, user_data_export, user_delete, user_token_logout, user_update
from accounts.throttles import ExportThrottle, LoginEmailThrottle, LoginIpThrottle, RegisterIpThrottle
from digitalme.errors import error_body, error_response

ERROR_RESPONSES = {
    400: error_response("Invalid input"),
    401: error_response("Not authenticated"),
    429: error_response("Too many requests"),
}


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [RegisterIpThrottle]

    class RegisterInputSerializer(StrictSerializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
        language = serializers.ChoiceField(choices=Language.choices, required=False)

    class RegisterOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        email = serializers.EmailField()
        display_name = serializers.CharField()

    @extend_schema(request=RegisterInputSerializer, responses={201: RegisterOutputSerializer, **ERROR_RESPONSES})
    def post(self, request):
        data = self.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_create(**data.validated_data)
        return Response(self.RegisterOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(TokenObtainPairView):
    """Email + password → access + refresh. Wrong credentials: 401 without saying which part."""

    throttle_classes = [LoginIpThrottle, LoginEmailThrottle]


class TokenRefreshApi(TokenRefreshView):
    """Refresh → new access + a rotated refresh; the old refresh is blacklisted."""

    serializer_class = TokenRefreshSerializer
    throttle_classes = [LoginIpThrottle]


class LogoutApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginIpThrottle]

    class LogoutInputSerializer(StrictSerializer):
        refresh = serializers.CharField()

    @extend_schema(request=LogoutInputSerializer, responses={205: None, **ERROR_RESPONSES})
    def post(self, request):
        data = self.LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            user_token_logout(refresh=data.validated_data["refresh"])
        except TokenError:
            return Response(
                error_body("The refresh token is invalid, expired or already logged out.", "token_not_valid"),
                status=status.HTTP_401_UNAUTHORIZED,
            )
        return Response(status=status.HTTP_205_RESET_CONTENT)


class MeApi(APIView):
    class MeUpdateSerializer(StrictSerializer):
        display_name = serializers.CharField(max_length=80, required=False, allow_blank=True)
        language = serializers.ChoiceField(choices=Language.choices, required=False)
        timezone = serializers.CharField(max_length=64, required=False)

    class MeDeleteSerializer(StrictSerializer):
        password = serializers.CharField(trim_whitespace=False)

    @extend_schema(responses={200: UserOutputSerializer, **ERROR_RESPONSES})
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)

    @extend_schema(request=MeUpdateSerializer, responses={200: UserOutputSerializer, **ERROR_RESPONSES})
    def patch(self, request):
        data = self.MeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_update(user=request.user, **data.validated_data)
        return Response(UserOutputSerializer(user).data)

    @extend_schema(request=MeDeleteSerializer, responses={204: None, **ERROR_RESPONSES})
    def delete(self, request):
        data = self.MeDeleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_delete(user=request.user, password=data.validated_data["password"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeExportApi(APIView):
    throttle_classes = [ExportThrottle]

    @extend_schema(responses={200: OpenApiResponse(description="All of the user's data"), **ERROR_RESPONSES})
    def get(self, request):
        response = Response(user_data_export(user=request.user))
        response["Content-Disposition"] = 'attachment; filename="digitalme-export.json"'
        return response
