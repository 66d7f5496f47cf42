"""The accounts API end to end on the real database and cache."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def register(client: APIClient, **overrides):
    body = {"email": "ivan.fan@example.com", "password": PASSWORD, "display_name": "Fan", **overrides}
    return client.post("/api/auth/register/", body, format="json")


def test_register_token_me_refresh_logout_flow(api_client):
    created = register(api_client)
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], "email": "ivan.fan@example.com", "display_name": "Fan"}

    tokens = api_client.post("/api/auth/token/", {"email": "ivan.fan@example.com", "password": PASSWORD}, format="json")
    assert tokens.status_code == 200
    access, refresh = tokens.json()["access"], tokens.json()["refresh"]

    me = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert me.status_code == 200
    assert me.json()["email"] == "ivan.fan@example.com"

    rotated = api_client.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert rotated.status_code == 200
    new_refresh = rotated.json()["refresh"]
    assert new_refresh != refresh
    assert api_client.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json").status_code == 401

    logout = api_client.post("/api/auth/token/logout/", {"refresh": new_refresh}, format="json")
    assert logout.status_code == 205
    after = api_client.post("/api/auth/token/refresh/", {"refresh": new_refresh}, format="json")
    assert after.status_code == 401
    assert after.json()["code"] == "token_not_valid"


def test_me_patch_updates_profile(auth_client, user):
    response = auth_client.patch(
        "/api/me/", {"display_name": "Masha", "language": "ru", "timezone": "Europe/Moscow"}, format="json"
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.display_name, user.language, user.timezone) == ("Masha", "ru", "Europe/Moscow")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "de"}, "language"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"display_name": "x" * 81}, "display_name"),
        ({"is_staff": True}, "is_staff"),
    ],
)
def test_me_patch_rejects_bad_fields(auth_client, body, field):
    response = auth_client.patch("/api/me/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_malformed_json_is_400(api_client):
    response = api_client.post("/api/auth/register/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_missing_fields_are_named(api_client):
    response = api_client.post("/api/auth/register/", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "password"}


def test_extra_field_is_rejected(api_client):
    response = register(api_client, is_superuser=True)
    assert response.status_code == 400
    assert "is_superuser" in response.json()["fields"]
    assert not User.objects.exists()


def test_duplicate_email_is_400_case_insensitive(api_client):
    assert register(api_client).status_code == 201
    response = register(api_client, email="IVAN.FAN@example.com")
    assert response.status_code == 400
    assert "email" in response.json()["fields"]


@pytest.mark.parametrize("weak", ["password", "12345678", "short"])
def test_weak_password_is_400(api_client, weak):
    response = register(api_client, password=weak)
    assert response.status_code == 400
    assert "password" in response.json()["fields"]


def test_wrong_password_is_401_without_saying_which_part(api_client, user):
    wrong_password = api_client.post(
        "/api/auth/token/", {"email": user.email, "password": "nope-nope-nope"}, format="json"
    )
    unknown_email = api_client.post(
        "/api/auth/token/", {"email": "ghost@example.com", "password": PASSWORD}, format="json"
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]


def test_token_endpoint_is_throttled_per_email(api_client, user):
    for attempt in range(10):
        api_client.post(
            "/api/auth/token/",
            {"email": user.email, "password": "wrong"},
            format="json",
            REMOTE_ADDR=f"10.0.0.{attempt}",
        )
    response = api_client.post(
        "/api/auth/token/", {"email": user.email, "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.1.1"
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"


def test_token_endpoint_is_throttled_per_ip(api_client):
    for attempt in range(10):
        api_client.post("/api/auth/token/", {"email": f"a{attempt}@example.com", "password": "x"}, format="json")
    response = api_client.post("/api/auth/token/", {"email": "b@example.com", "password": "x"}, format="json")
    assert response.status_code == 429
    assert "Retry-After" in response


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_bad_access_token_is_401(api_client, token):
    response = api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401


def test_tampered_access_token_is_401(api_client, user):
    access = api_client.post("/api/auth/token/", {"email": user.email, "password": PASSWORD}, format="json").json()[
        "access"
    ]
    header, payload, signature = access.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    assert api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {tampered}").status_code == 401


def test_expired_access_token_is_401(api_client, user, settings):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_logout_with_garbage_token_is_401(api_client):
    response = api_client.post("/api/auth/token/logout/", {"refresh": "garbage"}, format="json")
    assert response.status_code == 401


def test_token_lifetimes_are_bounded(settings):
    jwt = settings.SIMPLE_JWT
    assert jwt["ACCESS_TOKEN_LIFETIME"].total_seconds() <= 15 * 60
    assert jwt["REFRESH_TOKEN_LIFETIME"].days <= 7


def test_delete_account_requires_password(auth_client, user):
    wrong = auth_client.delete("/api/me/", {"password": "wrong"}, format="json")
    assert wrong.status_code == 400
    assert User.objects.filter(pk=user.pk).exists()
    right = auth_client.delete("/api/me/", {"password": PASSWORD}, format="json")
    assert right.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()


def test_export_contains_account(auth_client, user):
    response = auth_client.get("/api/me/export/")
    assert response.status_code == 200
    assert response.json()["account"]["email"] == user.email


def test_me_requires_auth(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_unknown_api_path_is_json_404(api_client):
    response = api_client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
