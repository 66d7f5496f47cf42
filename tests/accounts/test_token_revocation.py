"""A stolen refresh token must not outlive the remedy: password change, reset, deactivation,
deletion. Every path (allauth's pages, the admin, the API) ends the account's refresh tokens."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-correct-horse-77"


def api_tokens(email: str, password: str = PASSWORD) -> dict:
    response = APIClient().post("/api/auth/token/", {"email": email, "password": password}, format="json")
    assert response.status_code == 200
    return response.json()


def refresh_status(refresh: str) -> int:
    return APIClient().post("/api/auth/token/refresh/", {"refresh": refresh}, format="json").status_code


def test_password_change_on_the_allauth_page_ends_refresh_tokens(client, user):
    tokens = api_tokens(user.email)
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert refresh_status(tokens["refresh"]) == 401
    assert refresh_status(api_tokens(user.email, NEW_PASSWORD)["refresh"]) == 200


def test_password_reset_ends_refresh_tokens(client, user):
    tokens = api_tokens(user.email)
    assert client.post("/accounts/password/reset/", {"email": user.email}).status_code == 302
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body)
    assert link is not None
    form_page = client.get(link.group(1), follow=True)
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert refresh_status(tokens["refresh"]) == 401


def test_password_change_in_the_admin_ends_refresh_tokens(client, user, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    tokens = api_tokens(user.email)
    client.force_login(staff_user)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    assert refresh_status(tokens["refresh"]) == 401


def test_deactivation_in_the_admin_ends_refresh_tokens_for_good(client, user, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    tokens = api_tokens(user.email)
    client.force_login(staff_user)
    change_url = f"/admin/accounts/user/{user.pk}/change/"
    form = {
        "email": user.email,
        "display_name": user.display_name,
        "language": "en",
        "timezone": "UTC",
    }
    assert client.post(change_url, {**form, "is_active": ""}).status_code == 302
    assert refresh_status(tokens["refresh"]) == 401
    # Reactivating the account does not bring the old token back to life.
    assert client.post(change_url, {**form, "is_active": "on"}).status_code == 302
    assert refresh_status(tokens["refresh"]) == 401


def test_deleted_accounts_refresh_token_is_401_not_500(user):
    tokens = api_tokens(user.email)
    auth = APIClient()
    auth.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert auth.delete("/api/me/", {"password": PASSWORD}, format="json").status_code == 204
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code", "fields"}


def test_refresh_of_a_user_deleted_outside_the_api_is_401(user):
    tokens = api_tokens(user.email)
    user.delete()
    response = APIClient().post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] in ("token_not_valid", "no_active_account")
