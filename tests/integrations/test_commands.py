"""manage.py sync_integrations / worker_status / reencrypt_integration_tokens."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from integrations.models import GitHubRepository, SyncRun
from tests.factories import UserFactory
from tests.integrations.conftest import connect_github, connect_google

pytestmark = pytest.mark.django_db


def test_sync_integrations_for_one_user_and_provider_with_progress(providers):
    google, github = providers
    ann, bob = UserFactory(email="ann@example.com"), UserFactory(email="bob@example.com")
    connect_github(ann, github, login="ann")
    connect_google(ann, google)
    connect_github(bob, github, login="bob")
    github.add_repo("ann", "ann/site")
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_integrations", "--user", "ANN@example.com", "--provider", "github", stdout=out, stderr=err)

    assert "ann@example.com github: ok" in out.getvalue()
    assert "done: 1 ok, 0 failed, 0 skipped" in out.getvalue()
    assert "syncing: 100%" in err.getvalue()  # the progress bar
    assert GitHubRepository.objects.filter(user=ann).count() == 1
    assert SyncRun.objects.count() == 1


def test_sync_integrations_reports_failures_and_goes_on(providers):
    _, github = providers
    ann, bob = UserFactory(), UserFactory()
    connect_github(ann, github, login="ann")
    connect_github(bob, github, login="bob")
    github.script("/users/ann/events", 500, {"message": "boom"}, times=100)
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_integrations", stdout=out, stderr=err)

    assert "provider_unavailable" in err.getvalue()
    assert "done: 1 ok, 1 failed, 0 skipped" in out.getvalue()


def test_sync_integrations_unknown_user_is_a_clear_error(providers):
    with pytest.raises(CommandError, match=r"nobody@example\.com"):
        call_command("sync_integrations", "--user", "nobody@example.com")


def test_worker_status_shows_workers_queues_and_the_beat_schedule():
    out = io.StringIO()

    call_command("worker_status", "--timeout", "0.5", stdout=out)

    text = out.getvalue()
    assert "workers (0 answered within 0.5s)" in text
    assert "queues:" in text and "celery:" in text
    assert "beat schedule:" in text
