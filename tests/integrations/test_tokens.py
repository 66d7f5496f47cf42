"""Tokens: encrypted at rest (raw column), key rotation, refresh before expiry and on 401,
revoked refresh → "reconnect needed" without touching the other integration.
"""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from integrations import crypto
from integrations.models import Integration, IntegrationToken, SyncRun
from integrations.sync import integration_sync
from tests.integrations.conftest import connect_github, connect_google

pytestmark = pytest.mark.django_db


def _raw_columns(integration_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token_encrypted, refresh_token_encrypted FROM integrations_integrationtoken WHERE integration_id = %s",
            [integration_id],
        )
        return cursor.fetchone()


def test_tokens_are_encrypted_in_the_database(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    access, refresh = next(iter(google.access_tokens)), next(iter(google.refresh_tokens))

    raw_access, raw_refresh = _raw_columns(integration.pk)

    assert access not in raw_access and refresh not in raw_refresh
    assert raw_access.startswith("gAAAA")  # a Fernet token
    assert crypto.decrypt(raw_access) == access
    assert "g-access" not in repr(IntegrationToken.objects.get()) + str(IntegrationToken.objects.get())


def test_key_rotation_reencrypts_and_the_old_key_can_then_go(user, providers, settings):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = old_key
    integration = connect_google(user, providers[0])
    access = next(iter(providers[0].access_tokens))
    before, _ = _raw_columns(integration.pk)

    settings.FIELD_ENCRYPTION_KEY = f"{new_key},{old_key}"  # prepend the new key
    assert crypto.decrypt(before) == access  # still readable during the rotation
    call_command("reencrypt_integration_tokens")
    after, _ = _raw_columns(integration.pk)

    settings.FIELD_ENCRYPTION_KEY = new_key  # the old key is gone
    assert after != before
    assert crypto.decrypt(after) == access
    with pytest.raises(crypto.TokenDecryptionError):
        crypto.decrypt(before)


def test_token_close_to_expiry_is_refreshed_before_the_sync(user, providers):
    google, _ = providers
    integration = connect_google(user, google, expires_in=60)

    run = integration_sync(integration_id=integration.pk)

    assert run.status == "ok"
    token_calls = google.calls_to("/token")
    assert len(token_calls) == 1 and token_calls[0].form["grant_type"] == "refresh_token"
    assert google.calls.index(token_calls[0]) == 0  # before any API call
    integration.refresh_from_db()
    assert (integration.refresh_attempts, integration.refresh_successes) == (1, 1)
    assert IntegrationToken.objects.get().expires_at > run.started_at


def test_expired_access_token_401_is_refreshed_and_the_call_retried(user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    google.expire_access_tokens()  # Google says 401 although our clock thinks it is valid

    run = integration_sync(integration_id=integration.pk)

    assert run.status == "ok"
    assert len(google.calls_to("/token")) == 1
    integration.refresh_from_db()
    assert integration.refresh_successes == 1


def test_revoked_refresh_marks_reconnect_needed_and_leaves_github_alone(user, providers, caplog):
    google, github = providers
    google_integration = connect_google(user, google, expires_in=10)
    github_integration = connect_github(user, github)
    google.revoke_refresh_tokens()
    refresh = next(iter(google.refresh_tokens))

    with caplog.at_level(logging.DEBUG):
        google_run = integration_sync(integration_id=google_integration.pk)
        github_run = integration_sync(integration_id=github_integration.pk)

    google_integration.refresh_from_db()
    assert google_integration.status == "reconnect_needed"
    assert google_run.status == "failed" and google_run.errors[0]["code"] == "reconnect_needed"
    assert (google_integration.refresh_attempts, google_integration.refresh_successes) == (1, 0)
    assert github_run.status == "ok"
    assert Integration.objects.get(pk=github_integration.pk).status == "active"
    assert refresh not in caplog.text and refresh not in str(SyncRun.objects.values())
    # the next beat skips it instead of failing again
    assert integration_sync(integration_id=google_integration.pk) is None


def test_reconnect_needed_is_shown_and_cleared_by_connecting_again(auth_client, user, providers):
    google, _ = providers
    integration = connect_google(user, google, expires_in=10)
    google.revoke_refresh_tokens()
    integration_sync(integration_id=integration.pk)

    listed = {i["provider"]: i for i in auth_client.get("/api/integrations/").json()}
    assert listed["google"]["reconnect_needed"] is True
    assert listed["google"]["status"] == "reconnect_needed"
    assert auth_client.post("/api/integrations/google/sync/").json()["code"] == "reconnect_needed"

    connect_google(user, google)

    listed = {i["provider"]: i for i in auth_client.get("/api/integrations/").json()}
    assert listed["google"]["status"] == "active"


def test_health_reports_the_refresh_success_rate_without_user_data(api_client, user, providers):
    google, _ = providers
    connect_google(user, google, expires_in=10)
    integration_sync(integration_id=Integration.objects.get().pk)

    body = api_client.get("/api/integrations/health").json()

    assert body["token_refresh"] == {"attempts": 1, "successes": 1, "rate": 1.0}
    assert user.email not in str(body)


def test_github_token_revoked_at_github_means_reconnect_needed(user, providers):
    _, github = providers
    integration = connect_github(user, github)
    github.revoked |= set(github.tokens)

    run = integration_sync(integration_id=integration.pk)

    assert run.status == "failed"
    integration.refresh_from_db()
    assert integration.status == "reconnect_needed"
    assert "401" in integration.status_detail
