"""/api/integrations/health never calls silence healthy: no sync ever, no success in 2 sync
intervals, or a dead worker/beat make a provider degraded or down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import Integration, SyncRun
from tests.factories import UserFactory
from tests.integrations.conftest import connect_github
from tests.ops.conftest import beat

pytestmark = pytest.mark.django_db


def _github(api_client) -> dict:
    return api_client.get("/api/integrations/health").json()["providers"]["github"]


def _succeeded(integration: Integration, *, minutes_ago: float) -> None:
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    SyncRun.objects.create(
        integration=integration, provider="github", status="ok", started_at=finished, finished_at=finished
    )
    Integration.objects.filter(pk=integration.pk).update(last_success_at=finished)


def test_a_connected_integration_that_never_synced_is_not_healthy(api_client, providers, pipeline_alive):
    connect_github(UserFactory(), providers[1])

    github = _github(api_client)

    assert github["status"] == "degraded"
    assert github["never_synced"] == 1
    assert "1 integration(s) never synced" in github["problems"]


def test_never_synced_for_two_intervals_is_down(api_client, providers, pipeline_alive):
    integration = connect_github(UserFactory(), providers[1])
    Integration.objects.filter(pk=integration.pk).update(created_at=timezone.now() - timedelta(minutes=61))

    github = _github(api_client)

    assert github["status"] == "down"
    assert "no successful sync in 2 intervals (60 min)" in github["problems"]


def test_last_success_older_than_two_intervals_is_down(api_client, providers, pipeline_alive):
    integration = connect_github(UserFactory(), providers[1])
    _succeeded(integration, minutes_ago=61)

    body = api_client.get("/api/integrations/health").json()

    assert body["providers"]["github"]["status"] == "down"
    assert body["providers"]["github"]["stale_integrations"] == 1
    assert body["status"] == "degraded"  # google has nothing connected: idle, healthy


def test_a_recent_success_with_a_live_pipeline_is_healthy(api_client, providers, pipeline_alive):
    integration = connect_github(UserFactory(), providers[1])
    _succeeded(integration, minutes_ago=20)

    github = _github(api_client)

    assert github["status"] == "healthy"
    assert github["problems"] == []
    assert github["last_success_at"] is not None


def test_a_dead_worker_makes_a_fresh_provider_down(api_client, providers, settings):
    settings.OPS_HEARTBEAT_STALE_S = 60
    integration = connect_github(UserFactory(), providers[1])
    _succeeded(integration, minutes_ago=5)
    beat("worker", age_s=600)
    beat("beat", age_s=1)

    github = _github(api_client)

    assert github["status"] == "down"
    assert any(problem.startswith("no worker heartbeat for") for problem in github["problems"])


def test_two_intervals_follow_the_beat_schedule(api_client, providers, pipeline_alive):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    task = PeriodicTask.objects.get(task="integrations.sync_all")
    task.interval = IntervalSchedule.objects.create(every=10, period="minutes")
    task.save()
    integration = connect_github(UserFactory(), providers[1])
    _succeeded(integration, minutes_ago=25)

    github = _github(api_client)

    assert github["sync_interval_s"] == 600
    assert github["status"] == "down"


def test_nothing_connected_is_idle_and_healthy(api_client, providers):
    assert _github(api_client)["status"] == "healthy"
