"""The integrations API as the /integrations/ page and scripts use it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import CalendarEvent, GmailMessage, Integration, IntegrationToken, SyncRun
from tests.factories import UserFactory
from tests.integrations.conftest import connect_github, connect_google

pytestmark = pytest.mark.django_db


def test_list_shows_both_providers_even_when_nothing_is_connected(auth_client, providers):
    response = auth_client.get("/api/integrations/")

    assert response.status_code == 200
    by_provider = {item["provider"]: item for item in response.json()}
    assert set(by_provider) == {"google", "github"}
    assert by_provider["google"]["connected"] is False
    assert by_provider["google"]["status"] == "not_connected"
    assert by_provider["google"]["configured"] is True
    assert by_provider["github"]["urls"]["connect"] == "/accounts/github/login/?process=connect&next=%2Fintegrations%2F"


def test_list_works_on_a_server_without_oauth_apps(auth_client):
    """No Google/GitHub client configured (a fresh `make run`): the page still lists both, as not
    configured — the adapter's 404 for unconfigured log-in URLs must not leak into the list."""
    response = auth_client.get("/api/integrations/")

    assert response.status_code == 200
    assert {item["provider"]: item["configured"] for item in response.json()} == {"google": False, "github": False}


def test_list_never_contains_a_token(auth_client, user, providers):
    google, github = providers
    connect_google(user, google)
    connect_github(user, github)
    raw_tokens = [*google.access_tokens, *google.refresh_tokens, *github.tokens]
    ciphertexts = [t.access_token_encrypted for t in IntegrationToken.objects.all()]

    body = auth_client.get("/api/integrations/").content.decode()

    assert all(token not in body for token in raw_tokens + ciphertexts)
    assert '"connected":true' in body.replace(" ", "")


def test_switching_a_kind_off_deletes_its_data_and_keeps_the_other(auth_client, user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    GmailMessage.objects.create(user=user, integration=integration, message_id="m1", subject="hello")
    now = timezone.now()
    CalendarEvent.objects.create(
        user=user, integration=integration, event_id="e1", starts_at=now, ends_at=now + timedelta(hours=1)
    )

    response = auth_client.patch("/api/integrations/google/", {"kinds": {"gmail": False}}, format="json")

    assert response.status_code == 200
    assert response.json()["kinds"] == {"gmail": False, "calendar": True}
    assert response.json()["items_by_kind"] == {"gmail": 0, "calendar": 1}
    assert not GmailMessage.objects.filter(user=user).exists()
    assert CalendarEvent.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kinds": {"github": False}}, "kinds"),
        ({"kinds": {"gmail": "maybe"}}, "kinds"),
        ({"enabled": "x"}, "enabled"),
        ({"token": "x"}, "token"),
    ],
)
def test_bad_update_is_a_400_naming_the_field(auth_client, user, providers, body, field):
    connect_google(user, providers[0])

    response = auth_client.patch("/api/integrations/google/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_unknown_provider_is_404_and_unconnected_is_409(auth_client, providers):
    assert auth_client.patch("/api/integrations/myspace/", {"enabled": False}, format="json").status_code == 404
    response = auth_client.post("/api/integrations/github/sync/")
    assert response.status_code == 409
    assert response.json()["code"] == "not_connected"


def test_sync_now_is_accepted_and_runs(auth_client, user, providers, celery_eager):
    _, github = providers
    connect_github(user, github)
    github.add_repo("ivan", "ivan/digitalme")

    response = auth_client.post("/api/integrations/github/sync/")

    assert response.status_code == 202
    run = SyncRun.objects.get(integration__user=user)
    assert run.status == "ok"
    assert run.trigger == "manual"
    listed = auth_client.get("/api/integrations/").json()
    github_state = next(i for i in listed if i["provider"] == "github")
    assert github_state["items"] == 1
    assert github_state["last_sync"] is not None


def test_disconnect_revokes_at_the_provider_and_deletes_everything(auth_client, user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    refresh = next(iter(google.refresh_tokens))
    GmailMessage.objects.create(user=user, integration=integration, message_id="m1", subject="hello")

    response = auth_client.post("/api/integrations/google/disconnect/")

    assert response.status_code == 200
    assert response.json() == {"provider": "google", "revoked": True}
    assert refresh in google.revoked
    assert not Integration.objects.filter(user=user).exists()
    assert not IntegrationToken.objects.exists()
    assert not GmailMessage.objects.exists()


def test_github_disconnect_deletes_the_grant(auth_client, user, providers):
    _, github = providers
    connect_github(user, github)
    token = next(iter(github.tokens))

    assert auth_client.post("/api/integrations/github/disconnect/").json()["revoked"] is True
    assert token in github.revoked


def test_delete_on_the_integration_disconnects_too(auth_client, user, providers):
    _, github = providers
    connect_github(user, github)

    response = auth_client.delete("/api/integrations/github/")

    assert response.status_code == 200 and response.json()["revoked"] is True
    assert not Integration.objects.filter(user=user).exists()
    assert auth_client.delete("/api/integrations/github/").status_code == 409


def test_other_users_data_is_never_listed(providers):
    google, _ = providers
    owner, other = UserFactory(), UserFactory()
    integration = connect_google(owner, google)
    GmailMessage.objects.create(user=owner, integration=integration, message_id="m1", subject="private subject")
    client = APIClient()
    client.force_authenticate(other)

    listed = client.get("/api/integrations/").json()

    assert all(item["connected"] is False for item in listed)
    assert client.post("/api/integrations/google/disconnect/").status_code == 409
    assert Integration.objects.filter(user=owner).exists()


def test_anonymous_is_401_but_health_is_public(api_client, providers):
    assert api_client.get("/api/integrations/").status_code == 401
    response = api_client.get("/api/integrations/health")
    assert response.status_code == 200
    assert set(response.json()["providers"]) == {"google", "github"}


def test_health_turns_down_when_every_recent_run_failed(api_client, user, providers):
    integration = connect_github(user, providers[1])
    for _ in range(3):
        SyncRun.objects.create(integration=integration, provider="github", status="failed", finished_at=timezone.now())
    SyncRun.objects.create(integration=integration, provider="google", status="ok", finished_at=timezone.now())

    body = api_client.get("/api/integrations/health").json()

    assert body["providers"]["github"]["status"] == "down"
    assert body["providers"]["google"]["status"] == "healthy"
    assert user.email not in str(body)


def test_load_test_is_staff_only_and_reports_percentiles(auth_client, staff_client, staff_user, providers):
    _, github = providers
    connect_github(staff_user, github, login="staffer")
    github.add_repo("staffer", "staffer/repo")

    assert auth_client.post("/api/integrations/load-test", {"concurrency": 2}, format="json").status_code == 403
    response = staff_client.post(
        "/api/integrations/load-test", {"provider": "github", "concurrency": 4, "rounds": 2}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body["syncs"] == 8
    assert body["errors"] == {}
    assert body["latency_ms"]["p95"] >= body["latency_ms"]["p50"] > 0
    assert len(github.calls_to("/user/repos")) == 8


def test_load_test_counts_errors(staff_client, providers):
    response = staff_client.post("/api/integrations/load-test", {"provider": "google", "concurrency": 2}, format="json")

    assert response.json()["errors"] == {"reconnect_needed": 2}  # the fake rejects the dummy token: 401


def test_load_test_rejects_bad_input(staff_client, providers):
    response = staff_client.post("/api/integrations/load-test", {"concurrency": 1000}, format="json")
    assert response.status_code == 400
    assert "concurrency" in response.json()["fields"]


def test_database_test_is_staff_only(auth_client, staff_client):
    assert auth_client.post("/api/performance/database-test", {}, format="json").status_code == 403
    response = staff_client.post("/api/performance/database-test", {"iterations": 5}, format="json")
    assert response.status_code == 200
    assert response.json()["queries"]["select_1"]["p50"] > 0


def test_export_has_synced_data_and_no_tokens(auth_client, user, providers):
    google, _ = providers
    integration = connect_google(user, google)
    GmailMessage.objects.create(user=user, integration=integration, message_id="m1", subject="Quarterly plan")

    body = auth_client.get("/api/me/export/").json()

    exported = body["integrations"]["integrations"][0]
    assert exported["provider"] == "google"
    assert exported["gmailmessage"][0]["subject"] == "Quarterly plan"
    assert not any(token in str(body) for token in google.access_tokens)


def test_deleting_the_account_revokes_and_deletes(auth_client, user, providers):
    google, _ = providers
    connect_google(user, google)
    refresh = next(iter(google.refresh_tokens))

    response = auth_client.delete("/api/me/", {"password": "correct-horse-battery-staple-42"}, format="json")

    assert response.status_code == 204
    assert refresh in google.revoked
    assert not Integration.objects.exists()


def test_list_costs_a_fixed_number_of_queries(auth_client, user, providers, django_assert_max_num_queries):
    google, github = providers
    integration = connect_google(user, google)
    connect_github(user, github)
    now = timezone.now()
    for n in range(20):
        GmailMessage.objects.create(user=user, integration=integration, message_id=f"m{n}")
        CalendarEvent.objects.create(user=user, integration=integration, event_id=f"e{n}", starts_at=now, ends_at=now)

    with django_assert_max_num_queries(4):
        body = auth_client.get("/api/integrations/").json()

    assert next(i for i in body if i["provider"] == "google")["items_by_kind"] == {"gmail": 20, "calendar": 20}


def test_readiness_reports_the_integrations_check_as_optional(client, providers):
    body = client.get("/health/ready/").json()

    assert body["checks"]["integrations"]["required"] is False
    assert body["checks"]["integrations"]["providers"] == {"google": "healthy", "github": "healthy"}


def test_admin_list_shows_the_integration_but_no_token(client, providers):
    google, _ = providers
    admin = UserFactory(is_staff=True, is_superuser=True)
    connect_google(admin, google)
    client.force_login(admin)

    page = client.get("/admin/integrations/integration/").content.decode()
    change = client.get(f"/admin/integrations/integration/{Integration.objects.get().pk}/change/").content.decode()

    assert "google" in page.lower()
    ciphertext = IntegrationToken.objects.get().access_token_encrypted
    for text in (page, change):
        assert not any(token in text for token in google.access_tokens) and ciphertext not in text
    assert client.get("/admin/integrations/integrationtoken/").status_code == 404


@pytest.fixture
def broker_down():
    """Point the Celery app at a closed port for one test, then restore its pools."""
    import socket

    from digitalme.celery import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    original = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port}/0"
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app.conf.broker_url = original
    app._pool = None
    app.amqp._producer_pool = None


def test_sync_now_with_the_broker_down_is_503_not_500(auth_client, user, providers, broker_down):
    _, github = providers
    connect_github(user, github)

    response = auth_client.post("/api/integrations/github/sync/")

    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"
    assert not SyncRun.objects.filter(integration__user=user).exists()
