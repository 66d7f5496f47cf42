"""Redis unreachable: rate limits fail open (a log line and a metric), log-in keeps working."""

from __future__ import annotations

import logging
import socket

import pytest
from django.core.cache import cache

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def cache_down(settings):
    """The cache points at a loopback port nobody listens on (the shared Redis is left alone)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "digitalme.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    yield


def _failures(operation: str) -> float:
    from digitalme.metrics import CACHE_FAILURES

    return CACHE_FAILURES.labels(operation=operation)._value.get()


def test_api_login_works_while_redis_is_down(api_client, user, cache_down, caplog):
    before = _failures("get")
    caplog.set_level(logging.WARNING, logger="digitalme.cache")
    response = api_client.post("/api/auth/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert "access" in response.json()
    assert _failures("get") > before
    assert any(record.getMessage() == "cache unavailable; failing open" for record in caplog.records)


def test_web_login_works_while_redis_is_down(client, user, cache_down):
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/me/").status_code == 200


def test_cache_operations_answer_as_a_miss(cache_down):
    assert cache.get("k", "default") == "default"
    assert cache.add("k", 1) is True
    assert cache.incr("k", 3) == 3
    cache.set("k", 1)
    assert cache.get_many(["k"]) == {}


def test_readiness_reports_the_cache_down(client, cache_down):
    body = client.get("/health/ready/").json()
    assert body["checks"]["cache"]["status"] != "ok"
