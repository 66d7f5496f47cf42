"""Celery side: the beat schedule from the data migration, per-user tasks, retries, limits."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from digitalme.celery import app
from integrations.errors import TransientSyncError
from integrations.models import GitHubRepository, SyncRun
from integrations.tasks import sync_all, sync_integration
from tests.factories import UserFactory
from tests.integrations.conftest import connect_github


@pytest.mark.django_db
def test_beat_schedule_exists_after_migrate_every_30_minutes():
    # Run the data migration again from scratch (other tests' flushes may have emptied the table).
    call_command("migrate", "integrations", "0001", verbosity=0)
    assert not PeriodicTask.objects.filter(task="integrations.sync_all").exists()
    call_command("migrate", "integrations", verbosity=0)

    task = PeriodicTask.objects.get(task="integrations.sync_all")

    assert task.enabled
    assert (task.interval.every, task.interval.period) == (30, "minutes")
    assert "integrations.sync_all" in app.tasks


def test_sync_task_time_limits_and_retries_are_really_set():
    task = app.tasks["integrations.sync_integration"]

    assert (task.time_limit, task.soft_time_limit) == (300, 270)
    assert task.max_retries == 5
    assert task.retry_backoff and task.retry_jitter
    assert app.tasks["integrations.sync_all"].time_limit == 120


@pytest.mark.django_db
def test_one_failing_user_never_stops_the_others(providers, celery_eager):
    _, github = providers
    failing, healthy = UserFactory(), UserFactory()
    connect_github(failing, github, login="alice")
    connect_github(healthy, github, login="bob")
    github.add_repo("alice", "alice/repo")
    github.add_repo("bob", "bob/repo")
    github.script("/users/alice/events", 500, {"message": "boom"}, times=1000)

    queued = sync_all()

    assert queued == 1  # alice's task raised after its retries; bob's was still queued and ran
    assert GitHubRepository.objects.filter(user=healthy).count() == 1
    assert SyncRun.objects.filter(integration__user=healthy, status="ok").count() == 1
    failed = SyncRun.objects.get(integration__user=failing)  # eager mode schedules, not runs, retries
    assert failed.status == "failed"
    assert failed.errors[0]["code"] == "provider_unavailable"


@pytest.mark.django_db
def test_rate_limited_task_is_retried_at_the_time_the_provider_named(providers, celery_eager, user):
    _, github = providers
    integration = connect_github(user, github)
    github.script("/users/ivan/events", 429, {"message": "slow down"}, {"Retry-After": "900"})

    with pytest.raises(Retry) as caught:
        sync_integration.delay(integration.pk)

    assert 900 <= caught.value.when <= 905
    assert len(github.calls_to("/users/ivan/events")) == 1
    assert SyncRun.objects.get().status == "rate_limited"


@pytest.mark.django_db
def test_transient_failure_is_retried_with_backoff(providers, celery_eager, user, settings):
    _, github = providers
    settings.INTEGRATIONS_MAX_HTTP_ATTEMPTS = 1
    integration = connect_github(user, github)
    github.script("/users/ivan/events", 503, {"message": "unavailable"})

    with pytest.raises(Retry) as caught:
        sync_integration.delay(integration.pk)

    assert isinstance(caught.value.exc, TransientSyncError)
