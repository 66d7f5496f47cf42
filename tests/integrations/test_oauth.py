"""The real allauth OAuth flow (login view → provider → callback) against the loopback fakes."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.db import connection

from accounts.models import User
from integrations import crypto
from integrations.models import Integration, IntegrationToken

pytestmark = pytest.mark.django_db


def _start(client, provider: str, **params) -> dict[str, list[str]]:
    response = client.post(f"/accounts/{provider}/login/", params)
    assert response.status_code == 302, response.content[:500]
    return parse_qs(urlsplit(response["Location"]).query) | {"_url": [response["Location"]]}


def test_github_connect_stores_encrypted_token_and_blanks_allauths_copy(client, user, providers):
    _, github = providers
    github.add_user("ivan", email="ivan-gh@example.com")
    github.authorize("code-1", "ivan")
    client.force_login(user)

    query = _start(client, "github", process="connect")
    assert query["_url"][0].startswith(f"{github.url}/login/oauth/authorize")
    assert set(query["scope"][0].split()) == {"read:user", "user:email"}  # read-only: no repo write scope
    response = client.get("/accounts/github/login/callback/", {"code": "code-1", "state": query["state"][0]})

    assert response.status_code == 302
    integration = Integration.objects.get(user=user, provider="github")
    assert integration.account_label == "ivan"
    token_row = IntegrationToken.objects.get(integration=integration)
    plaintext = next(iter(github.tokens))
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token_encrypted FROM integrations_integrationtoken WHERE id = %s", [token_row.pk])
        raw = cursor.fetchone()[0]
    assert plaintext not in raw
    assert crypto.decrypt(raw) == plaintext
    assert SocialToken.objects.get(account__user=user).token == ""
    assert github.calls_to("/login/oauth/access_token")[0].form["code"] == "code-1"


def test_wrong_state_is_rejected_and_nothing_is_stored(client, user, providers):
    _, github = providers
    github.add_user("ivan", email="ivan-gh@example.com")
    github.authorize("code-2", "ivan")
    client.force_login(user)
    _start(client, "github", process="connect")

    response = client.get("/accounts/github/login/callback/", {"code": "code-2", "state": "forged-state"})

    assert response.status_code == 401
    assert not Integration.objects.filter(user=user).exists()
    assert github.calls_to("/login/oauth/access_token") == []


def test_google_sign_in_creates_the_user_and_asks_for_identity_only(client, providers):
    google, _ = providers
    google.authorize("g-code", email="new.person@example.com", sub="777")

    query = _start(client, "google")
    assert query["_url"][0].startswith(f"{google.url}/auth")
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert "access_type" not in query
    response = client.get("/accounts/google/login/callback/", {"code": "g-code", "state": query["state"][0]})

    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert SocialAccount.objects.get(user=user).uid == "777"
    # Signing in never switches Gmail/Calendar sync on, and keeps no provider token.
    assert not Integration.objects.filter(user=user).exists()
    assert not IntegrationToken.objects.exists()
    assert SocialToken.objects.get(account__user=user).token == ""


def test_google_sign_in_leaves_a_connected_integrations_tokens_alone(client, user, providers):
    google, _ = providers
    google.authorize("g-connect", email=user.email, sub="888")
    client.force_login(user)
    query = _start(client, "google", process="connect")
    client.get("/accounts/google/login/callback/", {"code": "g-connect", "state": query["state"][0]})
    stored = IntegrationToken.objects.get(integration__user=user).access_token_encrypted
    client.logout()

    google.authorize("g-signin", email=user.email, sub="888")
    query = _start(client, "google")
    assert (
        client.get("/accounts/google/login/callback/", {"code": "g-signin", "state": query["state"][0]}).status_code
        == 302
    )

    assert IntegrationToken.objects.get(integration__user=user).access_token_encrypted == stored


def test_google_connect_asks_for_gmail_and_calendar_with_offline_access(client, user, providers, caplog):
    google, _ = providers
    google.authorize("g-code", email=user.email, sub="777")
    caplog.set_level(logging.DEBUG)
    client.force_login(user)

    query = _start(client, "google", process="connect")
    assert {
        "openid",
        "email",
        "profile",
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/calendar.readonly",
    } == set(query["scope"][0].split())
    assert query["access_type"] == ["offline"]
    response = client.get("/accounts/google/login/callback/", {"code": "g-code", "state": query["state"][0]})

    assert response.status_code == 302
    integration = Integration.objects.get(user=user, provider="google")
    token = IntegrationToken.objects.get(integration=integration)
    assert crypto.decrypt(token.refresh_token_encrypted).startswith("g-refresh-")
    assert token.expires_at is not None
    assert integration.kinds == {"gmail": True, "calendar": True}
    token_call = google.calls_to("/token")[0]
    assert token_call.form["grant_type"] == "authorization_code"
    assert "code_verifier" in token_call.form  # PKCE
    secrets = [*google.access_tokens, *google.refresh_tokens]
    assert caplog.records and not any(secret in caplog.text for secret in secrets)


def test_api_registration_leaves_the_email_unverified(api_client):
    from allauth.account.models import EmailAddress

    body = {"email": "someone@example.com", "password": "correct-horse-battery-staple-42"}
    assert api_client.post("/api/auth/register/", body, format="json").status_code == 201
    assert EmailAddress.objects.get(email="someone@example.com").verified is False


def test_google_sign_in_never_lands_in_an_account_registered_with_an_unverified_email(api_client, client, providers):
    """Pre-hijack: an attacker registers the victim's address through the API (nobody verified it);
    the victim's "Sign in with Google" must not log the victim into the attacker's account."""
    google, _ = providers
    body = {"email": "victim@example.com", "password": "attackers-password-123"}
    assert api_client.post("/api/auth/register/", body, format="json").status_code == 201
    attacker_account = User.objects.get(email="victim@example.com")
    google.authorize("victim-code", email="victim@example.com", sub="4242")

    query = _start(client, "google")
    client.get("/accounts/google/login/callback/", {"code": "victim-code", "state": query["state"][0]})

    assert not SocialAccount.objects.filter(user=attacker_account).exists()
    assert client.get("/api/me/").status_code in (401, 403)  # not signed in to the attacker's account
    assert not Integration.objects.filter(user=attacker_account).exists()


def test_google_sign_in_reaches_an_account_whose_email_is_verified(client, user, providers):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    google, _ = providers
    google.authorize("owner-code", email=user.email, sub="5151")

    query = _start(client, "google")
    client.get("/accounts/google/login/callback/", {"code": "owner-code", "state": query["state"][0]})

    assert client.get("/api/me/").json()["id"] == user.pk
    assert SocialAccount.objects.get(user=user).uid == "5151"


@pytest.mark.parametrize("provider", ["google", "github"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_provider_without_credentials_is_404_not_500(client, provider, method):
    """Found by the authorization matrix: with no client id/secret configured, allauth raised
    SocialApp.DoesNotExist from the log-in and callback URLs."""
    for path in (f"/accounts/{provider}/login/", f"/accounts/{provider}/login/callback/?code=x&state=y"):
        assert getattr(client, method)(path).status_code == 404
