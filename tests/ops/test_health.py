"""Readiness includes the worker's and beat's heartbeats: absent or stale means down (degraded
overall, since they are optional), fresh means ok."""

from __future__ import annotations

import pytest

from tests.ops.conftest import beat

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_worker_or_beat_ever_seen_is_reported_down_with_the_reason(client):
    body = client.get("/health/ready/").json()

    assert body["checks"]["worker"]["status"] == "down"
    assert body["checks"]["worker"]["error"] == "no worker process has ever reported a heartbeat"
    assert body["checks"]["beat"]["status"] == "down"
    assert body["checks"]["worker"]["required"] is False
    assert body["status"] == "degraded"


def test_fresh_heartbeats_make_worker_and_beat_ok(client):
    beat("worker", age_s=5)
    beat("beat", age_s=5)

    body = client.get("/health/ready/").json()

    assert body["checks"]["worker"]["status"] == "ok"
    assert body["checks"]["worker"]["alive"] == 1
    assert body["checks"]["beat"]["status"] == "ok"


def test_a_stale_worker_heartbeat_is_down(client, settings):
    settings.OPS_HEARTBEAT_STALE_S = 60
    beat("worker", age_s=300)
    beat("beat", age_s=1)

    body = client.get("/health/ready/").json()

    assert body["checks"]["worker"]["status"] == "down"
    assert body["checks"]["worker"]["error"].startswith("no worker heartbeat for 30")
    assert body["checks"]["beat"]["status"] == "ok"


def test_heartbeat_rows_of_long_dead_processes_are_pruned():
    from ops.models import ProcessHeartbeat

    beat("worker", age_s=3 * 86400)
    beat("web", age_s=1)

    assert list(ProcessHeartbeat.objects.values_list("role", flat=True)) == ["web"]
