"""Fixtures for the integrations tests: the loopback fakes and settings pointing at them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import services
from integrations.models import Integration, Provider
from tests.fakes.github import FakeGitHub
from tests.fakes.google import FakeGoogle


@pytest.fixture
def fake_google():
    server = FakeGoogle().start()
    yield server
    server.stop()


@pytest.fixture
def fake_github():
    server = FakeGitHub().start()
    yield server
    server.stop()


@pytest.fixture
def providers(settings, fake_google, fake_github):
    """allauth apps configured from settings (as in production) and every URL at the fakes."""
    conf = {key: dict(value) for key, value in settings.SOCIALACCOUNT_PROVIDERS.items()}
    conf["google"]["APPS"] = [{"client_id": fake_google.client_id, "secret": fake_google.client_secret, "key": ""}]
    conf["github"]["APPS"] = [{"client_id": fake_github.client_id, "secret": fake_github.client_secret, "key": ""}]
    settings.SOCIALACCOUNT_PROVIDERS = conf
    settings.GOOGLE_OAUTH_AUTHORIZE_URL = f"{fake_google.url}/auth"
    settings.GOOGLE_OAUTH_TOKEN_URL = f"{fake_google.url}/token"
    settings.GOOGLE_OAUTH_REVOKE_URL = f"{fake_google.url}/revoke"
    settings.GOOGLE_API_BASE_URL = fake_google.url
    settings.GITHUB_API_BASE_URL = fake_github.url
    settings.GITHUB_OAUTH_BASE_URL = fake_github.url
    settings.INTEGRATIONS_BACKOFF_BASE_S = 0.01
    settings.INTEGRATIONS_RATE_LIMIT_MAX_WAIT_S = 5.0
    settings.INTEGRATIONS_SYNC_JITTER_S = 0
    return fake_google, fake_github


def connect_google(user, fake_google: FakeGoogle, *, expires_in: int = 3600) -> Integration:
    access, refresh = fake_google.issue_tokens()
    return services.integration_tokens_store(
        user=user,
        provider=Provider.GOOGLE,
        access_token=access,
        refresh_token=refresh,
        expires_at=timezone.now() + timedelta(seconds=expires_in),
    )


def connect_github(user, fake_github: FakeGitHub, login: str = "ivan") -> Integration:
    if login not in fake_github.users:
        fake_github.add_user(login, email=user.email)
    return services.integration_tokens_store(
        user=user, provider=Provider.GITHUB, access_token=fake_github.give_token(login)
    )


@pytest.fixture
def freezer_now(monkeypatch):
    """Pin integrations' idea of 'now' to the insight fixtures' NOW (no time-machine dependency)."""
    from tests.integrations.test_insights import NOW

    monkeypatch.setattr("integrations.insights.current_time", lambda: NOW)
    return NOW
