"""A real Celery worker (in a thread, on the test Redis broker) runs a sync task and answers
worker_status's ping — the path beat takes in production, without eager mode.
"""

from __future__ import annotations

import io
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.management import call_command

from digitalme.celery import app
from integrations.models import GitHubRepository, SyncRun
from integrations.tasks import sync_integration
from tests.integrations.conftest import connect_github

TEST_QUEUE = "integrations-test"


@pytest.mark.django_db(transaction=True)
def test_real_worker_syncs_and_is_listed_by_worker_status(user, providers, settings, root_logging_kept):
    if not settings.REDIS_URL:
        pytest.skip("needs the Redis broker")
    _, github = providers
    integration = connect_github(user, github)
    github.add_repo("ivan", "ivan/digitalme")
    out = io.StringIO()

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[TEST_QUEUE], shutdown_timeout=10):
        call_command("worker_status", "--timeout", "2", stdout=out)
        sync_integration.apply_async(args=[integration.pk], kwargs={"trigger": "manual"}, queue=TEST_QUEUE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not SyncRun.objects.filter(status="ok").exists():
            time.sleep(0.2)

    assert "workers (1 answered within 2s)" in out.getvalue()
    assert f"queues={TEST_QUEUE}" in out.getvalue()
    assert SyncRun.objects.get().status == "ok"
    assert GitHubRepository.objects.filter(user=user).count() == 1
