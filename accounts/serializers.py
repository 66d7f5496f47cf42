"""Shapes of account data on the API."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer as BaseTokenObtainPairSerializer
from rest_framework_simplejwt.serializers import TokenRefreshSerializer as BaseTokenRefreshSerializer

from accounts.models import User
from accounts.tokens import LoginRefreshToken


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "display_name", "language", "timezone", "is_staff", "date_joined"]
        read_only_fields = fields


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know instead of silently ignoring them."""

    def validate(self, attrs):
        unknown = set(getattr(self, "initial_data", {}) or {}) - set(self.fields)
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in sorted(unknown)})
        return attrs


class TokenRefreshSerializer(BaseTokenRefreshSerializer):
    """simplejwt looks the token's user up with .get(): a deleted account's token is a 401, not a 500."""

    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except ObjectDoesNotExist as exc:
            raise AuthenticationFailed("No active account found for the given token.", "no_active_account") from exc


class TokenObtainPairSerializer(BaseTokenObtainPairSerializer):
    """Email + password → a refresh token naming a new log-in (its `sid`), and its access token."""

    token_class = LoginRefreshToken
